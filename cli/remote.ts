// `submitter validate FILE --remote`: after the local checks, ask the provider itself whether
// it would accept the request, creating nothing. Only cloud-run-job has such a call
// (`jobs.create` with `validateOnly`); its SDK loads only here.
import { InvalidInputError } from '../core/errors.js';
import type { Block } from '../providers/blocks.js';
import type { Target } from '../providers/port.js';

export interface RemoteResult {
  ok: boolean;
  /** One line for people. */
  line: string;
}

export async function remoteValidate(target: Target<Block>): Promise<RemoteResult> {
  const { block } = target;
  if (block.type !== 'cloud-run-job') {
    throw new InvalidInputError('Usage', [
      {
        path: 'arguments',
        message: `--remote checks cloud-run-job blocks (Google's validateOnly); a ${block.type} block has no such check`,
      },
    ]);
  }
  const { validateCloudRunJob } = await import('../providers/cloud-run-job/index.js');
  const verdict = await validateCloudRunJob({ ...target, block });
  return verdict.ok
    ? { ok: true, line: `remote: Google accepts the job ${verdict.job} (validateOnly: nothing was created)` }
    : { ok: false, line: `remote: Google refuses the job: ${verdict.reason}` };
}
