// Prefect's checks on a block's base `job` (`ensure_job_includes_all_required_components`,
// `ensure_job_has_compatible_values`): the diff from the job to Prefect's bare-minimum
// manifest may only remove things. An `add` means the job lacks something the build
// patches into; a `replace` means it holds a value the submitter depends on.
import jsonpatch from 'fast-json-patch';
import type { Problem } from '../../core/errors.js';
import { baseJobManifest } from './block.js';

function describe(value: unknown): string {
  return typeof value === 'string' ? `'${value}'` : JSON.stringify(value);
}

export function baseJobProblems(job: Record<string, unknown>, path = 'infrastructure.job'): Problem[] {
  const diff = jsonpatch.compare(job, baseJobManifest());
  const missing = diff
    .filter((op) => op.op === 'add')
    .map((op) => op.path)
    .sort();
  const incompatible = diff
    .filter((op): op is jsonpatch.ReplaceOperation<unknown> => op.op === 'replace')
    .map((op) => `${op.path} must have value ${describe(op.value)}`)
    .sort();
  const problems: Problem[] = [];
  if (missing.length > 0) {
    problems.push({
      path,
      message:
        `is missing required attributes at ${missing.join(', ')}: start from Prefect's base Job ` +
        '(apiVersion batch/v1, kind Job, metadata.labels {}, spec.template.spec with parallelism 1, ' +
        "completions 1, restartPolicy Never and containers[0] {name: 'prefect-job', env: []}) and add to it",
    });
  }
  if (incompatible.length > 0) {
    problems.push({
      path,
      message: `has incompatible values: ${incompatible.join(', ')} (set them to these values; other changes belong in 'customizations')`,
    });
  }
  return problems;
}
