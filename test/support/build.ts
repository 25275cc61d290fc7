// Shared by the `build-<type>` tests: a target resolved the way Prepare resolves one
// (overrides applied, block validated), the problem assertion, and the real CLI's preview.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { InvalidInputError } from '../../core/errors.js';
import { parseFlowRunEvent } from '../../events/schema.js';
import type { BlockOf, BlockType } from '../../providers/blocks.js';
import type { Target } from '../../providers/port.js';
import { resolveTarget } from '../../providers/resolve.js';
import { ROOT } from '../helpers.js';

export const FLOW_RUN_ID = '0b3b3c3e-0000-4000-8000-00000000abcd';
export const OTHER_FLOW_RUN_ID = '0b3b3c3e-0000-4000-8000-00000000abce';

export interface TargetInput {
  flow_run?: Record<string, unknown>;
  infra_overrides?: Record<string, unknown>;
}

export async function targetOf<T extends BlockType>(
  type: T,
  fields: Record<string, unknown> = {},
  input: TargetInput = {},
): Promise<Target<BlockOf<T>>> {
  const event = parseFlowRunEvent({
    flow_run: { id: FLOW_RUN_ID, name: 'nightly-etl', ...input.flow_run },
    infrastructure: { type, ...fields },
    infra_overrides: input.infra_overrides ?? {},
  });
  const resolved = await resolveTarget(event, undefined);
  assert.equal(resolved.block.type, type);
  return { block: resolved.block as BlockOf<T>, flowRun: resolved.flowRun };
}

/** Asserts `fn` throws an InvalidInputError with a problem at `path` whose message matches. */
export function assertProblem(fn: () => unknown, path: string, message: RegExp): void {
  assert.throws(fn, (error: unknown) => {
    assert.ok(error instanceof InvalidInputError, `expected InvalidInputError, got ${String(error)}`);
    const hit = error.problems.find((p) => p.path === path);
    assert.ok(hit, `no problem at ${path}: ${JSON.stringify(error.problems)}`);
    assert.match(hit.message, message);
    return true;
  });
}

const run = promisify(execFile);

/** `node bin/submitter.js preview FILE`, as a user runs it. */
export async function previewCli(file: string): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(
      process.execPath,
      [join(ROOT, 'bin', 'submitter.js'), 'preview', file],
      {
        cwd: ROOT,
      },
    );
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}
