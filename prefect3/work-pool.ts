// Prefect 3 work pools as documents: what `prefect work-pool inspect` shows (`name`, `type`,
// `base_job_template`, and Prefect's own bookkeeping, accepted and not acted on), saved in the
// block store's location at `work-pools/<name>.json` (YAML accepted). A pool with no (or an
// empty) base job template uses its type's default, shipped as data from Prefect's sources.
import { stringify as toYaml } from 'yaml';
import * as z from 'zod';
import { InvalidInputError } from '../core/errors.js';
import { parseJsonText, parseYamlText } from '../core/input-guard.js';
import type { DocumentStore } from '../core/store.js';
import { closest, problemsFrom, shownValue } from '../core/zod-problems.js';
import { WORK_POOL_NAME, WORK_POOL_NAME_MESSAGE } from '../events/schema.js';
import additions from './templates/additions.json' with { type: 'json' };
import azureContainerInstance from './templates/azure-container-instance.json' with { type: 'json' };
import cloudRun from './templates/cloud-run.json' with { type: 'json' };
import cloudRunV2 from './templates/cloud-run-v2.json' with { type: 'json' };
import docker from './templates/docker.json' with { type: 'json' };
import ecs from './templates/ecs.json' with { type: 'json' };
import kubernetes from './templates/kubernetes.json' with { type: 'json' };
import processTemplate from './templates/process.json' with { type: 'json' };

/** Default base job templates by work-pool type (prefect3/templates/README.md says where from). */
const DEFAULT_TEMPLATES: Record<string, Record<string, unknown>> = {
  process: processTemplate,
  ecs,
  docker,
  kubernetes,
  'cloud-run': cloudRun,
  'cloud-run-v2': cloudRunV2,
  'azure-container-instance': azureContainerInstance,
};
export const WORK_POOL_TYPES = Object.keys(DEFAULT_TEMPLATES);

/**
 * The work-pool type the submitter runs it as: a push pool (`ecs:push`, `cloud-run-v2:push`) is
 * the same infrastructure without a worker, which is what the submitter is.
 */
export function poolTypeOf(type: string): string {
  return type.endsWith(':push') ? type.slice(0, -':push'.length) : type;
}

interface Addition {
  /** JSON pointer in the template → the placeholder the worker's template has there. */
  set: Record<string, unknown>;
  properties: Record<string, unknown>;
  definitions?: Record<string, unknown>;
}
const ADDITIONS: Record<string, Addition> = additions;

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * The variables the workers at the templates' Prefect revision have and the aggregated metadata
 * does not yet (templates/additions.json, from the worker classes; templates/README.md), added
 * where each worker's own default template has them.
 */
function withAdditions(
  template: Record<string, unknown>,
  addition: Addition | undefined,
): Record<string, unknown> {
  if (!addition) return template;
  for (const [pointer, value] of Object.entries(addition.set)) {
    const keys = pointer.split('/').slice(1);
    const last = keys.pop();
    let at: unknown = template;
    for (const key of keys) at = isRecord(at) ? at[key] : undefined;
    if (!isRecord(at) || last === undefined)
      throw new Error(`templates/additions.json: ${pointer} is not in the template`);
    at[last] = value;
  }
  const variables = isRecord(template.variables) ? template.variables : {};
  variables.properties = {
    ...(isRecord(variables.properties) ? variables.properties : {}),
    ...addition.properties,
  };
  if (addition.definitions) {
    variables.definitions = {
      ...(isRecord(variables.definitions) ? variables.definitions : {}),
      ...addition.definitions,
    };
  }
  return { ...template, variables };
}

export function defaultTemplate(type: string, path: string): Record<string, unknown> {
  const base = poolTypeOf(type);
  const template = Object.hasOwn(DEFAULT_TEMPLATES, base) ? DEFAULT_TEMPLATES[base] : undefined;
  if (template) return withAdditions(structuredClone(template), ADDITIONS[base]);
  const hint = closest(base, WORK_POOL_TYPES);
  throw new InvalidInputError('Unknown work-pool type', [
    {
      path: `${path}.type`,
      message: `${shownValue(type)} is not a work-pool type the submitter runs${hint ? `; did you mean '${hint}'?` : ''} (known: ${WORK_POOL_TYPES.join(', ')}, each also as '<type>:push')`,
    },
  ]);
}

