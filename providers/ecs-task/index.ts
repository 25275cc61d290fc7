// The `ecs-task` provider: one ECS task per flow run.
// submit: adopt the task already started for this flow run (ListTasks by startedBy), else
// find-or-register the definition, fill what the block and the deployment left open of the
// network from the VPC, RunTask with a clientToken.
// status: DescribeTasks → phase, exit code, diagnosis, log links and the last log lines.
// kill: StopTask with a reason, then wait for STOPPED. cleanup: stop what is left (found
// by flow run when submit failed half-way); deregister our definition when asked.
import {
  DescribeTasksCommand,
  type ECSClient,
  ListTasksCommand,
  RunTaskCommand,
  type RunTaskCommandInput,
  StopTaskCommand,
  type Task,
} from '@aws-sdk/client-ecs';
import { ProviderPermanentError, ProviderTransientError } from '../../core/errors.js';
import { idempotencyKey } from '../identity.js';
import type { InfraStatus, Provider, Submission, Target } from '../port.js';
import {
  AwsClients,
  awsErrorName,
  backoffMs,
  causeOf,
  DEFAULT_RETRY,
  errorText,
  type RetryPolicy,
  withRetry,
} from './aws.js';
import type { EcsTaskBlock } from './block.js';
import { buildEcsRequest, type EcsRequest } from './build.js';
import type { Ec2SdkLoader } from './ec2-sdk.js';
import { DEFAULT_CLUSTER, formatIdentifier, parseIdentifier, type TaskRef } from './identifier.js';
import { logLocation, TAIL_LINES, tailLogs } from './logs.js';
import { resolveNetwork } from './network.js';
import { ecsTaskSpec } from './spec.js';
import { type LogLocation, statusOf, taskLinks } from './status.js';
import { TaskDefinitions } from './task-definitions.js';

export interface EcsTaskProviderOptions {
  /** Merged into every SDK client's config (e.g. an endpoint); the block's aws_credentials still win. */
  clientConfig?: Record<string, unknown>;
  retry?: Partial<RetryPolicy>;
  /** How often kill checks whether the task has stopped (ms). */
  killPollMs?: number;
  logLines?: number;
  /** Where build reads AWS_REGION (for the awslogs driver) and the deployment's ECS_* defaults. */
  env?: NodeJS.ProcessEnv;
  /** How the EC2 SDK is loaded for the default-network lookups (default: require, see ec2-sdk.ts). */
  loadEc2?: Ec2SdkLoader;
}

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

