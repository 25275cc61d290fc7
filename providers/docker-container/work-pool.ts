// Prefect 3 `docker` work pool → the docker-container block, so that its build sends the
// container-create body Prefect's docker worker sends through docker-py for the same job
// configuration. Same names as the block: command (one string, split as a shell would), env,
// labels, name, networks, network_mode, auto_remove, stream_output, privileged. Translated:
// `image` (none → PREFECT3_IMAGE), `image_pull_policy` (IfNotPresent/Always/Never/IfPossible →
// the block's IF_NOT_PRESENT/ALWAYS/NEVER/IF_POSSIBLE; IfPossible pulls and goes on with the
// engine's copy when the pull fails, as `_create_and_start_container` does), `registry_credentials`
// (a DockerRegistryCredentials block) → `image_registry`, `volumes` checked as Prefect's VolumeStr
// checks them (an entry that is only a container path → `anonymous_volumes`), `mem_limit` /
// `memswap_limit` read as docker-py's parse_bytes reads them (`-1`: unlimited swap), and
// `container_create_kwargs` (docker-py `containers.create` arguments; the ones the block maps).
// Facts: src/integrations/prefect-docker/prefect_docker/worker.py (DockerWorkerJobConfiguration,
// _build_container_settings, _create_and_start_container, _should_pull_image) and types.py
// (assert_volume_str) at PrefectHQ/prefect ce79dd3; docker-py's models/containers.py
// (_create_container_args), types/containers.py (HostConfig, ContainerConfig) and utils/utils.py
// (parse_bytes) at docker/docker-py afc6d1e.
import { InvalidInputError, type Problem } from '../../core/errors.js';
import { shownValue } from '../../core/zod-problems.js';
import type { WorkPoolAdapter } from '../../prefect3/adapter.js';
import { baseFieldsOf, given, isRecord, PREFECT3_IMAGE, refuseUnknown } from '../../prefect3/job-config.js';
import { DockerCreateKwargsSchema } from './block.js';

/** DockerWorkerJobConfiguration's fields (BaseJobConfiguration's included). */
const KNOWN = [
  'command',
  'env',
  'labels',
  'name',
  'image',
  'registry_credentials',
  'image_pull_policy',
  'networks',
  'network_mode',
  'auto_remove',
  'volumes',
  'stream_output',
  'mem_limit',
  'memswap_limit',
  'privileged',
  'container_create_kwargs',
] as const;

/** Job-configuration fields the block reads under the same name and checks itself. */
const SAME_NAME = ['networks', 'network_mode', 'auto_remove', 'stream_output', 'privileged'] as const;

const PULL_POLICIES: Record<string, string> = {
  IfNotPresent: 'IF_NOT_PRESENT',
  Always: 'ALWAYS',
  Never: 'NEVER',
  IfPossible: 'IF_POSSIBLE',
};

const REGISTRY_FIELDS = ['username', 'password', 'registry_url', 'reauth'];

/** The docker-py arguments the block maps (the rest are refused, each by name). */
const CREATE_KWARGS = Object.keys(DockerCreateKwargsSchema.shape);

/**
 * Keys the worker itself passes to docker-py next to `container_create_kwargs`, that are not job
 * configuration fields: the same key twice makes Python raise "got multiple values for keyword
 * argument" before any container exists.
 */
const COLLIDING: Record<string, string> = { network: 'networks', environment: 'env' };

/** Sizes docker-py reads with parse_bytes (`512m`, `1.5g`, `100kb`, bytes without a unit). */
const SIZED_KWARGS = ['mem_reservation', 'shm_size'] as const;

