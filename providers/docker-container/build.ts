// Block + flow run → the exact Docker Engine API calls (pure): the pull decision
// (`POST /images/create`), the container (`POST /containers/create?name=…`) and the extra
// networks to connect after it. Prefect's DockerContainer semantics, made idempotent. The
// Prefect 3 extras (IF_POSSIBLE, anonymous_volumes, memswap -1, container_create_kwargs) as the
// docker worker sends them through docker-py (see work-pool.ts); unset, they change nothing.
import { InvalidInputError, type Problem } from '../../core/errors.js';
import { shellWords } from '../../prefect3/shell-words.js';
import { concreteEnv } from '../base.js';
import { flowRunEnv, flowRunLabels, idempotencyKey } from '../identity.js';
import { runName, slugify } from '../naming.js';
import type { Target } from '../port.js';
import type { DockerContainerBlock, DockerCreateKwargs } from './block.js';

export type PullPolicy = 'ALWAYS' | 'IF_NOT_PRESENT' | 'NEVER' | 'IF_POSSIBLE';

export interface ImageRef {
  /** `registry.example.com:5000/team/etl` */
  repository: string;
  /** `1.4.2`, or null when the image names none (Docker then means `latest`). */
  tag: string | null;
  /** `sha256:…` when the image is pinned by digest. */
  digest: string | null;
}

export interface DockerPull {
  policy: PullPolicy;
  /**
   * `POST /images/create?fromImage=…&tag=…` (done when policy is ALWAYS or IF_POSSIBLE, or
   * IF_NOT_PRESENT and the image is missing; IF_POSSIBLE goes on with the engine's copy when the pull fails).
   */
  fromImage: string;
  tag: string;
  /**
   * Who to log in as for the pull (`X-Registry-Auth`). The password is not here: submit reads
   * it from the block's `image_registry.password` at pull time.
   */
  auth: { serveraddress: string; username: string; reauth: boolean } | null;
}

/** The body of `POST /containers/create` (Docker Engine API, the fields this submitter sets). */
export interface DockerCreateBody {
  Image: string;
  Cmd: string[];
  /** `NAME=value` */
  Env: string[];
  Labels: Record<string, string>;
  Hostname?: string;
  Domainname?: string;
  User?: string;
  WorkingDir?: string;
  Entrypoint?: string[];
  StopSignal?: string;
  /** Container paths of the binds (as docker-py sends them). */
  Volumes?: Record<string, Record<string, never>>;
  HostConfig: {
    AutoRemove: boolean;
    Privileged: boolean;
    Binds?: string[];
    NetworkMode?: string;
    /** Bytes. */
    Memory?: number;
    /** Bytes: memory + swap. */
    MemorySwap?: number;
    ExtraHosts?: string[];
    /** From `container_create_kwargs` (docker-py's HostConfig names → the Engine's). */
    CapAdd?: string[];
    CapDrop?: string[];
    CpuPeriod?: number;
    CpuQuota?: number;
    CpuShares?: number;
    CpusetCpus?: string;
    CpusetMems?: string;
    NanoCpus?: number;
    Dns?: string[];
    DnsOptions?: string[];
    DnsSearch?: string[];
    GroupAdd?: string[];
    Init?: boolean;
    IpcMode?: string;
    PidMode?: string;
    MemoryReservation?: number;
    ShmSize?: number;
    PidsLimit?: number;
    ReadonlyRootfs?: boolean;
    SecurityOpt?: string[];
    Sysctls?: Record<string, string>;
    Tmpfs?: Record<string, string>;
    Ulimits?: { Name: string; Soft: number | null; Hard: number | null }[];
    Devices?: { PathOnHost: string; PathInContainer: string; CgroupPermissions: string }[];
    DeviceRequests?: {
      Driver: string;
      Count: number;
      DeviceIDs: string[];
      Capabilities: string[][];
      Options: Record<string, string>;
    }[];
    Runtime?: string;
    OomKillDisable?: boolean;
    UsernsMode?: string;
  };
  NetworkingConfig?: { EndpointsConfig: Record<string, Record<string, never>> };
}

