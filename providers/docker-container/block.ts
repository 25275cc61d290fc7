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

/** `docker-container`: a container on a (remote) Docker Engine. */
export const DockerContainerBlockSchema = blockSchema('docker-container', {
  image: z.string().min(1).default(DEFAULT_PREFECT_IMAGE),
  image_pull_policy: z.enum(['ALWAYS', 'NEVER', 'IF_NOT_PRESENT']).nullable().default(null),
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
  stream_output: z.boolean().default(true),
  memswap_limit: ByteSize.nullable().default(null),
  mem_limit: ByteSize.nullable().default(null),
  privileged: z.boolean().default(false),
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