const BYTE_UNITS: Record<string, number> = { b: 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 };
const PYTHON_FLOAT = /^\s*[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?\s*$/;

/**
 * docker-py's `parse_bytes`: a trailing `b` after a unit letter is dropped (`100kb`), a last
 * digit means bytes, the digits may be a float (`1.5g`), the result is truncated to an integer.
 * Undefined where docker-py raises.
 */
export function dockerPyBytes(text: string): number | undefined {
  if (text.length === 0) return 0;
  let s = text;
  const letter = /^[A-Za-z]$/;
  if (letter.test(s.slice(-2, -1)) && letter.test(s.slice(-1)) && /[bB]$/.test(s)) s = s.slice(0, -1);
  const last = s.slice(-1).toLowerCase();
  const [digits, unit] = /^\d$/.test(last) ? [s, 'b'] : [s.slice(0, -1), last];
  const factor = BYTE_UNITS[unit];
  if (factor === undefined || !PYTHON_FLOAT.test(digits)) return undefined;
  return Math.trunc(Number(digits) * factor);
}

function sizeOf(value: unknown, path: string, problems: Problem[]): unknown {
  if (typeof value !== 'string') return value; // a number is bytes; any other type the block names
  const bytes = dockerPyBytes(value);
  if (bytes === undefined) {
    problems.push({
      path,
      message: `docker-py cannot read ${shownValue(value)} as a size: use a number with a unit b, k, m or g, e.g. '512m' or '1.5g'`,
    });
  }
  return bytes;
}

const VOLUME =
  /^(?:(?<anonymous>\/[^:]+)|(?<host>(?:[A-Za-z]:\\|\\\\|\/)?[^:]+):(?<container>\/?[^:]+)(?::(?<options>.+))?)$/;

/**
 * Prefect's `assert_volume_str` (types.py), then Docker's rule that a container path is absolute:
 * `/path` alone is an anonymous volume; `host:container[:ro|rw]` a bind (absolute host path) or a
 * named volume (a name without `/`). What is wrong with the (stripped) entry, or undefined.
 */
function volumeProblem(volume: string): string | undefined {
  const groups = VOLUME.exec(volume)?.groups;
  if (!groups) {
    return `'${volume}' is not a volume: use 'host_path:container_path[:ro|rw]', 'name:container_path' or an anonymous '/container_path'`;
  }
  const { anonymous, host = '', container = '', options } = groups;
  if (anonymous !== undefined) return undefined;
  const bind = host.startsWith('/') || /^[A-Za-z]:\\/.test(host) || host.startsWith('\\\\');
  if (!bind && /[/\\]/.test(host)) return `'${host}' is not a volume name: a name has no '/' or '\\'`;
  if (!container.startsWith('/')) return `the container path '${container}' must be absolute, e.g. '/data'`;
  if (options !== undefined && options !== 'ro' && options !== 'rw')
    return `the volume option '${options}' must be 'ro' or 'rw' (Prefect accepts no other)`;
  return undefined;
}

/** `volumes` → the block's `volumes` and `anonymous_volumes` (entries that are only a container path). */
function volumesOf(
  value: unknown,
  path: string,
  problems: Problem[],
): { volumes: unknown; anonymous: string[] } {
  if (!Array.isArray(value)) return { volumes: value, anonymous: [] }; // the block names the type
  const volumes: string[] = [];
  const anonymous: string[] = [];
  for (const [index, entry] of value.entries()) {
    const at = `${path}[${index}]`;
    if (typeof entry !== 'string') {
      problems.push({ path: at, message: `expected a volume string; got ${shownValue(entry)}` });
      continue;
    }
    const volume = entry.trim();
    const problem = volumeProblem(volume);
    if (problem) problems.push({ path: at, message: problem });
    else if (volume.includes(':')) volumes.push(volume);
    else anonymous.push(volume);
  }
  return { volumes, anonymous };
}

/** A DockerRegistryCredentials block's data → the block's `image_registry`. */
function registryOf(value: unknown, path: string, problems: Problem[]): Record<string, unknown> | undefined {
  if (!isRecord(value)) {
    problems.push({
      path,
      message:
        "expected a DockerRegistryCredentials block {username, password, registry_url, reauth}, e.g. '{{ prefect.blocks.docker-registry-credentials.NAME }}'",
    });
    return undefined;
  }
  const out: Record<string, unknown> = {};
  for (const [key, field] of Object.entries(value)) {
    if (!REGISTRY_FIELDS.includes(key)) {
      problems.push({
        path: `${path}.${key}`,
        message: `not a DockerRegistryCredentials field: remove it (known: ${REGISTRY_FIELDS.join(', ')})`,
      });
    } else if (key === 'reauth' ? typeof field !== 'boolean' : typeof field !== 'string' || field === '') {
      problems.push({
        path: `${path}.${key}`,
        // the password's value is never shown
        message: key === 'reauth' ? 'expected true or false' : 'expected a non-empty string',
      });
    } else out[key] = field;
  }
  for (const key of ['username', 'password', 'registry_url']) {
    if (!Object.hasOwn(value, key)) problems.push({ path: `${path}.${key}`, message: 'required: a string' });
  }
  return out;
}

/** `container_create_kwargs`: the worker's own fields and unmapped arguments refused, sizes read. */
function createKwargsOf(value: unknown, path: string, problems: Problem[]): unknown {
  if (!isRecord(value)) return value; // the block names the type
  const out: Record<string, unknown> = {};
  for (const [key, argument] of Object.entries(value)) {
    const at = `${path}.${key}`;
    if ((KNOWN as readonly string[]).includes(key)) {
      problems.push({
        path: at,
        message: `the docker worker ignores '${key}' here (it is a job configuration field): set the job variable '${key}' instead`,
      });
    } else if (Object.hasOwn(COLLIDING, key)) {
      problems.push({
        path: at,
        message: `the docker worker passes '${key}' itself, so docker-py fails on it here: set the job variable '${COLLIDING[key]}' instead`,
      });
    } else if (!CREATE_KWARGS.includes(key)) {
      problems.push({
        path: at,
        message: `this submitter does not map the docker-py argument '${key}' onto the container: remove it (mapped: ${CREATE_KWARGS.join(', ')})`,
      });
    } else if ((SIZED_KWARGS as readonly string[]).includes(key)) {
      out[key] = sizeOf(argument, at, problems);
    } else out[key] = argument;
  }
  return out;
}

export const workPool: WorkPoolAdapter = {
  poolTypes: ['docker'],
  blockType: 'docker-container',
  toBlock(config, context) {
    refuseUnknown(config, KNOWN, context);
    const problems: Problem[] = [];
    const at = (field: string) => `${context.path}.${field}`;
    const block: Record<string, unknown> = {
      type: 'docker-container',
      ...baseFieldsOf(config, context),
      image: given(config, 'image') ?? PREFECT3_IMAGE,
    };
    for (const key of SAME_NAME) {
      const value = given(config, key);
      if (value !== undefined) block[key] = value;
    }
    const policy = given(config, 'image_pull_policy');
    if (policy !== undefined) {
      const mapped = typeof policy === 'string' ? PULL_POLICIES[policy] : undefined;
      if (mapped) block.image_pull_policy = mapped;
      else
        problems.push({
          path: at('image_pull_policy'),
          message: `expected one of ${Object.keys(PULL_POLICIES).join(', ')}; got ${shownValue(policy)}`,
        });
    }
    const registry = given(config, 'registry_credentials');
    if (registry !== undefined)
      block.image_registry = registryOf(registry, at('registry_credentials'), problems);
    const volumes = given(config, 'volumes');
    if (volumes !== undefined) {
      const split = volumesOf(volumes, at('volumes'), problems);
      block.volumes = split.volumes;
      if (split.anonymous.length > 0) block.anonymous_volumes = split.anonymous;
    }
    const memory = given(config, 'mem_limit');
    if (memory !== undefined) block.mem_limit = sizeOf(memory, at('mem_limit'), problems);
    const swap = given(config, 'memswap_limit');
    if (swap !== undefined) block.memswap_limit = sizeOf(swap, at('memswap_limit'), problems);
    const kwargs = given(config, 'container_create_kwargs');
    if (kwargs !== undefined)
      block.container_create_kwargs = createKwargsOf(kwargs, at('container_create_kwargs'), problems);
    if (problems.length > 0) throw new InvalidInputError('Job configuration not supported', problems);
    return block;
  },
};