export interface DockerContainerRequest {
  pull: DockerPull;
  /** `POST /containers/create?name=<name>`, then `POST /containers/<name>/start`. */
  create: { name: string; body: DockerCreateBody };
  /** `POST /networks/<network>/connect` after create: Docker attaches one network at create. */
  connect_networks: string[];
  /**
   * The container name carries the flow run (Docker refuses a second container with the same
   * name: 409), and the `io.prefect.flow-run-id` label lets submit confirm a container it finds
   * is this flow run's (`GET /containers/json?filters={"label":["io.prefect.flow-run-id=<id>"]}`).
   */
  idempotency_key: string;
}

/** The label key the flow-run id is under on containers (Prefect's `prefect.io/flow-run-id`, Docker style). */
export const DOCKER_FLOW_RUN_LABEL = 'io.prefect.flow-run-id';

/** Prefect's `convert_labels_to_docker_format`: `a.b/c` → `b.a.c` (reverse-DNS namespaces). */
export function dockerLabelKey(name: string): string {
  const slash = name.indexOf('/');
  if (slash < 0) return name;
  const namespace = name.slice(0, slash).split('.').reverse().join('.');
  return `${namespace}.${name.slice(slash + 1)}`;
}

/**
 * Prefect's `_get_container_name` (Docker accepts `/?[a-zA-Z0-9][a-zA-Z0-9_.-]+`), followed by
 * the flow run's suffix so that the name is unique per flow run and stable across deliveries.
 */
export function containerName({ block, flowRun }: Target<DockerContainerBlock>): string {
  const base = block.name ?? flowRun.name ?? '';
  const slug = slugify(base, { lowercase: false, maxLength: 200, pattern: /[^a-zA-Z0-9_.-]+/ }).replace(
    /^[_.-]+/,
    '',
  );
  return runName(slug, flowRun.id);
}

/**
 * `repo[:tag][@digest]`, where a `:` before the last `/` is a registry port, not a tag
 * (Prefect splits on the first `:`, which misreads `registry:5000/image`).
 */
export function parseImage(image: string): ImageRef {
  const at = image.indexOf('@');
  const digest = at >= 0 ? image.slice(at + 1) : null;
  const named = at >= 0 ? image.slice(0, at) : image;
  const colon = named.lastIndexOf(':');
  const hasTag = colon > named.lastIndexOf('/');
  return {
    repository: hasTag ? named.slice(0, colon) : named,
    tag: hasTag ? named.slice(colon + 1) : null,
    digest,
  };
}

/**
 * Prefect's `_determine_image_pull_policy` (Kubernetes' defaulting): an explicit policy wins;
 * no tag or `latest` → ALWAYS; any other tag → IF_NOT_PRESENT. A digest pins the image: IF_NOT_PRESENT.
 */
export function pullPolicy(block: DockerContainerBlock): PullPolicy {
  if (block.image_pull_policy) return block.image_pull_policy;
  const { tag, digest } = parseImage(block.image);
  if (digest) return 'IF_NOT_PRESENT';
  return tag === null || tag === 'latest' ? 'ALWAYS' : 'IF_NOT_PRESENT';
}

function apiHost(env: Record<string, string>): string | undefined {
  const url = env.PREFECT_API_URL;
  if (!url) return undefined;
  try {
    return new URL(url).hostname;
  } catch {
    return undefined; // Prefect: "the network mode will not be inferred"
  }
}

const LOCAL_HOSTS = new Set(['localhost', '127.0.0.1']);

/**
 * Prefect's `_get_network_mode`: the block's value; none with `networks`; `host` when the run's
 * PREFECT_API_URL points at this machine (so the container reaches it). The Docker Engine is
 * assumed to be Linux (Prefect checks the agent's platform; ours is remote).
 */
export function networkMode(block: DockerContainerBlock, env: Record<string, string>): string | undefined {
  if (block.network_mode) return block.network_mode;
  if (block.networks.length > 0) return undefined;
  const host = apiHost(env);
  return host && LOCAL_HOSTS.has(host) ? 'host' : undefined;
}

