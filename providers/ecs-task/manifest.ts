// The ECS provider: an Amazon ECS task. Its deployment section names the cluster runs go to,
// the roles it may pass, and the network for blocks that give none (ECS_* in deployment.ts).
import * as z from 'zod';
import { RoleArnSchema } from '../config-schemas.js';
import {
  type ArnFormatter,
  BASE_NAME_MAPS,
  configSection,
  importAtRunTime,
  type PolicyData,
  type ProviderManifest,
} from '../manifest.js';
import { type EcsTaskBlock, EcsTaskBlockSchema } from './block.js';
import { DEPLOYMENT_ENV } from './deployment.js';

export const EcsConfigSchema = z.strictObject({
  /** The cluster runs go to: its name or ARN. RunTask is allowed on this cluster only. */
  cluster: z.string().min(1, 'required: the ECS cluster name or ARN'),
  /** Task roles and execution roles the submitter may pass to tasks (iam:PassRole on these only). */
  taskRoleArns: z.array(RoleArnSchema).default([]),
  executionRoleArns: z.array(RoleArnSchema).default([]),
  /** Defaults for blocks without `network_configuration` (awsvpc). */
  subnetIds: z
    .array(z.string().regex(/^subnet-[0-9a-f]+$/, "must be a subnet id ('subnet-0abc…')"))
    .default([]),
  securityGroupIds: z
    .array(z.string().regex(/^sg-[0-9a-f]+$/, "must be a security group id ('sg-0abc…')"))
    .default([]),
  /** Task-definition families RunTask may start (default: any family, on this cluster only). */
  taskDefinitionFamilies: z.array(z.string().regex(/^[A-Za-z0-9_*-]{1,255}$/)).default(['*']),
  /** Log groups the provider may read log tails from (awslogs). */
  logGroupNames: z.array(z.string().min(1)).default(['prefect']),
});
export type EcsConfig = z.output<typeof EcsConfigSchema>;

export const ECS_CONFIG = configSection({
  key: 'ecs',
  schema: EcsConfigSchema,
  required: "required when 'ecs-task' is enabled: { cluster, taskRoleArns, executionRoleArns, … }",
});

/** The configured cluster's ARN (a name is taken as a cluster of this deployment's account and region). */
export function ecsClusterArn(cluster: string, arn: ArnFormatter): string {
  return cluster.startsWith('arn:') ? cluster : arn('ecs', 'cluster', cluster);
}

/** `arn:…:cluster/NAME` → `NAME`; a name stays itself. */
function clusterName(cluster: string): string {
  if (!cluster.startsWith('arn:')) return cluster;
  const resource = cluster.split(':').slice(5).join(':');
  return resource.slice(resource.indexOf('/') + 1);
}

/** The deployment's ECS_* defaults (read by the spec's build and by submit, deployment.ts). */
export function ecsEnvironment(ecs: EcsConfig, arn: ArnFormatter): Record<string, string> {
  return {
    [DEPLOYMENT_ENV.cluster]: ecsClusterArn(ecs.cluster, arn),
    ...(ecs.subnetIds.length ? { [DEPLOYMENT_ENV.subnets]: ecs.subnetIds.join(',') } : {}),
    ...(ecs.securityGroupIds.length
      ? { [DEPLOYMENT_ENV.securityGroups]: ecs.securityGroupIds.join(',') }
      : {}),
  };
}

/** Run, watch and stop tasks on the configured cluster only; pass only the configured roles. */
export function ecsStatements(ecs: EcsConfig, arn: ArnFormatter): PolicyData[] {
  const cluster = ecsClusterArn(ecs.cluster, arn);
  const onCluster = { ArnEquals: { 'ecs:cluster': cluster } };
  const tasks = arn('ecs', 'task', `${clusterName(ecs.cluster)}/*`);
  const taskDefinitions = ecs.taskDefinitionFamilies.map((family) =>
    arn('ecs', 'task-definition', `${family}:*`),
  );
  const statements: PolicyData[] = [
    {
      sid: 'RunTasksOnTheClusterOnly',
      actions: ['ecs:RunTask'],
      resources: taskDefinitions,
      conditions: onCluster,
    },
    {
      sid: 'WatchAndStopTasksOnTheCluster',
      actions: ['ecs:DescribeTasks', 'ecs:StopTask'],
      resources: [tasks],
      conditions: onCluster,
    },
    {
      sid: 'FindTasksOnTheCluster',
      actions: ['ecs:ListTasks'],
      // ListTasks is authorised on container instances; the cluster condition scopes it
      resources: ['*'],
      conditions: onCluster,
    },
    {
      sid: 'TagTasksAtLaunch',
      actions: ['ecs:TagResource'],
      resources: [tasks, ...taskDefinitions],
      conditions: { StringEquals: { 'ecs:CreateAction': ['RunTask', 'RegisterTaskDefinition'] } },
    },
    {
      sid: 'TaskDefinitions',
      // these actions have no resource-level permissions in ECS
      actions: [
        'ecs:RegisterTaskDefinition',
        'ecs:DescribeTaskDefinition',
        'ecs:DeregisterTaskDefinition',
        'ecs:ListTaskDefinitions',
      ],
      resources: ['*'],
    },
    {
      sid: 'DefaultNetwork',
      // read-only, no resource-level permissions: finds default subnets when a block gives none
      actions: ['ec2:DescribeSubnets', 'ec2:DescribeVpcs', 'ec2:DescribeSecurityGroups'],
      resources: ['*'],
    },
    {
      sid: 'ReadTaskLogs',
      actions: ['logs:GetLogEvents'],
      resources: ecs.logGroupNames.map((name) => arn('logs', 'log-group', `${name}:*`, ':')),
    },
  ];
  const roles = [...ecs.taskRoleArns, ...ecs.executionRoleArns];
  if (roles.length) {
    statements.push({
      sid: 'PassOnlyTheConfiguredRoles',
      actions: ['iam:PassRole'],
      resources: [...new Set(roles)],
      conditions: { StringEquals: { 'iam:PassedToService': 'ecs-tasks.amazonaws.com' } },
    });
  }
  return statements;
}

export const ecsTaskManifest: ProviderManifest<'ecs-task', EcsTaskBlock, typeof ECS_CONFIG> = {
  type: 'ecs-task',
  schema: EcsTaskBlockSchema,
  loadSpec: async () => (await import('./spec.js')).ecsTaskSpec,
  loadProvider: async () =>
    (await importAtRunTime<typeof import('./index.js')>(new URL('./index.js', import.meta.url)))
      .ecsTaskProvider,
  nameMaps: [...BASE_NAME_MAPS, 'secrets', 'cloudwatch_logs_options'],
  nestedBlocks: { aws_credentials: 'aws-credentials' },
  // The EC2 SDK (1.2 MB) serves only the default-network lookup, which the deployment's
  // ECS_SUBNETS / ECS_SECURITY_GROUPS make unnecessary; when a block still needs it, the
  // Lambda runtime's SDK provides it.
  bundle: { entry: 'functions/infra/ecs-task.ts', externals: ['@aws-sdk/client-ec2'] },
  config: ECS_CONFIG,
  environment: ecsEnvironment,
  statements: ecsStatements,
};
