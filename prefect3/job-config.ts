// What every work-pool adapter reads the same way from a rendered job configuration: Prefect 3's
// defaults (the worker's command and image), null as "not set", and the base fields every block
// has (env, labels, name, command). One place, so six adapters do not each re-decide them.
// Facts: src/prefect/workers/base.py (BaseJobConfiguration, _base_flow_run_command) and
// src/prefect/utilities/dockerutils.py (get_prefect_image_name) at PrefectHQ/prefect ce79dd3.
import { InvalidInputError, type Problem } from '../core/errors.js';
import { formatPath, shownValue } from '../core/zod-problems.js';
import type { JobConfigurationContext } from './adapter.js';
import { shellWords } from './shell-words.js';

/** A Prefect 3 worker's command when the job configuration has none. */
export const PREFECT3_COMMAND = ['prefect', 'flow-run', 'execute'];
/**
 * A Prefect 3 worker's image when none is given. Prefect picks `prefecthq/prefect:<its own
 * version>-python<x.y>`; the submitter has no Python, so it takes the moving 3 tag.
 */
export const PREFECT3_IMAGE = 'prefecthq/prefect:3-latest';

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** One problem in a job configuration the adapter cannot express. */
export function refuse(path: string, message: string): InvalidInputError {
  return new InvalidInputError('Job configuration not supported', [{ path, message }]);
}

/** The context one level down (`<path>.<key>[index]…`). */
export function at(context: JobConfigurationContext, ...keys: (string | number)[]): JobConfigurationContext {
  return { ...context, path: formatPath(keys, context.path) };
}

/** The object at `key` (missing, null or "" → {}), or a refusal naming it. */
export function objectAt(
  parent: Record<string, unknown>,
  key: string,
  context: JobConfigurationContext,
): Record<string, unknown> {
  const value = given(parent, key);
  if (value === undefined) return {};
  if (!isRecord(value)) throw refuse(at(context, key).path, `expected an object; got ${shownValue(value)}`);
  return value;
}

/** The value, or undefined for a missing key, null, or "" (what a placeholder with no value leaves). */
export function given(config: Record<string, unknown>, key: string): unknown {
  if (!Object.hasOwn(config, key)) return undefined;
  const value = config[key];
  return value === null || value === '' ? undefined : value;
}

function withoutNulls(value: unknown): unknown {
  if (!isRecord(value)) return value;
  return Object.fromEntries(Object.entries(value).filter(([, item]) => item !== null));
}

/** Prefect 3's `command` is one string, split as a shell would; none → the worker's default. */
export function commandOf(config: Record<string, unknown>, context: JobConfigurationContext): string[] {
  const value = given(config, 'command');
  if (value === undefined) return [...PREFECT3_COMMAND];
  const path = `${context.path}.command`;
  if (Array.isArray(value) && value.every((item) => typeof item === 'string') && value.length > 0)
    return value;
  if (typeof value !== 'string') {
    throw new InvalidInputError('Invalid job configuration', [
      {
        path,
        message: `expected a command line as one string, e.g. "prefect flow-run execute"; got ${shownValue(value)}`,
      },
    ]);
  }
  const words = shellWords(value, path);
  if (words.length === 0) return [...PREFECT3_COMMAND];
  return words;
}

/**
 * The fields every block shares, read from the job configuration: `env` and `labels` (null values
 * dropped, as Prefect 3 drops them), `name`, `command`. A wrong shape is left for the block schema
 * to name.
 */
export function baseFieldsOf(
  config: Record<string, unknown>,
  context: JobConfigurationContext,
): Record<string, unknown> {
  const out: Record<string, unknown> = { command: commandOf(config, context) };
  for (const key of ['env', 'labels', 'name'] as const) {
    const value = given(config, key);
    // Prefect 3 drops null env values and labels before anything reads them
    // (BaseJobConfiguration.prepare_for_flow_run): a null is "not set", never "unset"
    if (value !== undefined) out[key] = key === 'name' ? value : withoutNulls(value);
  }
  return out;
}

/**
 * Fields of the job configuration this adapter does not translate: each is a problem that names
 * it and says what to do, so nothing a user set is silently dropped.
 */
export function refuseUnknown(
  config: Record<string, unknown>,
  known: readonly string[],
  context: JobConfigurationContext,
): void {
  const problems: Problem[] = [];
  for (const [key, value] of Object.entries(config)) {
    if (known.includes(key) || value === null || value === undefined) continue;
    if (isRecord(value) && Object.keys(value).length === 0) continue;
    problems.push({
      path: `${context.path}.${key}`,
      message: `this submitter does not act on '${key}' in a job configuration; remove it from the base job template (known: ${known.join(', ')})`,
    });
  }
  if (problems.length > 0) throw new InvalidInputError('Job configuration not supported', problems);
}