/** Prefect's `_get_extra_hosts`: `host.docker.internal` reachable on Linux unless the API is elsewhere. */
function extraHosts(env: Record<string, string>): string[] | undefined {
  const url = env.PREFECT_API_URL;
  if (url === undefined || /localhost|127\.0\.0\.1|host\.docker\.internal/.test(url)) {
    return ['host.docker.internal:host-gateway'];
  }
  return undefined;
}

const BYTE_UNITS: Record<string, number> = { b: 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 };

/** docker-py's `parse_bytes`: `512m` → 536870912; a number is bytes. */
export function parseBytes(size: number | string): number {
  if (typeof size === 'number') return size;
  const match = /^(\d+)([bkmg]?)$/i.exec(size);
  if (!match) throw new Error(`not a size: ${size}`);
  return Number(match[1]) * (BYTE_UNITS[(match[2] || 'b').toLowerCase()] ?? 1);
}

const VOLUME_MODES = new Set([
  'ro',
  'rw',
  'z',
  'Z',
  'nocopy',
  'shared',
  'rshared',
  'slave',
  'rslave',
  'private',
  'rprivate',
  'consistent',
  'cached',
  'delegated',
]);

/** `host:container[:mode]` (Docker's `Binds`); the container path is absolute. */
function checkVolume(volume: string, index: number): Problem | undefined {
  const parts = volume.split(':');
  const [source, destination, mode] = parts;
  const path = `infrastructure.volumes[${index}]`;
  if (parts.length > 3 || !source || !destination) {
    return { path, message: `'${volume}' is not 'host_path:container_path' (optionally ':ro')` };
  }
  if (!destination.startsWith('/')) {
    return { path, message: `the container path '${destination}' must be absolute, e.g. '/data'` };
  }
  if (mode !== undefined && !mode.split(',').every((m) => VOLUME_MODES.has(m))) {
    return { path, message: `unknown mode '${mode}': use ro or rw (or z, Z, nocopy, a propagation mode)` };
  }
  return undefined;
}

function memory(block: DockerContainerBlock): { Memory?: number; MemorySwap?: number } {
  const out: { Memory?: number; MemorySwap?: number } = {};
  if (block.mem_limit !== null) out.Memory = parseBytes(block.mem_limit);
  // -1: unlimited swap, with or without a memory limit (Docker accepts both)
  if (block.memswap_limit === -1 || block.memswap_limit === '-1') return { ...out, MemorySwap: -1 };
  if (block.memswap_limit !== null) out.MemorySwap = parseBytes(block.memswap_limit);
  if (out.MemorySwap !== undefined && out.Memory === undefined) {
    throw new InvalidInputError('Invalid docker-container block', [
      {
        path: 'infrastructure.memswap_limit',
        message: "needs 'mem_limit' too: Docker refuses a swap limit without a memory limit",
      },
    ]);
  }
  if (out.MemorySwap !== undefined && out.Memory !== undefined && out.MemorySwap < out.Memory) {
    throw new InvalidInputError('Invalid docker-container block', [
      {
        path: 'infrastructure.memswap_limit',
        message: `is memory + swap, so it must be at least mem_limit (${block.mem_limit})`,
      },
    ]);
  }
  return out;
}

/** docker-py's `format_extra_hosts`: a mapping becomes `host:ip` entries sorted by host. */
function hostEntries(hosts: string[] | Record<string, string>): string[] {
  if (Array.isArray(hosts)) return hosts;
  return Object.keys(hosts)
    .sort()
    .map((host) => `${host}:${hosts[host]}`);
}

/**
 * Prefect 3's docker worker with `extra_hosts` in `container_create_kwargs`: merged over its own
 * `host.docker.internal` mapping when it adds one (entries keyed by host, then sorted), used as
 * given when it adds none.
 */
function mergedHosts(
  auto: string[] | undefined,
  user: DockerCreateKwargs['extra_hosts'],
): string[] | undefined {
  if (user === undefined) return auto;
  if (!auto) return hostEntries(user);
  const merged: Record<string, string> = {};
  for (const entry of [...auto, ...hostEntries(user)]) {
    const colon = entry.indexOf(':');
    merged[entry.slice(0, colon)] = entry.slice(colon + 1);
  }
  return hostEntries(merged);
}

