import * as z from 'zod';
import { isSecretEnvName, secret } from '../../core/secret-marks.js';
import { blockSchema, JsonPatchSchema } from '../base.js';
import { noneMeansDefault, prefectNumber } from '../prefect2.js';

/** botocore Config keys whose job the submitter's own retry loop and timeouts do. */
const STANDING_IN_CONFIG = [
  'retries',
  'connect_timeout',
  'read_timeout',
  'max_pool_connections',
  'user_agent_extra',
];
const CA_HINT =
  'the AWS SDK for JavaScript verifies TLS with the system and Node.js trust store: add a private CA with NODE_EXTRA_CA_CERTS in the environment of the function (or the CLI) instead';

interface ClientParameters {
  api_version: string | null;
  use_ssl: boolean;
  verify: boolean | string | null;
  verify_cert_path: string | null;
  endpoint_url: string | null;
  config: Record<string, unknown> | null;
}

function checkClientParameters(value: ClientParameters, ctx: z.RefinementCtx): void {
  const refuse = (path: string, message: string) => ctx.addIssue({ code: 'custom', path: [path], message });
  if (value.api_version !== null)
    refuse('api_version', 'the AWS SDK for JavaScript has no per-client API version: remove it');
  if (!value.use_ssl && !value.endpoint_url?.startsWith('http://'))
    refuse('use_ssl', "plain HTTP is chosen by an 'http://' endpoint_url here: give one, or remove use_ssl");
  if (value.verify === false || typeof value.verify === 'string') refuse('verify', CA_HINT);
  if (value.verify_cert_path !== null) refuse('verify_cert_path', CA_HINT);
  for (const key of Object.keys(value.config ?? {})) {
    if (!STANDING_IN_CONFIG.includes(key)) {
      refuse(
        'config',
        `botocore setting '${key}' has no counterpart here: remove it (accepted, with the submitter's own bounded retries and timeouts standing in: ${STANDING_IN_CONFIG.join(', ')})`,
      );
    }
  }
}

export const AwsCredentialsSchema = z.strictObject({
  aws_access_key_id: z.string().nullable().default(null),
  aws_secret_access_key: secret(z.string()).nullable().default(null),
  aws_session_token: secret(z.string()).nullable().default(null),
  profile_name: z.string().nullable().default(null),
  region_name: z.string().nullable().default(null),
  /**
   * prefect-aws's boto3 client settings. `endpoint_url` is used; the others are boto3's and mean
   * nothing to the AWS SDK for JavaScript, so a value other than the default is refused with what
   * to do instead (never silently dropped). botocore `config` keys the submitter's own bounded
   * retries and timeouts stand in for are accepted.
   */
  aws_client_parameters: z
    .strictObject({
      api_version: z.string().nullable().default(null),
      use_ssl: z.boolean().default(true),
      verify: z.union([z.boolean(), z.string()]).nullable().default(null),
      verify_cert_path: z.string().nullable().default(null),
      endpoint_url: z.string().nullable().default(null),
      config: z.record(z.string(), z.unknown()).nullable().default(null),
    })
    .superRefine(checkClientParameters)
    .nullable()
    .default(null),
});
export type AwsCredentials = z.infer<typeof AwsCredentialsSchema>;

/** `AwsCredentialsSchema.parse({})`, without parsing on every block that gives none. */
const noCredentials = (): AwsCredentials => ({
  aws_access_key_id: null,
  aws_secret_access_key: null,
  aws_session_token: null,
  profile_name: null,
  region_name: null,
  aws_client_parameters: null,
});

const Arn = z.string().regex(/^arn:aws[a-z-]*:/, { message: "must be an ARN ('arn:aws:…')" });
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_.-]*$/;

export const ECS_DEFAULT_CPU = 1024;
export const ECS_DEFAULT_MEMORY = 2048;
export const ECS_DEFAULT_CONTAINER = 'prefect';

