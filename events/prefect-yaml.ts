// A Prefect 3 `prefect.yaml` (what `prefect init` writes and `prefect deploy` reads) → flow-run
// events on a work pool, one deployment at a time. Modelled on Prefect's own reading
// (src/prefect/cli/deploy/_config.py, _core.py; src/prefect/deployments/base.py):
// - YAML anchors/aliases are the YAML parser's; `<<:` merge keys (PyYAML applies them) are
//   applied here, explicit keys winning over merged ones, as in YAML 1.1.
// - `--deployment` takes `deployment-name` or `flow-name/deployment-name`; the flow name of a
//   deployment is its `flow_name`, else the entrypoint's function with `_` → `-` (Prefect's
//   default flow name). `flow/` matches either that or the entrypoint's function, `-` read as
//   `_` (what _config.py's _filter_matching_deploy_config compares).
// - `{{ $NAME }}` is the deployer's environment variable, substituted as `prefect deploy` does
//   (_core.py: apply_values(deploy_config, os.environ)) from the environment of the CLI reading
//   the file; one that is not set is a problem naming it (the work-pool renderer refuses `$ENV`).
// - `{{ prefect.variables.X }}`, `{{ prefect.blocks.X }}` and `{{ ctx.X }}` stay as text for
//   the work-pool rendering. A build/push step output (`{{ build-image.image }}`) is only known
//   while `prefect deploy` runs that step, so it is a problem naming it — unless a
//   `--job-variable` gives that job variable.
// Only the fields acted on are checked and substituted; ignored ones are listed, untouched.
import * as z from 'zod';
import { InvalidInputError, type Problem } from '../core/errors.js';
import { checkInput } from '../core/input-guard.js';
import { PROTOTYPE_KEYS, problemsFrom } from '../core/zod-problems.js';

/** The keys of one deployment the submitter acts on; every other key is listed as ignored. */
const USED_DEPLOYMENT_KEYS = new Set(['name', 'entrypoint', 'flow_name', 'parameters', 'tags', 'work_pool']);
const USED_WORK_POOL_KEYS = new Set(['name', 'job_variables']);
/** Top-level keys of prefect.yaml that shape the file but are not acted on. */
const FILE_KEYS_IGNORED = ['name', 'prefect-version', 'build', 'push', 'pull', 'definitions'];

const Name = z.string().min(1);

export const ProjectDeploymentSchema = z.looseObject({
  name: Name.optional(),
  entrypoint: z.string().regex(/^.+:[A-Za-z_][A-Za-z0-9_]*$/, {
    message: "must be 'path/to/file.py:flow_function' (Prefect's entrypoint form)",
  }),
  flow_name: Name.nullable().optional(),
  parameters: z.record(z.string(), z.unknown()).nullable().default({}),
  tags: z.array(z.string()).nullable().default([]),
  work_pool: z.looseObject(
    {
      name: Name.nullable().optional(),
      work_queue_name: z.string().nullable().optional(),
      job_variables: z.record(z.string(), z.unknown()).nullable().default({}),
    },
    { message: "required: the deployment's work pool ({name, job_variables})" },
  ),
});
export type ProjectDeployment = z.infer<typeof ProjectDeploymentSchema>;

export interface ProjectEntry {
  /** Position in `deployments`, for problem paths. */
  index: number;
  /** The raw (merge keys applied) deployment. */
  raw: Record<string, unknown>;
  name: string | undefined;
  flowName: string | undefined;
}

export interface PrefectProject {
  deployments: ProjectEntry[];
  /** Top-level keys that are not acted on (build, push, pull, definitions, …). */
  ignored: string[];
}

/** A document that is a prefect.yaml: `deployments` or `prefect-version`, none of the event's keys. */
export function isPrefectYaml(doc: unknown): doc is Record<string, unknown> {
  return (
    typeof doc === 'object' &&
    doc !== null &&
    !Array.isArray(doc) &&
    ('deployments' in doc || 'prefect-version' in doc) &&
    !('flow_run' in doc) &&
    !('infrastructure' in doc) &&
    !('detail' in doc) &&
    !('message' in doc)
  );
}

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/**
 * YAML 1.1 merge keys: `<<: *anchor` or `<<: [*a, *b]` (earlier wins), keys written beside
 * them win. Applied recursively; the input is not changed. Bounded by the input guard's depth.
 */
export function applyMergeKeys(value: unknown, path = ''): unknown {
  if (Array.isArray(value)) return value.map((item, i) => applyMergeKeys(item, `${path}[${i}]`));
  if (!isRecord(value)) return value;
  const out: Record<string, unknown> = {};
  if ('<<' in value) {
    const sources = Array.isArray(value['<<']) ? value['<<'] : [value['<<']];
    for (const source of [...sources].reverse()) {
      if (!isRecord(source)) {
        throw new InvalidInputError('Invalid prefect.yaml', [
          {
            path: `${path}${path ? '.' : ''}<<`,
            message: 'a merge key (<<) takes a mapping or a list of mappings',
          },
        ]);
      }
      Object.assign(out, applyMergeKeys(source, path));
    }
  }
  for (const [key, item] of Object.entries(value)) {
    if (key !== '<<') out[key] = applyMergeKeys(item, `${path}${path ? '.' : ''}${key}`);
  }
  return out;
}

