// The `ecs-task` provider: one ECS task per flow run, as a driver of the shared runtime.
// find: ListTasks by startedBy (the flow run's idempotency key). create: find-or-register
// the definition, fill what the block and the deployment left open of the network from
// the VPC, RunTask with a clientToken (once per attempt; the runtime looks before trying
// again). status: DescribeTasks → phase, exit code, diagnosis, log links; the log tail at
// the end. stop: StopTask with a reason (ECS sends SIGKILL after the container's stopTimeout).
// remove: deregister our definition when asked.
import {
  DescribeTasksCommand,
  type ECSClient,
  ListTasksCommand,
  RunTaskCommand,
  StopTaskCommand,
  type Task,
} from '@aws-sdk/client-ecs';
import * as z from 'zod';
import { ProviderPermanentError, ProviderTransientError } from '../../core/errors.js';
import { idempotencyKey } from '../identity.js';
import type { Provider, Target } from '../port.js';
import { type Driver, defineProvider, type Found, type RuntimeOptions } from '../runtime/provider.js';
import { AwsClients, awsErrorName, causeOf, DEFAULT_RETRY, type RetryPolicy, withRetry } from './aws.js';
import type { EcsTaskBlock } from './block.js';
import { buildEcsRequest, type EcsRequest } from './build.js';
import type { Ec2SdkLoader } from './ec2-sdk.js';
import { DEFAULT_CLUSTER, formatIdentifier, type TaskRef } from './identifier.js';
import { logLocation, tailLogs } from './logs.js';
import { resolveNetwork } from './network.js';
import { ecsTaskSpec } from './spec.js';
import { type LogLocation, statusOf, taskLinks } from './status.js';
import { TaskDefinitions } from './task-definitions.js';

export interface EcsTaskProviderOptions {
  /** Merged into every SDK client's config (e.g. an endpoint); the block's aws_credentials still win. */
  clientConfig?: Record<string, unknown>;
  retry?: Partial<RetryPolicy>;
  /** Where build reads AWS_REGION (for the awslogs driver) and the deployment's ECS_* defaults. */
  env?: NodeJS.ProcessEnv;
  /** How the EC2 SDK is loaded for the default-network lookups (default: require, see ec2-sdk.ts). */
  loadEc2?: Ec2SdkLoader;
  runtime?: RuntimeOptions;
}

const LogLocationSchema = z.object({ group: z.string(), stream: z.string(), region: z.string() });

/** What Submit saves for a task: where it runs, which container is the flow run's, where it logs. */
export const EcsHandleSchema = z.object({
  cluster: z.string().min(1),
  taskArn: z.string().regex(/^arn:aws[a-z-]*:ecs:[^:]*:[^:]*:task\/.+/, 'expected an ECS task ARN'),
  container: z.string().min(1),
  /** Known at submit for a definition we registered; otherwise looked up when the task ends. */
  logs: LogLocationSchema.optional(),
});
export type EcsHandle = z.infer<typeof EcsHandleSchema>;

const STOP_REASON_LIMIT = 255;

const explainCluster =
  (cluster: string) =>
  (error: unknown): string | undefined => {
    const name = awsErrorName(error);
    const text = error instanceof Error ? error.message : String(error);
    if (name === 'ClusterNotFoundException') {
      return cluster === DEFAULT_CLUSTER
        ? "the default ECS cluster does not exist in this region: create it ('aws ecs create-cluster') or set 'cluster'"
        : `cluster '${cluster}' was not found in this region: fix 'cluster' (or the region / aws_credentials)`;
    }
    if (name === 'PlatformUnknownException' || name === 'PlatformTaskDefinitionIncompatibilityException') {
      return `${text}: check launch_type and the task definition's requiresCompatibilities`;
    }
    if (name === 'ConflictException') {
      return `a task was already started for this flow run with different parameters (${text}); the block changed between attempts`;
    }
    const invalidNetwork = name.startsWith('InvalidSubnet') || name.startsWith('InvalidGroup');
    if (name === 'InvalidParameterException' || name === 'ClientException' || invalidNetwork) {
      if (/subnet/i.test(text))
        return `${text}: fix 'network_configuration.subnets' or 'vpc_id' (for blocks that give neither: the deployment's ECS_SUBNETS)`;
      if (/security ?group/i.test(text))
        return `${text}: fix 'network_configuration.securityGroups' (for blocks that give no network: the deployment's ECS_SECURITY_GROUPS)`;
      if (/role/i.test(text)) return `${text}: fix 'task_role_arn' / 'execution_role_arn'`;
      if (/capacity ?provider/i.test(text))
        return `${text}: fix 'capacity_provider_strategy' or 'launch_type'`;
      return `${text}: check the block's fields and task_customizations`;
    }
    return undefined;
  };