type CreateExtras = Pick<
  DockerCreateBody,
  'Hostname' | 'Domainname' | 'User' | 'WorkingDir' | 'Entrypoint' | 'StopSignal'
>;

/** What is set only when Python finds it truthy (docker-py's `if cap_add:`). */
function truthy<T>(value: T | undefined): value is T {
  if (value === undefined || value === null || value === false || value === 0 || value === '') return false;
  if (Array.isArray(value)) return value.length > 0;
  if (typeof value === 'object') return Object.keys(value).length > 0;
  return true;
}

/**
 * `container_create_kwargs` → the Engine API body, as docker-py's `containers.create` →
 * `ContainerConfig` / `HostConfig` fill it: each key under its Engine name, set when docker-py
 * sets it (most only when truthy), converted as docker-py converts it.
 */
export function createKwargsBody(kwargs: DockerCreateKwargs | null): {
  config: CreateExtras;
  host: Omit<DockerCreateBody['HostConfig'], 'AutoRemove' | 'Privileged'>;
} {
  const config: CreateExtras = {};
  const host: Omit<DockerCreateBody['HostConfig'], 'AutoRemove' | 'Privileged'> = {};
  if (!kwargs) return { config, host };
  const k = kwargs;
  // ContainerConfig: None is dropped from the JSON; everything else is sent
  if (k.hostname !== undefined) config.Hostname = k.hostname;
  if (k.domainname !== undefined) config.Domainname = k.domainname;
  if (k.user !== undefined) config.User = String(k.user);
  if (k.working_dir !== undefined) config.WorkingDir = k.working_dir;
  if (k.entrypoint !== undefined)
    config.Entrypoint =
      typeof k.entrypoint === 'string'
        ? shellWords(k.entrypoint, 'infrastructure.container_create_kwargs.entrypoint')
        : k.entrypoint;
  if (k.stop_signal !== undefined) config.StopSignal = k.stop_signal;
  // HostConfig
  if (truthy(k.cap_add)) host.CapAdd = k.cap_add;
  if (truthy(k.cap_drop)) host.CapDrop = k.cap_drop;
  if (truthy(k.cpu_period)) host.CpuPeriod = k.cpu_period;
  if (truthy(k.cpu_quota)) host.CpuQuota = k.cpu_quota;
  if (truthy(k.cpu_shares)) host.CpuShares = k.cpu_shares;
  if (truthy(k.cpuset_cpus)) host.CpusetCpus = k.cpuset_cpus;
  if (truthy(k.cpuset_mems)) host.CpusetMems = k.cpuset_mems;
  if (truthy(k.nano_cpus)) host.NanoCpus = k.nano_cpus;
  if (k.dns !== undefined) host.Dns = k.dns;
  if (k.dns_opt !== undefined) host.DnsOptions = k.dns_opt;
  if (truthy(k.dns_search)) host.DnsSearch = k.dns_search;
  if (truthy(k.group_add)) host.GroupAdd = k.group_add.map(String);
  if (k.init !== undefined) host.Init = k.init;
  if (truthy(k.ipc_mode)) host.IpcMode = k.ipc_mode;
  if (truthy(k.pid_mode)) host.PidMode = k.pid_mode;
  if (truthy(k.mem_reservation)) host.MemoryReservation = parseBytes(k.mem_reservation);
  if (k.shm_size !== undefined) host.ShmSize = parseBytes(k.shm_size);
  if (truthy(k.pids_limit)) host.PidsLimit = k.pids_limit;
  if (k.read_only !== undefined) host.ReadonlyRootfs = k.read_only;
  if (k.security_opt !== undefined) host.SecurityOpt = k.security_opt;
  if (truthy(k.sysctls))
    host.Sysctls = Object.fromEntries(Object.entries(k.sysctls).map(([key, v]) => [key, String(v)]));
  if (truthy(k.tmpfs)) {
    host.Tmpfs = Array.isArray(k.tmpfs)
      ? Object.fromEntries(
          k.tmpfs.map((mount) => {
            const colon = mount.indexOf(':');
            return colon < 0 ? [mount, ''] : [mount.slice(0, colon), mount.slice(colon + 1)];
          }),
        )
      : k.tmpfs;
  }
  if (k.ulimits !== undefined)
    host.Ulimits = k.ulimits.map((u) => ({ Name: u.name, Soft: u.soft ?? null, Hard: u.hard ?? null }));
  if (truthy(k.devices)) {
    host.Devices = k.devices.map((device) => {
      const [onHost = '', inContainer, permissions] = device.split(':');
      return {
        PathOnHost: onHost,
        PathInContainer: inContainer ?? onHost,
        CgroupPermissions: permissions ?? 'rwm',
      };
    });
  }
  if (k.device_requests !== undefined) {
    host.DeviceRequests = k.device_requests.map((r) => ({
      Driver: r.driver ?? '',
      Count: r.count ?? 0,
      DeviceIDs: r.device_ids ?? [],
      Capabilities: r.capabilities ?? [],
      Options: r.options ?? {},
    }));
  }
  if (truthy(k.runtime)) host.Runtime = k.runtime;
  if (truthy(k.oom_kill_disable)) host.OomKillDisable = k.oom_kill_disable;
  if (truthy(k.userns_mode)) host.UsernsMode = k.userns_mode;
  return { config, host };
}