/** Prefect's default flow name for `path/file.py:my_flow`: `my-flow`. */
export function flowNameFromEntrypoint(entrypoint: string): string {
  return (entrypoint.split(':').pop() ?? entrypoint).replace(/_/g, '-');
}

export function readProject(doc: Record<string, unknown>): PrefectProject {
  const merged = applyMergeKeys(doc) as Record<string, unknown>;
  const list = merged.deployments;
  if (!Array.isArray(list) || list.length === 0) {
    throw new InvalidInputError('Invalid prefect.yaml', [
      { path: 'deployments', message: 'lists no deployment: add one ({name, entrypoint, work_pool})' },
    ]);
  }
  const deployments = list.map((raw, index): ProjectEntry => {
    if (!isRecord(raw)) {
      throw new InvalidInputError('Invalid prefect.yaml', [
        { path: `deployments[${index}]`, message: 'must be a mapping {name, entrypoint, work_pool, …}' },
      ]);
    }
    const name = typeof raw.name === 'string' && raw.name ? raw.name : undefined;
    const flowName =
      typeof raw.flow_name === 'string' && raw.flow_name
        ? raw.flow_name
        : typeof raw.entrypoint === 'string' && raw.entrypoint.includes(':')
          ? flowNameFromEntrypoint(raw.entrypoint)
          : undefined;
    return { index, raw, name, flowName };
  });
  const ignored = Object.keys(merged).filter((key) => key !== 'deployments');
  return { deployments, ignored: ignored.sort((a, b) => order(a) - order(b)) };
}

const order = (key: string) => {
  const i = FILE_KEYS_IGNORED.indexOf(key);
  return i < 0 ? FILE_KEYS_IGNORED.length : i;
};

/** How a deployment is named to the user: `flow-name/deployment-name`, as Prefect shows it. */
export function deploymentLabel(entry: ProjectEntry): string {
  return `${entry.flowName ?? '?'}/${entry.name ?? `deployments[${entry.index}]`}`;
}

/**
 * The deployment `--deployment NAME` picks: `flow/deployment` or a deployment name that is
 * unique; without NAME the only deployment. Otherwise a problem listing the choices.
 */
export function selectDeployment(project: PrefectProject, name: string | undefined): ProjectEntry {
  const all = project.deployments;
  const choices = all.map(deploymentLabel).join(', ');
  if (name === undefined) {
    if (all.length === 1) return all[0] as ProjectEntry;
    throw new InvalidInputError('prefect.yaml has several deployments', [
      { path: '--deployment', message: `pick one with --deployment NAME: ${choices}` },
    ]);
  }
  const [flow, deployment] = name.includes('/') ? name.split('/', 2) : [undefined, name];
  // Prefect compares the flow part with the entrypoint's function (`-` read as `_`); a
  // `flow_name` given in the file is accepted too
  const sameFlow = (e: ProjectEntry) =>
    flow === undefined ||
    e.flowName === flow ||
    (typeof e.raw.entrypoint === 'string' && e.raw.entrypoint.split(':').pop() === flow.replace(/-/g, '_'));
  const matches = all.filter((e) => e.name === deployment && sameFlow(e));
  if (matches.length === 1) return matches[0] as ProjectEntry;
  throw new InvalidInputError(`No single deployment '${name}' in prefect.yaml`, [
    {
      path: '--deployment',
      message:
        matches.length === 0
          ? `no deployment '${name}': the file has ${choices}`
          : `'${name}' names ${matches.length} deployments (${matches.map(deploymentLabel).join(', ')}): give flow-name/deployment-name`,
    },
  ]);
}

/** `--job-variable key=value` (Prefect's `-jv`): the value is JSON when it parses, else text. */
export function parseJobVariables(pairs: readonly string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const pair of pairs) {
    const at = pair.indexOf('=');
    if (at <= 0) {
      throw new InvalidInputError('Usage', [
        { path: '--job-variable', message: `'${pair}' must be key=value, e.g. image=repo/flow:1.0` },
      ]);
    }
    const key = pair.slice(0, at);
    if (PROTOTYPE_KEYS.has(key)) {
      throw new InvalidInputError('Unsafe input', [
        { path: '--job-variable', message: `'${key}' is not allowed as a key (prototype pollution)` },
      ]);
    }
    const raw = pair.slice(at + 1);
    let value: unknown = raw;
    try {
      value = JSON.parse(raw);
    } catch {
      // plain text
    }
    checkInput(value, 'Unsafe input in --job-variable');
    out[key] = value;
  }
  return out;
}

/** Placeholders kept for the work pool's rendering (or Prefect's runtime), not step outputs. */
const KEPT_PLACEHOLDER = /^(prefect\.|ctx\.)/;
const PLACEHOLDER = /\{\{\s*([^}]*?)\s*\}\}/g;

const orJobVariable = (path: string) =>
  path.includes('job_variables.')
    ? ` or pass --job-variable ${path.split('job_variables.')[1]?.split(/[.[]/)[0]}=VALUE`
    : '';