/** Prefect's work-pool object; fields other than these three are Prefect's bookkeeping. */
export const WorkPoolSchema = z.looseObject({
  name: z.string().regex(WORK_POOL_NAME, { message: WORK_POOL_NAME_MESSAGE }).optional(),
  type: z.string({ message: "required: the work-pool type, e.g. 'ecs' or 'process'" }).min(1),
  base_job_template: z.record(z.string(), z.unknown()).nullable().optional(),
  is_paused: z.boolean().nullable().optional(),
});
export type WorkPool = z.infer<typeof WorkPoolSchema>;

/** The pool's base job template: its own, or its type's default when it has none. */
export function templateOf(pool: WorkPool, path: string): Record<string, unknown> {
  const own = pool.base_job_template;
  if (own && Object.keys(own).length > 0) return own;
  return defaultTemplate(pool.type, path);
}

export function parseWorkPool(doc: unknown, path: string): WorkPool {
  const result = WorkPoolSchema.safeParse(doc);
  if (!result.success) throw new InvalidInputError('Invalid work pool', problemsFrom(result.error, path));
  const pool = result.data;
  if (pool.is_paused === true) {
    throw new InvalidInputError('Work pool is paused', [
      {
        path: `${path}.is_paused`,
        message:
          'the work pool is paused, so no flow run starts on it (as in Prefect): set is_paused to false',
      },
    ]);
  }
  return pool;
}

const EXTENSIONS = ['json', 'yaml', 'yml'] as const;

export class WorkPoolNotFoundError extends InvalidInputError {}

function checkName(name: string): void {
  if (!WORK_POOL_NAME.test(name)) {
    throw new InvalidInputError('Invalid work-pool name', [
      { path: 'work_pool.name', message: `${shownValue(name)} ${WORK_POOL_NAME_MESSAGE}` },
    ]);
  }
}

/** Work pools beside the blocks, in the same document store. */
export class WorkPoolStore {
  constructor(readonly store: DocumentStore) {}

  /** The pool document by name, validated; its name is the file's. */
  async get(name: string): Promise<WorkPool> {
    checkName(name);
    for (const ext of EXTENSIONS) {
      const key = `work-pools/${name}.${ext}`;
      const body = await this.store.get(key);
      if (body === undefined) continue;
      const what = `Work pool '${name}' in ${this.store.location} is not a valid ${ext.toUpperCase()} document`;
      const doc = ext === 'json' ? parseJsonText(body, what, key) : parseYamlText(body, what, key);
      const pool = parseWorkPool(doc, key);
      if (pool.name !== undefined && pool.name !== name) {
        throw new InvalidInputError(`Work pool '${name}' has the wrong name`, [
          { path: `${key}.name`, message: `is ${shownValue(pool.name)} but the file is '${name}'` },
        ]);
      }
      return { ...pool, name };
    }
    throw new WorkPoolNotFoundError(`Work pool '${name}' not found`, [
      {
        path: `work_pool(${name})`,
        message: `no work pool '${name}' in ${this.store.location} (looked for work-pools/${name}.{json,yaml,yml}); save one with 'submitter work-pools put FILE --name ${name}' (a file {"type": "process"} uses the type's default template)`,
      },
    ]);
  }

  async put(name: string, doc: unknown, format: 'json' | 'yaml' = 'json'): Promise<string> {
    checkName(name);
    const pool = parseWorkPool(doc, 'work_pool');
    templateOf(pool, 'work_pool'); // an unknown type is refused before it is saved
    const key = `work-pools/${name}.${format}`;
    const saved = { ...pool, name };
    await this.store.put(key, format === 'json' ? `${JSON.stringify(saved, null, 2)}\n` : toYaml(saved));
    return key;
  }

  async list(): Promise<string[]> {
    const keys = await this.store.list('work-pools/');
    const names = keys
      .map((key) => /^work-pools\/([^/]+)\.(json|ya?ml)$/.exec(key))
      .filter((m): m is RegExpExecArray => m !== null)
      .map((m) => m[1] ?? '');
    return [...new Set(names)].sort();
  }
}
