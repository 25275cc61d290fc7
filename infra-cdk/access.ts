// Least-privilege IAM: each function gets the actions its code calls, on the resources
// this deployment owns or was configured with. No action is a wildcard.
import { Arn, ArnFormat, type Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import type { BlockType } from '../providers/blocks.js';
import type { SubmitterConfig } from './config.js';

/** Store areas, as key prefixes under the store prefix. */
export const STORE_AREAS = {
  blocks: 'blocks/',
  runs: 'runs/',
  rejected: 'rejected/',
} as const;
export type StoreArea = keyof typeof STORE_AREAS;

function objects(bucket: s3.IBucket, prefix: string, areas: readonly StoreArea[]): string[] {
  const base = prefix ? `${prefix}/` : '';
  return areas.map((area) => bucket.arnForObjects(`${base}${STORE_AREAS[area]}*`));
}

/**
 * Read (and optionally write) parts of the store. ListBucket lets a missing key answer
 * 404 instead of 403, which the store reads as "absent".
 */
export function storeStatements(
  bucket: s3.IBucket,
  prefix: string,
  access: { read: readonly StoreArea[]; write?: readonly StoreArea[] },
): iam.PolicyStatement[] {
  const statements = [
    new iam.PolicyStatement({ actions: ['s3:ListBucket'], resources: [bucket.bucketArn] }),
    new iam.PolicyStatement({ actions: ['s3:GetObject'], resources: objects(bucket, prefix, access.read) }),
  ];
  if (access.write?.length) {
    statements.push(
      new iam.PolicyStatement({
        actions: ['s3:PutObject'],
        resources: objects(bucket, prefix, access.write),
      }),
    );
  }
  return statements;
}

/** A secret given by complete ARN (`…-AbC123`) or partial ARN (without the random suffix). */
export function secretStatement(secretArn: string): iam.PolicyStatement {
  return new iam.PolicyStatement({
    actions: ['secretsmanager:GetSecretValue'],
    resources: [secretArn, `${secretArn}-??????`],
  });
}

export function ecsClusterArn(scope: Stack, cluster: string): string {
  return cluster.startsWith('arn:')
    ? cluster
    : scope.formatArn({ service: 'ecs', resource: 'cluster', resourceName: cluster });
}

function clusterName(clusterArn: string): string {
  return Arn.split(clusterArn, ArnFormat.SLASH_RESOURCE_NAME).resourceName ?? clusterArn;
}

/** ECS: run, watch and stop tasks on the configured cluster only; pass only the configured roles. */
export function ecsStatements(scope: Stack, ecs: NonNullable<SubmitterConfig['ecs']>): iam.PolicyStatement[] {
  const cluster = ecsClusterArn(scope, ecs.cluster);
  const onCluster = { ArnEquals: { 'ecs:cluster': cluster } };
  const tasks = scope.formatArn({
    service: 'ecs',
    resource: 'task',
    resourceName: `${clusterName(cluster)}/*`,
  });
  const taskDefinitions = ecs.taskDefinitionFamilies.map((family) =>
    scope.formatArn({ service: 'ecs', resource: 'task-definition', resourceName: `${family}:*` }),
  );
  const statements = [
    new iam.PolicyStatement({
      sid: 'RunTasksOnTheClusterOnly',
      actions: ['ecs:RunTask'],
      resources: taskDefinitions,
      conditions: onCluster,
    }),
    new iam.PolicyStatement({
      sid: 'WatchAndStopTasksOnTheCluster',
      actions: ['ecs:DescribeTasks', 'ecs:StopTask'],
      resources: [tasks],
      conditions: onCluster,
    }),
    new iam.PolicyStatement({
      sid: 'FindTasksOnTheCluster',
      actions: ['ecs:ListTasks'],
      // ListTasks is authorised on container instances; the cluster condition scopes it
      resources: ['*'],
      conditions: onCluster,
    }),
    new iam.PolicyStatement({
      sid: 'TagTasksAtLaunch',
      actions: ['ecs:TagResource'],
      resources: [tasks, ...taskDefinitions],
      conditions: { StringEquals: { 'ecs:CreateAction': ['RunTask', 'RegisterTaskDefinition'] } },
    }),
    new iam.PolicyStatement({
      sid: 'TaskDefinitions',
      // these actions have no resource-level permissions in ECS
      actions: [
        'ecs:RegisterTaskDefinition',
        'ecs:DescribeTaskDefinition',
        'ecs:DeregisterTaskDefinition',
        'ecs:ListTaskDefinitions',
      ],
      resources: ['*'],
    }),
    new iam.PolicyStatement({
      sid: 'DefaultNetwork',
      // read-only, no resource-level permissions: finds default subnets when a block gives none
      actions: ['ec2:DescribeSubnets', 'ec2:DescribeVpcs', 'ec2:DescribeSecurityGroups'],
      resources: ['*'],
    }),
    new iam.PolicyStatement({
      sid: 'ReadTaskLogs',
      actions: ['logs:GetLogEvents'],
      resources: ecs.logGroupNames.flatMap((name) => [
        scope.formatArn({
          service: 'logs',
          resource: 'log-group',
          resourceName: `${name}:*`,
          arnFormat: ArnFormat.COLON_RESOURCE_NAME,
        }),
      ]),
    }),
  ];
  const roles = [...ecs.taskRoleArns, ...ecs.executionRoleArns];
  if (roles.length) {
    statements.push(
      new iam.PolicyStatement({
        sid: 'PassOnlyTheConfiguredRoles',
        actions: ['iam:PassRole'],
        resources: [...new Set(roles)],
        conditions: { StringEquals: { 'iam:PassedToService': 'ecs-tasks.amazonaws.com' } },
      }),
    );
  }
  return statements;
}

/** What each provider's function may do in AWS, beyond reading the store. */
export function providerStatements(
  scope: Stack,
  type: BlockType,
  config: SubmitterConfig,
): iam.PolicyStatement[] {
  switch (type) {
    case 'ecs-task':
      return config.ecs ? ecsStatements(scope, config.ecs) : [];
    case 'cloud-run-job':
      return config.google ? [secretStatement(config.google.credentialsSecretArn)] : [];
    case 'container-instance-job':
      return config.azure ? [secretStatement(config.azure.credentialsSecretArn)] : [];
    case 'docker-container':
    case 'kubernetes-job':
    case 'process':
      return [];
  }
}

/** Environment a provider's function needs beyond the store (settings the provider reads). */
export function providerEnvironment(
  scope: Stack,
  type: BlockType,
  config: SubmitterConfig,
): Record<string, string> {
  switch (type) {
    case 'ecs-task': {
      if (!config.ecs) return {};
      const { ecs } = config;
      return {
        ECS_CLUSTER: ecsClusterArn(scope, ecs.cluster),
        ...(ecs.subnetIds.length ? { ECS_SUBNETS: ecs.subnetIds.join(',') } : {}),
        ...(ecs.securityGroupIds.length ? { ECS_SECURITY_GROUPS: ecs.securityGroupIds.join(',') } : {}),
      };
    }
    case 'cloud-run-job':
      return config.google ? { GOOGLE_CREDENTIALS_SECRET_ARN: config.google.credentialsSecretArn } : {};
    case 'container-instance-job':
      return config.azure ? { AZURE_CREDENTIALS_SECRET_ARN: config.azure.credentialsSecretArn } : {};
    case 'process':
      // run records of local subprocesses: /tmp is the only writable place in Lambda
      return { SUBMITTER_HOME: '/tmp/submitter' };
    default:
      return {};
  }
}
