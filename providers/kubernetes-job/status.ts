// A Job and its pods (the `job-name` selector) → the run's status. The Job's conditions end it
// (they come in pairs: SuccessCriteriaMet then Complete, FailureTarget then Failed; the first of
// a pair is enough); until then the flow container's pod says what it waits for. A Job being
// deleted, or gone, is not running any more.
import type { InfraStatus } from '../port.js';
import type { Job, Pod } from './client.js';

export const FLOW_CONTAINER = 'prefect-job';

/** Waiting reasons that will not fix themselves (the watch's start timeout ends them). */
const STUCK = new Set([
  'ImagePullBackOff',
  'ErrImagePull',
  'InvalidImageName',
  'CreateContainerConfigError',
  'CreateContainerError',
]);

function trueCondition(job: Job, ...types: string[]) {
  return job.status?.conditions?.find((c) => types.includes(c.type) && c.status === 'True');
}

/** The newest pod (a retried Job has several). */
export function currentPod(pods: readonly Pod[]): Pod | undefined {
  return [...pods].sort((a, b) =>
    (b.metadata.creationTimestamp ?? '').localeCompare(a.metadata.creationTimestamp ?? ''),
  )[0];
}

function flowContainer(pod: Pod | undefined, container: string) {
  const statuses = pod?.status?.containerStatuses ?? [];
  return statuses.find((s) => s.name === container) ?? statuses[0];
}

function words(reason: string | null | undefined, message: string | null | undefined): string {
  return [reason, message].filter(Boolean).join(': ');
}

/** The exit code and a sentence about the flow container's end, from the pods that ran it. */
function terminated(pods: readonly Pod[], container: string) {
  for (const pod of [currentPod(pods), ...pods]) {
    const state = flowContainer(pod, container)?.state?.terminated;
    if (state) {
      return {
        exitCode: state.exitCode,
        text: `container ${container} exited with code ${state.exitCode}${state.reason ? ` (${state.reason})` : ''}`,
      };
    }
  }
  return undefined;
}

export interface StatusOptions {
  container?: string;
  /** The block's job_watch_timeout_seconds: a Job running longer is ended as Crashed. */
  jobWatchTimeoutSeconds?: number | null;
  now?: number;
}

export function statusOf(job: Job, pods: readonly Pod[], options: StatusOptions = {}): InfraStatus {
  const container = options.container ?? FLOW_CONTAINER;
  const name = job.metadata.name;
  const done = terminated(pods, container);
  const complete = trueCondition(job, 'Complete', 'SuccessCriteriaMet');
  if (complete) return { phase: 'succeeded', exit_code: done?.exitCode ?? 0 };
  const failed = trueCondition(job, 'Failed', 'FailureTarget');
  if (failed) {
    const pod = currentPod(pods);
    const podWhy = pod?.status?.reason
      ? words(`pod ${pod.metadata.name} ${pod.status.reason}`, pod.status.message)
      : undefined;
    const reason = [
      `Job ${name} failed (${words(failed.reason, failed.message) || 'no reason given'})`,
      done?.text,
      podWhy,
    ]
      .filter(Boolean)
      .join('; ');
    // an exit code only when the flow ran and ended with one; null: it never ran (evicted, deleted, deadline)
    return { phase: 'failed', exit_code: done && done.exitCode !== 0 ? done.exitCode : null, reason };
  }
  if (job.metadata.deletionTimestamp) {
    return { phase: 'failed', exit_code: null, reason: `Job ${name} is being deleted (its pods first)` };
  }
  const pod = currentPod(pods);
  if (!pod) return { phase: 'pending', reason: `Job ${name} has no pod yet` };
  const phase = pod.status?.phase ?? 'Pending';
  const state = flowContainer(pod, container)?.state;
  if (phase === 'Pending') {
    const unschedulable = pod.status?.conditions?.find(
      (c) => c.type === 'PodScheduled' && c.status === 'False' && c.reason,
    );
    if (unschedulable) {
      return {
        phase: 'pending',
        reason: `pod ${pod.metadata.name}: ${words(unschedulable.reason, unschedulable.message)}`,
      };
    }
    const waiting = state?.waiting;
    if (waiting?.reason) {
      const stuck = STUCK.has(waiting.reason) ? ' (it will not start until that is fixed)' : '';
      return {
        phase: 'pending',
        reason: `pod ${pod.metadata.name}: ${words(waiting.reason, waiting.message)}${stuck}`,
      };
    }
    return { phase: 'pending', reason: `pod ${pod.metadata.name} is Pending` };
  }
  if (options.jobWatchTimeoutSeconds && job.status?.startTime) {
    const ranFor = ((options.now ?? Date.now()) - Date.parse(job.status.startTime)) / 1000;
    if (ranFor > options.jobWatchTimeoutSeconds) {
      return {
        phase: 'failed',
        exit_code: null,
        reason: `Job ${name} did not complete within job_watch_timeout_seconds (${options.jobWatchTimeoutSeconds} s)`,
      };
    }
  }
  if (phase === 'Failed' || phase === 'Succeeded') {
    // the pod ended; the Job controller has not said yet whether the Job did (or it retries)
    return { phase: 'running', reason: `pod ${pod.metadata.name} ${phase}; waiting for the Job's condition` };
  }
  return { phase: 'running' };
}