export function buildDockerRequest(target: Target<DockerContainerBlock>): DockerContainerRequest {
  const { block, flowRun } = target;
  const problems = block.volumes
    .map((volume, index) => checkVolume(volume, index))
    .filter((p): p is Problem => p !== undefined);
  if (problems.length > 0) throw new InvalidInputError('Invalid docker-container block', problems);

  const env = { ...concreteEnv(block.env), ...flowRunEnv(flowRun) };
  const labels: Record<string, string> = {};
  for (const [key, value] of Object.entries({ ...block.labels, ...flowRunLabels(flowRun) })) {
    labels[dockerLabelKey(key)] = value;
  }
  const mode = networkMode(block, env);
  const [firstNetwork, ...moreNetworks] = block.networks;
  // Docker refuses host mappings in another container's network namespace ("conflicting options")
  const hosts = mergedHosts(
    mode?.startsWith('container:') ? undefined : extraHosts(env),
    block.container_create_kwargs?.extra_hosts,
  );
  const extras = createKwargsBody(block.container_create_kwargs);
  const volumes = [...block.volumes, ...block.anonymous_volumes];
  const body: DockerCreateBody = {
    Image: block.image,
    Cmd: block.command,
    Env: Object.entries(env).map(([key, value]) => `${key}=${value}`),
    Labels: labels,
    ...extras.config,
    ...(volumes.length
      ? { Volumes: Object.fromEntries(volumes.map((v) => [v.split(':')[1] ?? v, {}])) }
      : {}),
    HostConfig: {
      AutoRemove: block.auto_remove,
      Privileged: block.privileged,
      ...(volumes.length ? { Binds: volumes } : {}),
      // docker-py: the first network is the network mode and the one endpoint at create
      ...(firstNetwork ? { NetworkMode: firstNetwork } : mode ? { NetworkMode: mode } : {}),
      ...memory(block),
      ...(hosts ? { ExtraHosts: hosts } : {}),
      ...extras.host,
    },
    ...(firstNetwork ? { NetworkingConfig: { EndpointsConfig: { [firstNetwork]: {} } } } : {}),
  };
  const image = parseImage(block.image);
  const registry = block.image_registry;
  return {
    pull: {
      policy: pullPolicy(block),
      fromImage: image.repository,
      tag: image.digest ?? image.tag ?? 'latest',
      auth: registry
        ? { serveraddress: registry.registry_url, username: registry.username, reauth: registry.reauth }
        : null,
    },
    create: { name: containerName(target), body },
    connect_networks: moreNetworks,
    idempotency_key: idempotencyKey(flowRun.id),
  };
}
