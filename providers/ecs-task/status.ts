// DescribeTasks' view of a task → the run's phase, exit code and a reason a person can
// act on (pure; unit-tested with recorded responses for what moto cannot produce).
import type { Container, Task } from '@aws-sdk/client-ecs';
import type { InfraStatus } from '../port.js';
import { clusterName, regionOf, type TaskRef, taskId } from './identifier.js';

const PENDING = new Set(['PROVISIONING', 'PENDING', 'ACTIVATING']);
const STOPPING = new Set(['DEACTIVATING', 'STOPPING', 'DEPROVISIONING', 'DELETED']);

/** Where a task's container writes with the awslogs driver. */
export interface LogLocation {
  group: string;
  stream: string;
  region: string;
}

/** The CloudWatch console's own escaping of names inside its URL fragment. */
function consoleEscape(name: string): string {
  return encodeURIComponent(encodeURIComponent(name)).replace(/%/g, '$');
}

export function taskLinks(ref: TaskRef, logs?: LogLocation): Record<string, string> {
  const region = regionOf(ref.taskArn);
  const links: Record<string, string> = { task_arn: ref.taskArn };
  if (region) {
    links.console = `https://${region}.console.aws.amazon.com/ecs/v2/clusters/${clusterName(ref.cluster)}/tasks/${taskId(ref.taskArn)}?region=${region}`;
  }
  if (logs) {
    links.log_group = logs.group;
    links.log_stream = logs.stream;
    links.logs_console = `https://${logs.region}.console.aws.amazon.com/cloudwatch/home?region=${logs.region}#logsV2:log-groups/log-group/${consoleEscape(logs.group)}/log-events/${consoleEscape(logs.stream)}`;
  }
  return links;
}

interface Diagnosis {
  pattern: RegExp;
  explain: (detail: string) => string;
}

/** Known causes, most specific first; `detail` is what ECS said. */
const DIAGNOSES: Diagnosis[] = [
  {
    pattern: /CannotPullContainerError/,
    explain: (detail) =>
      `the image could not be pulled (${detail}): check that the image name and tag exist, that the execution role ` +
      'may read the registry (ECR needs ecr:GetAuthorizationToken and ecr:BatchGetImage), and that the subnets ' +
      'reach it (a public IP, a NAT gateway or VPC endpoints)',
  },
  {
    pattern: /ResourceInitializationError/,
    explain: (detail) =>
      `the task could not be initialised (${detail}): usually the execution role cannot read one of the 'secrets' ` +
      'or write the log group, or the subnets cannot reach Secrets Manager, SSM, CloudWatch Logs or ECR',
  },
  {
    pattern: /OutOfMemory/i,
    explain: (detail) => `the container ran out of memory (${detail}): raise 'memory'`,
  },
  {
    pattern: /CannotStartContainerError|CannotCreateContainerError|ContainerRuntimeError/,
    explain: (detail) =>
      `the container could not be started (${detail}): check 'command' and the image's entrypoint`,
  },
  {
    pattern: /SpotInterruption/,
    explain: (detail) =>
      `Fargate Spot took the capacity back (${detail}): use launch_type FARGATE for runs that must not be interrupted`,
  },
];

function explain(texts: (string | undefined)[]): string | undefined {
  const detail = texts.filter((text): text is string => Boolean(text)).join('; ');
  if (!detail) return undefined;
  for (const diagnosis of DIAGNOSES) if (diagnosis.pattern.test(detail)) return diagnosis.explain(detail);
  return undefined;
}

function stopWords(task: Task): string {
  const code = task.stopCode ? `${task.stopCode}` : 'stopped';
  return task.stoppedReason ? `${code}: ${task.stoppedReason}` : code;
}

function stoppedStatus(task: Task, containerName: string): InfraStatus {
  const container: Container | undefined = task.containers?.find((c) => c.name === containerName);
  const code = container?.exitCode;
  const diagnosed = explain([container?.reason, task.stoppedReason, task.stopCode]);
  if (typeof code === 'number') {
    if (code === 0) return { phase: 'succeeded', exit_code: 0 };
    const detail = diagnosed ?? (container?.reason ? `: ${container.reason}` : '');
    const stopped =
      task.stopCode === 'UserInitiated' ? ` after the task was stopped (${stopWords(task)})` : '';
    return {
      phase: 'failed',
      exit_code: code,
      reason: diagnosed
        ? `the container '${containerName}' exited with status code ${code}: ${detail}`
        : `the container '${containerName}' exited with status code ${code}${stopped}${detail}`,
    };
  }
  // No exit code: the flow run never ran, or was cut short (a crash, not a flow failure).
  if (diagnosed) return { phase: 'failed', exit_code: null, reason: diagnosed };
  if (!container) {
    const known = (task.containers ?? []).map((c) => c.name).filter(Boolean);
    const why =
      task.stopCode === 'TaskFailedToStart'
        ? `the task failed to start (${stopWords(task)})`
        : `the task stopped (${stopWords(task)})`;
    return {
      phase: 'failed',
      exit_code: null,
      reason: known.length
        ? `${why}, and it has no container named '${containerName}' (it has ${known.join(', ')}): fix 'container_name'`
        : `${why} before any container ran`,
    };
  }
  if (task.stopCode === 'EssentialContainerExited') {
    const other = task.containers?.find((c) => c.name !== containerName && typeof c.exitCode === 'number');
    if (other) {
      return {
        phase: 'failed',
        exit_code: null,
        reason: `the essential container '${other.name}' exited with status code ${other.exitCode} and stopped the task before '${containerName}' finished`,
      };
    }
  }
  const wording = task.stopCode === 'TaskFailedToStart' ? 'failed to start' : 'stopped';
  return {
    phase: 'failed',
    exit_code: null,
    reason: `the task ${wording} before the container '${containerName}' reported an exit code (${stopWords(task)})`,
  };
}

/** The run's status from a DescribeTasks answer; `undefined` task = not found. */
export function statusOf(task: Task | undefined, ref: TaskRef, containerName: string): InfraStatus {
  if (!task) {
    return {
      phase: 'missing',
      reason: `task ${taskId(ref.taskArn)} is not in cluster '${ref.cluster}' (ECS forgets stopped tasks after about an hour)`,
      links: taskLinks(ref),
    };
  }
  const links = taskLinks(ref);
  const last = task.lastStatus ?? 'PENDING';
  if (last === 'STOPPED') return { ...stoppedStatus(task, containerName), links };
  if (PENDING.has(last)) {
    return { phase: 'pending', reason: `task ${last.toLowerCase()}`, links };
  }
  if (STOPPING.has(last)) {
    const why = task.stoppedReason ? ` (${task.stoppedReason})` : '';
    // a task that never started stays "pending": the start timeout still applies to it
    const phase = task.stopCode === 'TaskFailedToStart' ? 'pending' : 'running';
    return { phase, reason: `task ${last.toLowerCase()}${why}`, links };
  }
  return { phase: 'running', reason: `task ${last.toLowerCase()}`, links };
}