/** `ecs-task`: an Amazon ECS task (Fargate, EC2, External or Fargate Spot). */
export const EcsTaskBlockSchema = blockSchema('ecs-task', {
  aws_credentials: AwsCredentialsSchema.default(noCredentials),
  image: z.string().min(1).nullable().default(null),
  /** CPU units (1024 = 1 vCPU): task level on Fargate, container level on EC2/External. */
  cpu: noneMeansDefault(prefectNumber(z.number().int().positive()), ECS_DEFAULT_CPU),
  /** MiB: task level on Fargate, container level on EC2/External. */
  memory: noneMeansDefault(prefectNumber(z.number().int().positive()), ECS_DEFAULT_MEMORY),
  cluster: z.string().min(1).nullable().default(null),
  launch_type: z.enum(['FARGATE', 'EC2', 'EXTERNAL', 'FARGATE_SPOT']).default('FARGATE'),
  capacity_provider_strategy: z
    .array(
      z.strictObject({
        capacityProvider: z.string(),
        weight: z.number().int().optional(),
        base: z.number().int().optional(),
      }),
    )
    .nullable()
    .default(null),
  vpc_id: z.string().nullable().default(null),
  network_configuration: z
    .strictObject({
      subnets: z.array(z.string()).optional(),
      securityGroups: z.array(z.string()).optional(),
      assignPublicIp: z.enum(['ENABLED', 'DISABLED']).optional(),
    })
    .nullable()
    .default(null),
  task_definition_arn: Arn.nullable().default(null),
  task_definition: z.record(z.string(), z.unknown()).nullable().default(null),
  /** Family name prefix of the definitions the submitter registers (a content hash is appended). */
  family: z.string().nullable().default(null),
  task_role_arn: Arn.nullable().default(null),
  execution_role_arn: Arn.nullable().default(null),
  configure_cloudwatch_logs: noneMeansDefault(z.boolean(), false),
  cloudwatch_logs_options: z.record(z.string(), z.string()).default({}),
  /** Accepted for compatibility: the last log lines are reported when the run ends (logs_tail). */
  stream_output: z.boolean().nullable().default(null),
  container_name: noneMeansDefault(z.string().min(1), ECS_DEFAULT_CONTAINER),
  task_customizations: JsonPatchSchema,
  task_start_timeout_seconds: noneMeansDefault(prefectNumber(z.number().int().positive()), 120),
  task_watch_poll_interval: noneMeansDefault(prefectNumber(z.number().positive()), 5),
  auto_deregister_task_definition: z.boolean().default(false),
  /** Environment variable name → Secrets Manager or SSM parameter ARN (sent as container `secrets`). */
  secrets: z
    .record(z.string().regex(ENV_NAME, { message: 'secret names are environment variable names' }), Arn)
    .default({}),
  /** Env names that look secret (`*_KEY`, `*_TOKEN`…) but are not: sent as plain values when listed here. */
  plaintext_env_allowed: z.array(z.string()).default([]),
}).superRefine((block, ctx) => {
  const definitionRole = block.task_definition?.executionRoleArn;
  if (block.configure_cloudwatch_logs && !block.execution_role_arn && typeof definitionRole !== 'string') {
    ctx.addIssue({
      code: 'custom',
      path: ['execution_role_arn'],
      message:
        'an execution_role_arn must be provided to use configure_cloudwatch_logs (ECS needs it to write the logs)',
    });
  }
  if (block.task_definition_arn && block.task_definition) {
    ctx.addIssue({
      code: 'custom',
      path: ['task_definition'],
      message: "give 'task_definition_arn' or 'task_definition', not both",
    });
  }
  if (block.task_definition_arn) {
    // An existing definition is run as registered: these live in the definition and RunTask cannot change them.
    const fixed: [keyof typeof block, boolean][] = [
      ['image', block.image !== null],
      ['secrets', Object.keys(block.secrets).length > 0],
      ['configure_cloudwatch_logs', block.configure_cloudwatch_logs],
      ['family', block.family !== null],
    ];
    for (const [field, set] of fixed) {
      if (!set) continue;
      ctx.addIssue({
        code: 'custom',
        path: [field],
        message: `cannot be applied to the existing definition named by task_definition_arn; drop task_definition_arn (the submitter then registers and reuses a definition) or put this in the definition you register`,
      });
    }
  }
  for (const name in block.env) {
    if (block.env[name] === null) continue;
    if (name in block.secrets) {
      ctx.addIssue({
        code: 'custom',
        path: ['env', name],
        message: `is also in 'secrets': give it in one place only`,
      });
    } else if (isSecretEnvName(name) && !block.plaintext_env_allowed.includes(name)) {
      ctx.addIssue({
        code: 'custom',
        path: ['env', name],
        message:
          'looks like a secret, and a plain value would be stored in the task overrides, readable by anyone allowed ' +
          `to describe tasks: put it in Secrets Manager or SSM Parameter Store and give its ARN as 'secrets.${name}' ` +
          `(or, if it is not a secret, add '${name}' to 'plaintext_env_allowed')`,
      });
    }
  }
});
export type EcsTaskBlock = z.infer<typeof EcsTaskBlockSchema>;
