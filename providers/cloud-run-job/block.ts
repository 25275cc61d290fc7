import * as z from 'zod';
import { secret } from '../../core/secret-marks.js';
import { blockSchema, DEFAULT_PREFECT_IMAGE } from '../base.js';
import { prefectNumber } from '../prefect2.js';

export const GcpCredentialsSchema = z.strictObject({
  /** A service-account key (the JSON document, or its text): one secret, its `private_key` too. */
  service_account_info: secret(z.union([z.record(z.string(), z.unknown()), z.string()]))
    .nullable()
    .default(null),
  project: z.string().nullable().default(null),
});

/** `cloud-run-job`: a Google Cloud Run job (v2 API). */
export const CloudRunJobBlockSchema = blockSchema('cloud-run-job', {
  credentials: GcpCredentialsSchema.default(() => GcpCredentialsSchema.parse({})),
  project: z.string().nullable().default(null),
  region: z.string().min(1).default('us-central1'),
  image: z.string().min(1).default(DEFAULT_PREFECT_IMAGE),
  /** prefect-gcp: an integer of vCPUs (sent as millicores); a Cloud Run string ('1000m', '2') is taken as it is. */
  cpu: z
    .union([
      z.string(),
      z
        .number()
        .int()
        .positive()
        .transform((n) => `${n * 1000}m`),
    ])
    .default('1000m'),
  /** prefect-gcp: an integer in `memory_unit`s (a number without a unit is refused, as there); or a Cloud Run string ('512Mi'). */
  memory: z.union([z.string(), z.number().int().positive()]).default('512Mi'),
  memory_unit: z.enum(['G', 'Gi', 'M', 'Mi']).nullable().default(null),
  timeout: prefectNumber(
    z.number().int().positive().max(604_800, 'Cloud Run allows at most 7 days (604800 s)'),
  ).default(600),
  /** prefect-gcp's default; Cloud Run allows 0–10. */
  max_retries: prefectNumber(z.number().int().min(0).max(10)).default(3),
  keep_job: z.boolean().default(false),
  /** Google's LaunchStage (google/api/launch_stage.proto): all eight values, BETA by default as prefect-gcp. */
  launch_stage: z
    .enum([
      'ALPHA',
      'BETA',
      'GA',
      'LAUNCH_STAGE_UNSPECIFIED',
      'UNIMPLEMENTED',
      'PRELAUNCH',
      'EARLY_ACCESS',
      'DEPRECATED',
    ])
    .default('BETA'),
  vpc_connector_name: z.string().nullable().default(null),
  service_account_name: z.string().nullable().default(null),
  /** Environment variable name → Secret Manager secret (sent as `secretKeyRef`). */
  env_from_secrets: z
    .record(z.string(), z.strictObject({ secret: z.string(), version: z.string().default('latest') }))
    .default({}),
  poll_interval: prefectNumber(z.number().positive()).default(5),
  /** The container's arguments (`Container.args`), passed to its entrypoint after `command`; none by default. */
  args: z.array(z.string()).default([]),
  /**
   * Cloud SQL connection names (`project:region:instance`): prefect-gcp's Cloud Run v2
   * worker mounts them as a `cloudsql` volume at `/cloudsql`. None by default.
   */
  cloudsql_instances: z
    .array(
      z.string().regex(/^[^:\s]+:[^:\s]+:[^:\s]+$/, 'expected a connection name project:region:instance'),
    )
    .default([]),
});
export type CloudRunJobBlock = z.infer<typeof CloudRunJobBlockSchema>;
