import * as z from 'zod';
import { secretDocument } from '../../core/secret-marks.js';
import { blockSchema, JsonPatchSchema } from '../base.js';

/** Prefect's bare minimum Job manifest. */
export function baseJobManifest(): Record<string, unknown> {
  return {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: { labels: {} },
    spec: {
      template: {
        spec: {
          parallelism: 1,
          completions: 1,
          restartPolicy: 'Never',
          containers: [{ name: 'prefect-job', env: [] }],
        },
      },
    },
  };
}

export const KubernetesClusterConfigSchema = z.strictObject({
  /**
   * A kubeconfig document (as parsed YAML/JSON). Its secrets are masked wherever shown: `client-key-data`,
   * `token`, `password`, `auth-provider.config` tokens and client secret, and every `exec.env` value.
   */
  config: secretDocument(z.record(z.string(), z.unknown())),
  context_name: z.string(),
});

/** `kubernetes-job`: a Kubernetes Job on a (remote) cluster. */
export const KubernetesJobBlockSchema = blockSchema('kubernetes-job', {
  /** Unset: the base job's own image, else the Prefect image (DEFAULT_PREFECT_IMAGE). */
  image: z.string().min(1).nullable().default(null),
  /** Unset: the base job's own `metadata.namespace`, else `default`. */
  namespace: z.string().min(1).nullable().default(null),
  service_account_name: z.string().nullable().default(null),
  image_pull_policy: z.enum(['Always', 'IfNotPresent', 'Never']).nullable().default(null),
  cluster_config: KubernetesClusterConfigSchema.nullable().default(null),
  job: z.record(z.string(), z.unknown()).default(baseJobManifest),
  customizations: JsonPatchSchema,
  job_watch_timeout_seconds: z.number().int().positive().nullable().default(null),
  pod_watch_timeout_seconds: z.number().int().positive().default(60),
  stream_output: z.boolean().default(true),
  finished_job_ttl: z.number().int().nonnegative().nullable().default(null),
});
export type KubernetesJobBlock = z.infer<typeof KubernetesJobBlockSchema>;