function isInactiveDefinition(error: unknown): boolean {
  const text = (causeOf(error) as Error | undefined)?.message ?? '';
  return (
    error instanceof ProviderPermanentError &&
    /task ?definition.*(inactive|unable to describe)|unable to describe task definition/i.test(text)
  );
}

function isClusterMissing(error: unknown): boolean {
  return awsErrorName(causeOf(error)) === 'ClusterNotFoundException';
}

export function createEcsTaskProvider(
  options: EcsTaskProviderOptions = {},
): Provider<EcsTaskBlock, EcsRequest, EcsHandle> {
  const retry: RetryPolicy = { ...DEFAULT_RETRY, ...options.retry };
  const clients = new AwsClients(options.clientConfig, options.loadEc2);
  const definitions = new TaskDefinitions(retry);
  const build = (target: Target<EcsTaskBlock>) => buildEcsRequest(target, options.env ?? process.env);
  const clusterOf = (request: EcsRequest) => request.runTask.cluster ?? DEFAULT_CLUSTER;
  const startedByOf = (target: Target<EcsTaskBlock>, request: EcsRequest) =>
    request.runTask.startedBy ?? idempotencyKey(target.flowRun.id);

  /** Tasks started for this flow run, still running first; empty when there are none. */
  async function tasksFor(ecs: ECSClient, cluster: string, startedBy: string): Promise<string[]> {
    const found: string[] = [];
    for (const desiredStatus of ['RUNNING', 'STOPPED'] as const) {
      let nextToken: string | undefined;
      do {
        const page = await withRetry(
          'ListTasks',
          () =>
            ecs.send(
              new ListTasksCommand({
                cluster,
                startedBy,
                desiredStatus,
                ...(nextToken ? { nextToken } : {}),
              }),
            ),
          retry,
          explainCluster(cluster),
        );
        found.push(...(page.taskArns ?? []).sort());
        nextToken = page.nextToken;
      } while (nextToken);
    }
    return [...new Set(found)];
  }

  async function describe(ecs: ECSClient, ref: TaskRef): Promise<Task | undefined> {
    const out = await withRetry(
      'DescribeTasks',
      () => ecs.send(new DescribeTasksCommand({ cluster: ref.cluster, tasks: [ref.taskArn] })),
      retry,
      explainCluster(ref.cluster),
    );
    return out.tasks?.find((task) => task.taskArn === ref.taskArn);
  }

  function handleFor(
    target: Target<EcsTaskBlock>,
    request: EcsRequest,
    cluster: string,
    taskArn: string,
  ): EcsHandle {
    const container = target.block.container_name;
    const definition = request.taskDefinition?.containerDefinitions?.find((c) => c.name === container);
    const logs = logLocation(definition, taskArn);
    return { cluster, taskArn, container, ...(logs ? { logs } : {}) };
  }

  /** For a task of a definition we did not register, where it logs (looked up once it has ended). */
  async function logsOf(ecs: ECSClient, handle: EcsHandle, task: Task): Promise<LogLocation | undefined> {
    if (handle.logs) return handle.logs;
    if (!task.taskDefinitionArn) return undefined;
    const described = await definitions.describe(ecs, task.taskDefinitionArn).catch(() => undefined);
    const container = described?.containerDefinitions?.find((c) => c.name === handle.container);
    return logLocation(container, handle.taskArn);
  }

  async function stop(ecs: ECSClient, ref: TaskRef, reason: string): Promise<void> {
    try {
      await withRetry(
        'StopTask',
        () =>
          ecs.send(
            new StopTaskCommand({
              cluster: ref.cluster,
              task: ref.taskArn,
              reason: reason.slice(0, STOP_REASON_LIMIT),
            }),
          ),
        retry,
        explainCluster(ref.cluster),
      );
    } catch (error) {
      // already gone is what we wanted
      if (
        error instanceof ProviderPermanentError &&
        (error.kind === 'not-found' || /not found/i.test((causeOf(error) as Error)?.message ?? ''))
      )
        return;
      throw error;
    }
  }

  const driver: Driver<EcsTaskBlock, EcsRequest, EcsHandle> = {
    handleSchema: EcsHandleSchema,
    identify: (handle) => formatIdentifier(handle),

    async find(target, request): Promise<Found<EcsHandle> | undefined> {
      const cluster = clusterOf(request);
      const ecs = clients.ecs(target.block.aws_credentials);
      const [taskArn] = await tasksFor(ecs, cluster, startedByOf(target, request));
      return taskArn ? { handle: handleFor(target, request, cluster, taskArn), started: true } : undefined;
    },

    async prepare(target, request) {
      const { block } = target;
      const ecs = clients.ecs(block.aws_credentials);
      if (request.taskDefinition) await definitions.ensure(ecs, request.taskDefinition);
      const runTask = await resolveNetwork(request.runTask, {
        vpcId: block.vpc_id,
        ec2: () => clients.ec2(block.aws_credentials),
        retry,
        region: await clients.region(block.aws_credentials),
      });
      return { ...request, runTask };
    },

    async create(target, request) {
      const cluster = clusterOf(request);
      const ecs = clients.ecs(target.block.aws_credentials);
      const input = request.runTask;
      for (let refreshed = false; ; refreshed = true) {
        try {
          // one try per call: a RunTask whose answer was lost may have started the task, so the runtime looks first
          const out = await withRetry(
            'RunTask',
            () => ecs.send(new RunTaskCommand(input)),
            { ...retry, attempts: 1 },
            explainCluster(cluster),
          );
          const taskArn = out.tasks?.[0]?.taskArn;
          if (taskArn) return { handle: handleFor(target, request, cluster, taskArn), started: true };
          const failure = out.failures?.[0];
          const why = `${failure?.reason ?? 'no task and no failure'}${failure?.detail ? ` (${failure.detail})` : ''}`;
          if (failure?.reason?.startsWith('RESOURCE:') || failure?.reason === 'AGENT') {
            throw new ProviderTransientError(
              `RunTask placed no task: ${why}; the cluster has no capacity for it yet`,
            );
          }
          throw new ProviderPermanentError(`RunTask placed no task: ${why}`);
        } catch (error) {
          if (!isInactiveDefinition(error) || !request.taskDefinition?.family || refreshed) throw error;
          // deregistered under us (e.g. auto_deregister of a concurrent run): register again, once
          definitions.forget(request.taskDefinition.family);
          await definitions.ensure(ecs, request.taskDefinition);
        }
      }
    },

    async status(target, handle) {
      const ecs = clients.ecs(target.block.aws_credentials);
      const task = await describe(ecs, handle);
      const result = statusOf(task, handle, handle.container);
      if (!task) return result;
      const final = result.phase === 'succeeded' || result.phase === 'failed';
      // for a definition we registered the log location is in the handle; for an ARN, only look at the end
      const logs = handle.logs ?? (final ? await logsOf(ecs, handle, task) : undefined);
      return logs ? { ...result, links: taskLinks(handle, logs) } : result;
    },

    async logs(target, handle, lines) {
      const ecs = clients.ecs(target.block.aws_credentials);
      const task = handle.logs ? undefined : await describe(ecs, handle);
      const logs = handle.logs ?? (task ? await logsOf(ecs, handle, task) : undefined);
      if (!logs) return undefined;
      return tailLogs(clients.logs(target.block.aws_credentials, logs.region), logs, lines);
    },

    async stop(target, handle, request) {
      const ecs = clients.ecs(target.block.aws_credentials);
      const task = await describe(ecs, handle);
      if (!task || task.lastStatus === 'STOPPED') return;
      // ECS sends SIGTERM, then SIGKILL after the container's stopTimeout: a forced stop asks again
      if (request.force && task.desiredStatus === 'STOPPED') return;
      await stop(ecs, handle, request.reason);
    },

    async remove(target, request) {
      if (target.block.auto_deregister_task_definition && request.taskDefinition?.family) {
        await definitions.deregister(
          clients.ecs(target.block.aws_credentials),
          request.taskDefinition.family,
        );
      }
    },
  };

  const provider = defineProvider({ ...ecsTaskSpec, build }, driver, { retry, ...options.runtime });
  return {
    ...provider,
    async cleanup(target, handle) {
      try {
        await provider.cleanup(target, handle);
      } catch (error) {
        // nothing can be running in a cluster that does not exist
        if (!isClusterMissing(error)) throw error;
        await driver.remove?.(target, build(target), undefined);
      }
    },
  };
}

/** The provider a deployed ECS function runs (clients from the standard AWS configuration). */
export const ecsTaskProvider = createEcsTaskProvider();