/**
 * `{{ $NAME }}` substituted from env (as `prefect deploy` does); an unset one and every
 * `{{ step.output }}` a problem with its path. Returns the substituted copy.
 */
function placeholders(value: unknown, path: string, env: Env, found: Problem[]): unknown {
  if (typeof value === 'string') {
    return value.replace(PLACEHOLDER, (full, inner: string) => {
      if (KEPT_PLACEHOLDER.test(inner)) return full;
      if (inner.startsWith('$')) {
        const set = env[inner.slice(1)];
        if (set !== undefined) return set;
        found.push({
          path,
          message: `'${full}' is the deployer's environment variable ${inner.slice(1)}, and it is not set here: set it (as for 'prefect deploy') or write the value${orJobVariable(path)}`,
        });
        return full;
      }
      found.push({
        path,
        message: `'${full}' is the output of a build/push step, known only while 'prefect deploy' runs it: write the value here${orJobVariable(path)}`,
      });
      return full;
    });
  }
  if (Array.isArray(value)) return value.map((item, i) => placeholders(item, `${path}[${i}]`, env, found));
  if (isRecord(value)) {
    return Object.fromEntries(
      Object.entries(value).map(([key, item]) => [key, placeholders(item, `${path}.${key}`, env, found)]),
    );
  }
  return value;
}

export type Env = Readonly<Record<string, string | undefined>>;

export interface TranslatedDeployment {
  /** The flow-run event on the work pool (`work_pool` + `job_variables`, events/schema.ts). */
  event: Record<string, unknown>;
  /** Keys of the deployment that are accepted and not acted on, e.g. `schedules`, `work_pool.work_queue_name`. */
  ignored: string[];
}

export interface FlowRunIdentity {
  id: string;
  name?: string | undefined;
}

/** One deployment of a prefect.yaml → its flow-run event, or every problem naming its path. */
export function projectDeploymentToEvent(
  entry: ProjectEntry,
  flowRun: FlowRunIdentity,
  jobVariables: Record<string, unknown> = {},
  env: Env = {},
): TranslatedDeployment {
  const at = `deployments[${entry.index}]`;
  const parsed = ProjectDeploymentSchema.safeParse(entry.raw);
  if (!parsed.success) {
    throw new InvalidInputError(
      `Invalid deployment ${deploymentLabel(entry)} in prefect.yaml`,
      problemsFrom(parsed.error).map((p) => ({ ...p, path: p.path ? `${at}.${p.path}` : at })),
    );
  }
  const d = parsed.data;
  const problems: Problem[] = [];
  if (!d.name) problems.push({ path: `${at}.name`, message: 'required: the deployment name' });
  if (!d.work_pool.name) {
    problems.push({
      path: `${at}.work_pool.name`,
      message: "required: the work pool's name (save it with 'submitter work-pools put FILE --name NAME')",
    });
  }
  const poolName = placeholders(d.work_pool.name, `${at}.work_pool.name`, env, problems) as string;
  const parameters = placeholders(d.parameters ?? {}, `${at}.parameters`, env, problems);
  const tags = placeholders(d.tags ?? [], `${at}.tags`, env, problems);
  // a --job-variable replaces a variable wholly (as Prefect's -jv does), and is taken as given
  const variables = {
    ...(placeholders(
      d.work_pool.job_variables ?? {},
      `${at}.work_pool.job_variables`,
      env,
      problems,
    ) as object),
    ...jobVariables,
  };
  const given = Object.keys(jobVariables).map((key) => `${at}.work_pool.job_variables.${key}`);
  const left = problems.filter(
    (p) => !given.some((g) => p.path === g || p.path.startsWith(`${g}.`) || p.path.startsWith(`${g}[`)),
  );
  if (left.length > 0) {
    throw new InvalidInputError(`Invalid deployment ${deploymentLabel(entry)} in prefect.yaml`, left);
  }
  const ignored = [
    ...Object.keys(entry.raw).filter((k) => !USED_DEPLOYMENT_KEYS.has(k)),
    ...Object.keys(isRecord(entry.raw.work_pool) ? entry.raw.work_pool : {})
      .filter((k) => !USED_WORK_POOL_KEYS.has(k))
      .map((k) => `work_pool.${k}`),
  ];
  const flowName = entry.flowName as string;
  return {
    event: {
      flow_run: {
        id: flowRun.id,
        name: flowRun.name ?? `${d.name}-run`,
        flow_name: flowName,
        deployment_name: `${flowName}/${d.name}`,
        parameters,
        tags,
      },
      work_pool: { name: poolName },
      job_variables: variables,
    },
    ignored,
  };
}

/** Keys of a Prefect 2 deployment YAML the submitter uses; the rest are listed as ignored. */
const USED_PREFECT2_KEYS = new Set([
  'name',
  'flow_name',
  'parameters',
  'tags',
  'infra_overrides',
  'infrastructure',
]);

export function ignoredPrefect2Keys(doc: Record<string, unknown>): string[] {
  return Object.keys(doc).filter((k) => !USED_PREFECT2_KEYS.has(k));
}
