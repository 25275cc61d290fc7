import { z } from 'zod';
import { blockSchema, JsonPatchSchema } from '../base.js';

export const AwsCredentialsSchema = z.strictObject({
  aws_access_key_id: z.string().nullable().default(null),
  aws_secret_access_key: z.string().nullable().default(null),
  aws_session_token: z.string().nullable().default(null),
  profile_name: z.string().nullable().default(null),
  region_name: z.string().nullable().default(null),
});

const Arn = z.string().regex(/^arn:aws[a-z-]*:/, { message: "must be an ARN ('arn:aws:…')" });

/** `ecs-task`: an Amazon ECS task (Fargate, EC2, External or Fargate Spot). */
export const EcsTaskBlockSchema = blockSchema('ecs-task', {
  aws_credentials: AwsCredentialsSchema.default(() => AwsCredentialsSchema.parse({})),
  image: z.string().min(1).nullable().default(null),
  cpu: z.number().int().positive().default(1024),
  memory: z.number().int().positive().default(2048),
  cluster: z.string().nullable().default(null),
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
  family: z.string().nullable().default(null),
  task_role_arn: Arn.nullable().default(null),
  execution_role_arn: Arn.nullable().default(null),
  configure_cloudwatch_logs: z.boolean().default(false),
  cloudwatch_logs_options: z.record(z.string(), z.string()).default({}),
  stream_output: z.boolean().nullable().default(null),
  container_name: z.string().min(1).default('prefect'),
  task_customizations: JsonPatchSchema,
  task_start_timeout_seconds: z.number().int().positive().default(120),
  task_watch_poll_interval: z.number().positive().default(5),
  auto_deregister_task_definition: z.boolean().default(false),
  /** Environment variable name → Secrets Manager or SSM parameter ARN (sent as container `secrets`). */
  secrets: z.record(z.string(), Arn).default({}),
}).superRefine((block, ctx) => {
  if (block.configure_cloudwatch_logs && !block.execution_role_arn) {
    ctx.addIssue({
      code: 'custom',
      path: ['execution_role_arn'],
      message: 'an execution_role_arn must be provided to use configure_cloudwatch_logs',
    });
  }
  if (block.task_definition_arn && block.task_definition) {
    ctx.addIssue({
      code: 'custom',
      path: ['task_definition'],
      message: "give 'task_definition_arn' or 'task_definition', not both",
    });
  }
});
export type EcsTaskBlock = z.infer<typeof EcsTaskBlockSchema>;