export function createEcsTaskProvider(
  options: EcsTaskProviderOptions = {},
): Provider<EcsTaskBlock, EcsRequest> {
  const retry: RetryPolicy = { ...DEFAULT_RETRY, ...options.retry };
  const clients = new AwsClients(options.clientConfig, options.loadEc2);
  const definitions = new TaskDefinitions(retry);
  const killPollMs = options.killPollMs ?? 2000;
  const logLines = options.logLines ?? TAIL_LINES;
  const build = (target: Target<EcsTaskBlock>) => buildEcsRequest(target, options.env ?? process.env);

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

  /** RunTask, never blindly repeated: after a failed attempt, a task that did start is adopted. */
  async function runTask(
    ecs: ECSClient,
    input: RunTaskCommandInput,
    cluster: string,
    request: EcsRequest,
  ): Promise<Submission> {
    const startedBy = input.startedBy ?? '';
    let refreshedDefinition = false;
    for (let attempt = 1; ; attempt++) {
      try {
        const out = await withRetry(
          'RunTask',
          () => ecs.send(new RunTaskCommand(input)),
          { ...retry, attempts: 1 },
          explainCluster(cluster),
        );
        const taskArn = out.tasks?.[0]?.taskArn;
        if (taskArn) return { identifier: formatIdentifier({ cluster, taskArn }), adopted: false };
        const failure = out.failures?.[0];
        const why = `${failure?.reason ?? 'no task and no failure'}${failure?.detail ? ` (${failure.detail})` : ''}`;
        if (failure?.reason?.startsWith('RESOURCE:') || failure?.reason === 'AGENT') {
          throw new ProviderTransientError(
            `RunTask placed no task: ${why}; the cluster has no capacity for it yet`,
          );
        }
        throw new ProviderPermanentError(`RunTask placed no task: ${why}`);
      } catch (error) {
        if (isInactiveDefinition(error) && request.taskDefinition?.family && !refreshedDefinition) {
          // deregistered under us (e.g. auto_deregister of a concurrent run): register again, once
          refreshedDefinition = true;
          definitions.forget(request.taskDefinition.family);
          await definitions.ensure(ecs, request.taskDefinition);
          continue;
        }
        if (!(error instanceof ProviderTransientError)) throw error;
        if (attempt >= retry.attempts) {
          const cause = causeOf(error);
          if (!cause) throw error;
          throw new ProviderTransientError(
            `RunTask failed ${attempt} times, last with ${awsErrorName(cause)}: ${errorText(cause)}`,
            { cause },
          );
        }
        await retry.sleep(backoffMs(attempt, retry));
        // The failed call may have started the task (a lost response): look before trying again.
        const started = await tasksFor(ecs, cluster, startedBy);
        if (started[0])
          return { identifier: formatIdentifier({ cluster, taskArn: started[0] }), adopted: true };
      }
    }
  }

  async function logsOf(target: Target<EcsTaskBlock>, request: EcsRequest, ecs: ECSClient, task: Task) {
    const name = target.block.container_name;
    let container = request.taskDefinition?.containerDefinitions?.find((c) => c.name === name);
    if (!request.taskDefinition && task.taskDefinitionArn) {
      const described = await definitions.describe(ecs, task.taskDefinitionArn).catch(() => undefined);
      container = described?.containerDefinitions?.find((c) => c.name === name);
    }
    return task.taskArn ? logLocation(container, task.taskArn) : undefined;
  }

  async function status(target: Target<EcsTaskBlock>, identifier: string): Promise<InfraStatus> {
    const ref = parseIdentifier(identifier);
    const ecs = clients.ecs(target.block.aws_credentials);
    const task = await describe(ecs, ref);
    const result = statusOf(task, ref, target.block.container_name);
    if (!task) return result;
    const request = build(target);
    const final = result.phase === 'succeeded' || result.phase === 'failed';
    // for a definition we registered the log location is known without a call; for an ARN, only look at the end
    let logs: LogLocation | undefined;
    if (request.taskDefinition || final) logs = await logsOf(target, request, ecs, task);
    if (!logs) return result;
    const withLinks = { ...result, links: taskLinks(ref, logs) };
    if (!final) return withLinks;
    const tail = await tailLogs(clients.logs(target.block.aws_credentials, logs.region), logs, logLines);
    return tail === undefined ? withLinks : { ...withLinks, logs_tail: tail };
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
        /not found/i.test((causeOf(error) as Error)?.message ?? '')
      )
        return;
      throw error;
    }
  }

  async function kill(target: Target<EcsTaskBlock>, identifier: string, graceSeconds: number): Promise<void> {
    const ref = parseIdentifier(identifier);
    const ecs = clients.ecs(target.block.aws_credentials);
    const before = await describe(ecs, ref);
    if (!before || before.lastStatus === 'STOPPED') return;
    // ECS sends SIGTERM, then SIGKILL after the container's stopTimeout (default 30 s).
    await stop(ecs, ref, `Stopped by the flow-run submitter for flow run ${target.flowRun.id}`);
    const deadline = Date.now() + (graceSeconds + 5) * 1000;
    while (Date.now() < deadline) {
      const now = await describe(ecs, ref);
      if (!now || now.lastStatus === 'STOPPED') return;
      await retry.sleep(killPollMs);
    }
  }

  return {
    ...ecsTaskSpec,
    build,

    async submit(target): Promise<Submission> {
      const request = build(target);
      const { block } = target;
      const cluster = request.runTask.cluster ?? DEFAULT_CLUSTER;
      const ecs = clients.ecs(block.aws_credentials);
      const startedBy = request.runTask.startedBy ?? idempotencyKey(target.flowRun.id);
      const existing = await tasksFor(ecs, cluster, startedBy);
      if (existing[0])
        return { identifier: formatIdentifier({ cluster, taskArn: existing[0] }), adopted: true };
      if (request.taskDefinition) await definitions.ensure(ecs, request.taskDefinition);
      const input = await resolveNetwork(request.runTask, {
        vpcId: block.vpc_id,
        ec2: () => clients.ec2(block.aws_credentials),
        retry,
        region: await clients.region(block.aws_credentials),
      });
      return runTask(ecs, input, cluster, request);
    },

    status,
    kill,

    async cleanup(target, identifier) {
      const { block } = target;
      const ecs = clients.ecs(block.aws_credentials);
      const request = build(target);
      const cluster = request.runTask.cluster ?? DEFAULT_CLUSTER;
      const refs: TaskRef[] = identifier
        ? [parseIdentifier(identifier)]
        : await tasksFor(ecs, cluster, request.runTask.startedBy ?? idempotencyKey(target.flowRun.id))
            .then((arns) => arns.map((taskArn) => ({ cluster, taskArn })))
            .catch((error: unknown) => {
              // nothing can be running in a cluster that does not exist
              if (awsErrorName(causeOf(error)) === 'ClusterNotFoundException') return [];
              throw error;
            });
      for (const ref of refs) {
        const task = await describe(ecs, ref);
        if (task && task.lastStatus !== 'STOPPED' && task.desiredStatus !== 'STOPPED') {
          await stop(ecs, ref, `Cleaned up by the flow-run submitter for flow run ${target.flowRun.id}`);
        }
      }
      if (block.auto_deregister_task_definition && request.taskDefinition?.family) {
        await definitions.deregister(ecs, request.taskDefinition.family);
      }
    },
  };
}

/** The provider a deployed ECS function runs (clients from the standard AWS configuration). */
export const ecsTaskProvider = createEcsTaskProvider();
