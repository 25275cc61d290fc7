import * as z from 'zod';
import { secret } from '../../core/secret-marks.js';
import { blockSchema, DEFAULT_PREFECT_IMAGE } from '../base.js';

export const DockerRegistrySchema = z.strictObject({
  username: z.string(),
  password: secret(z.string()),
  registry_url: z.string(),
  reauth: z.boolean().default(true),
});

const ByteSize = z.union([
  z.number().int().positive(),
  z.string().regex(/^\d+[bkmgBKMG]?$/, { message: "a size like '512m' or a number of bytes" }),
]);

/** Docker's "unlimited swap" (Prefect documents `-1 to disable swap`), as a number or a string. */
const UNLIMITED_SWAP = z.union([z.literal(-1), z.literal('-1')]);

const Strings = z.array(z.string());

/**
 * Prefect 3's `container_create_kwargs`: the docker-py `containers.create` keyword arguments this
 * submitter maps onto the Engine API body (build.ts `createKwargsBody`), with docker-py's names.
 * Not part of Prefect 2's DockerContainer; null (the default) changes nothing.
 */
export const DockerCreateKwargsSchema = z.strictObject({
  // ContainerConfig
  hostname: z.string().optional(),
  domainname: z.string().optional(),
  user: z.union([z.string(), z.number().int()]).optional(),
  working_dir: z.string().optional(),
  /** A string is split as a shell would (docker-py's split_command). */
  entrypoint: z.union([z.string(), Strings]).optional(),
  stop_signal: z.string().optional(),
  // HostConfig
  cap_add: Strings.optional(),
  cap_drop: Strings.optional(),
  cpu_period: z.number().int().optional(),
  cpu_quota: z.number().int().optional(),
  cpu_shares: z.number().int().optional(),
  cpuset_cpus: z.string().optional(),
  cpuset_mems: z.string().optional(),
  nano_cpus: z.number().int().optional(),
  dns: Strings.optional(),
  dns_opt: Strings.optional(),
  dns_search: Strings.optional(),
  /** `host:ip` entries, or a {host: ip} mapping. */
  extra_hosts: z
    .union([
      z.array(z.string().regex(/^[^:]+:.+$/, { message: "expected 'host:ip'" })),
      z.record(z.string(), z.string()),
    ])
    .optional(),
  group_add: z.array(z.union([z.string(), z.number().int()])).optional(),
  init: z.boolean().optional(),
  ipc_mode: z.string().optional(),
  pid_mode: z.string().optional(),
  mem_reservation: ByteSize.optional(),
  shm_size: ByteSize.optional(),
  pids_limit: z.number().int().optional(),
  read_only: z.boolean().optional(),
  security_opt: Strings.optional(),
  sysctls: z.record(z.string(), z.union([z.string(), z.number()])).optional(),
  /** {path: options}, or `path[:options]` entries. */
  tmpfs: z.union([z.record(z.string(), z.string()), Strings]).optional(),
  ulimits: z
    .array(
      z.strictObject({
        name: z.string(),
        soft: z.number().int().optional(),
        hard: z.number().int().optional(),
      }),
    )
    .optional(),
  /** `host_path[:container_path[:permissions]]`. */
  devices: Strings.optional(),
  /** GPUs and other device drivers. */
  device_requests: z
    .array(
      z.strictObject({
        driver: z.string().optional(),
        count: z.number().int().optional(),
        device_ids: Strings.optional(),
        capabilities: z.array(Strings).optional(),
        options: z.record(z.string(), z.string()).optional(),
      }),
    )
    .optional(),
  runtime: z.string().optional(),
  oom_kill_disable: z.boolean().optional(),
  userns_mode: z.literal('host').optional(),
});
export type DockerCreateKwargs = z.infer<typeof DockerCreateKwargsSchema>;

/** `docker-container`: a container on a (remote) Docker Engine. */
export const DockerContainerBlockSchema = blockSchema('docker-container', {
  image: z.string().min(1).default(DEFAULT_PREFECT_IMAGE),
  /** IF_POSSIBLE (Prefect 3's `IfPossible`): pull, and if the pull fails use the engine's copy. */
  image_pull_policy: z.enum(['ALWAYS', 'NEVER', 'IF_NOT_PRESENT', 'IF_POSSIBLE']).nullable().default(null),
  image_registry: DockerRegistrySchema.nullable().default(null),
  networks: z.array(z.string()).default([]),
  network_mode: z.string().nullable().default(null),
  auto_remove: z.boolean().default(false),
  volumes: z
    .array(
      z.string().refine((v) => v.includes(':'), {
        message: "invalid volume: expected 'local_path:container_path' (optionally ':ro')",
      }),
    )
    .default([]),
  /** Prefect 3's anonymous volumes (a volume entry that is only a container path): mounted after `volumes`. */
  anonymous_volumes: z
    .array(
      z
        .string()
        .regex(/^\/[^:]+$/, { message: "an anonymous volume is an absolute container path, e.g. '/cache'" }),
    )
    .default([]),
  stream_output: z.boolean().default(true),
  memswap_limit: z.union([ByteSize, UNLIMITED_SWAP]).nullable().default(null),
  mem_limit: ByteSize.nullable().default(null),
  privileged: z.boolean().default(false),
  /** Prefect 3's extra docker-py create arguments (see DockerCreateKwargsSchema). */
  container_create_kwargs: DockerCreateKwargsSchema.nullable().default(null),
}).superRefine((block, ctx) => {
  if (block.network_mode && block.networks.length > 0) {
    ctx.addIssue({
      code: 'custom',
      path: ['network_mode'],
      message: "cannot be set together with 'networks': use one or the other",
    });
  }
});
export type DockerContainerBlock = z.infer<typeof DockerContainerBlockSchema>;
