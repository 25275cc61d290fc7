// A worker's part of a flow run's life, step by step (what src/prefect/workers/base.py does
// at ce79dd3d6cfa2b7337265498210dbc4d25bcdc98): create the run from its deployment when the
// event only names one (Trigger), refuse a finished one and propose Pending once (Prepare),
// record the infrastructure (Submit), follow Cancelling / deletion (Watch), propose Crashed
// or Cancelled at the end, never over a terminal or paused state and never with force (Report).
import * as z from 'zod';
import { ProviderTransientError, SubmitterError } from '../../../core/errors.js';
import type { Unwrapped } from '../../../events/envelopes.js';
import type { Deps } from '../deps.js';
import { executionName, type Report } from '../state.js';
import { isTerminal, type PrefectFlowRun, type ProposedState } from './schemas.js';

/** The flow run cannot be started: finished, deleted, or Prefect refused Pending. Reported, nothing submitted. */
export class FlowRunNotStartedError extends SubmitterError {}

export function prefectKey(flowRunId: string): string {
  return `runs/${flowRunId}/prefect.json`;
}
/** Consecutive failed reads of the flow run while watching (polls are retries: state cannot carry it). */
export function prefectWatchKey(flowRunId: string): string {
  return `runs/${flowRunId}/prefect-watch.json`;
}

const MarkerSchema = z.object({
  /** `proposed`: Pending was sent (its answer may have been lost); `accepted`: Prefect accepted it. */
  pending: z.enum(['proposed', 'accepted']),
  at: z.string(),
});
type Marker = z.infer<typeof MarkerSchema>;

async function readMarker(deps: Deps, flowRunId: string): Promise<Marker | undefined> {
  const body = await deps.store.get(prefectKey(flowRunId));
  if (body === undefined) return undefined;
  const parsed = MarkerSchema.safeParse(JSON.parse(body));
  return parsed.success ? parsed.data : undefined;
}

/** The message of our Pending: a retried Prepare recognises its own proposal by it. */
export function pendingMessage(flowRunId: string): string {
  return `Submitted by the flow-run submitter (execution ${executionName(flowRunId)})`;
}

/** The idempotency key of a flow run we create: our deterministic id (a schedule tick's), so redeliveries create one. */
export function creationKey(flowRunId: string): string {
  return `flow-run-submitter:${flowRunId}`;
}

function record(value: unknown): Record<string, unknown> | undefined {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : undefined;
}

/**
 * Trigger: an event for a flow run that does not exist in Prefect yet, but names its
 * deployment (a cron tick always; any event with flow_run.deployment_id, or flow_name and
 * deployment_name) → create it with create_flow_run and our id as idempotency_key, and go
 * on with Prefect's id. Every redelivery gets the same flow run back, hence one execution.
 * A work-pool event also takes the flow run's own job variables (read once, with the same GET).
 */
export async function ensureFlowRun(deps: Deps, unwrapped: Unwrapped): Promise<Unwrapped> {
  const prefect = deps.prefect;
  const event = record(unwrapped.event);
  const flowRun = record(event?.flow_run);
  if (!prefect || !event || !flowRun || typeof flowRun.id !== 'string') return unwrapped;
  const str = (key: string) => (typeof flowRun[key] === 'string' ? (flowRun[key] as string) : undefined);
  const deploymentId = str('deployment_id');
  let flowName = str('flow_name');
  let deploymentName = str('deployment_name');
  if (deploymentName?.includes('/'))
    [flowName, deploymentName] = deploymentName.split('/', 2) as [string, string];
  const byDeployment = Boolean(deploymentId || (flowName && deploymentName));
  const pool = event.work_pool !== undefined;
  if (!byDeployment && !pool) return unwrapped;
  // a tick's flow run is created (its idempotency key finds one made before); others are read
  const existing = unwrapped.kind === 'cron' ? undefined : await prefect.readFlowRun(flowRun.id);
  if (existing || !byDeployment) return withJobVariables(deps, unwrapped, event, existing);
  const created = await prefect.createFlowRunFromDeployment(
    {
      ...(deploymentId ? { deploymentId } : {}),
      ...(flowName ? { flowName } : {}),
      ...(deploymentName ? { deploymentName } : {}),
    },
    {
      idempotency_key: creationKey(flowRun.id),
      ...(str('name') ? { name: str('name') } : {}),
      ...(record(flowRun.parameters) ? { parameters: record(flowRun.parameters) } : {}),
      ...(Array.isArray(flowRun.tags)
        ? { tags: flowRun.tags.filter((t): t is string => typeof t === 'string') }
        : {}),
    },
  );
  deps.log.info('flow run created from its deployment', {
    flow_run_id: created.id,
    from: flowRun.id,
    deployment_id: deploymentId ?? `${flowName}/${deploymentName}`,
  });
  const renamed = {
    ...event,
    flow_run: { ...flowRun, id: created.id, ...(created.name ? { name: created.name } : {}) },
  };
  return withJobVariables(deps, { ...unwrapped, event: renamed }, renamed, created);
}

/**
 * Prefect 3: a flow run may carry its own job variables (a custom run from the UI or
 * `run_deployment(job_variables=…)`); a worker renders the pool with the deployment's and the
 * flow run's, the flow run's winning key by key and `env` merged (workers/base.py
 * `_get_configuration`). The trigger does the same before the pool is rendered and pinned.
 */
function withJobVariables(
  deps: Deps,
  unwrapped: Unwrapped,
  event: Record<string, unknown>,
  run: PrefectFlowRun | undefined,
): Unwrapped {
  const own = run?.job_variables;
  if (event.work_pool === undefined || !own || Object.keys(own).length === 0) return unwrapped;
  const given = record(event.job_variables) ?? {};
  const merged: Record<string, unknown> = { ...given, ...own };
  const givenEnv = record(given.env);
  const ownEnv = record(own.env);
  if (givenEnv && ownEnv) merged.env = { ...givenEnv, ...ownEnv };
  deps.log.info("the flow run's own job variables apply over the deployment's", {
    flow_run_id: run?.id,
    job_variables: Object.keys(own),
  });
  return { ...unwrapped, event: { ...event, job_variables: merged } };
}

function describe(run: PrefectFlowRun): string {
  return run.state
    ? `${run.state.name ?? run.state.type}${run.state.message ? ` (${run.state.message})` : ''}`
    : 'without a state';
}

/**
 * Prepare: the flow run must exist and not be finished; then Pending is proposed, once.
 * A retried Prepare (or a resumed execution) recognises its own Pending by the marker in the
 * store and the message, and does not take Prefect's ABORT of a second Pending for a refusal.
 */
export async function proposePending(deps: Deps, flowRunId: string): Promise<void> {
  const prefect = deps.prefect;
  if (!prefect) return;
  const run = await prefect.readFlowRun(flowRunId);
  if (!run)
    throw new FlowRunNotStartedError(
      `flow run ${flowRunId} does not exist in the Prefect API at ${prefect.apiUrl}: it was deleted, or the event is for another workspace; nothing was submitted`,
    );
  if (isTerminal(run.state))
    throw new FlowRunNotStartedError(
      `flow run ${flowRunId} is already ${describe(run)} in Prefect; nothing was submitted`,
    );
  const marker = await readMarker(deps, flowRunId);
  const type = run.state?.type;
  const ours =
    (marker?.pending === 'accepted' && (type === 'PENDING' || type === 'RUNNING')) ||
    (marker !== undefined && type === 'PENDING' && run.state?.message === pendingMessage(flowRunId));
  if (ours) {
    if (marker?.pending !== 'accepted') await writeMarker(deps, flowRunId, 'accepted');
    return;
  }
  await writeMarker(deps, flowRunId, 'proposed');
  const state: ProposedState = { type: 'PENDING', name: 'Pending', message: pendingMessage(flowRunId) };
  const result = await prefect.setState(flowRunId, state);
  if (result.status === 'WAIT')
    throw new ProviderTransientError(
      `Prefect asked to wait ${result.details?.delay_seconds ?? '?'} s before proposing Pending for flow run ${flowRunId}`,
    );
  if (result.status !== 'ACCEPT') {
    await deps.store.put(
      prefectKey(flowRunId),
      JSON.stringify({ pending: 'refused', at: deps.now().toISOString() }),
    );
    throw new FlowRunNotStartedError(
      `Prefect answered ${result.status} to Pending for flow run ${flowRunId}: ${result.details?.reason ?? 'no reason given'}; nothing was submitted`,
    );
  }
  await writeMarker(deps, flowRunId, 'accepted');
}

async function writeMarker(deps: Deps, flowRunId: string, pending: Marker['pending']): Promise<void> {
  await deps.store.put(prefectKey(flowRunId), JSON.stringify({ pending, at: deps.now().toISOString() }));
}

/** Submit: the infrastructure's identifier as the flow run's infrastructure_pid; a failure is logged, never fatal. */
export async function recordInfrastructure(deps: Deps, flowRunId: string, identifier: string): Promise<void> {
  if (!deps.prefect) return;
  try {
    await deps.prefect.setInfrastructurePid(flowRunId, identifier, { attempts: 2 });
  } catch (error) {
    deps.log.warn('could not record the infrastructure on the Prefect flow run; the run goes on', {
      flow_run_id: flowRunId,
      error: error instanceof Error ? error.message : String(error),
    });
  }
}

/** After this many failed reads in a row Watch reads the flow run only every 10th poll (the infrastructure is still followed). */
export const WATCH_FAILURES_BEFORE_BACKOFF = 30;

const WatchFailuresSchema = z.object({ consecutive_failures: z.number().int().nonnegative() });

/**
 * Watch: what Prefect says of the flow run on this poll. `cancelling`: someone cancelled it;
 * `deleted`: it is gone (404). An outage is logged and counted, never fails Watch.
 */
export async function lookAtFlowRun(
  deps: Deps,
  flowRunId: string,
): Promise<'cancelling' | 'deleted' | undefined> {
  const prefect = deps.prefect;
  if (!prefect) return undefined;
  const key = prefectWatchKey(flowRunId);
  const body = await deps.store.get(key);
  const failures =
    body === undefined
      ? 0
      : (WatchFailuresSchema.safeParse(JSON.parse(body)).data?.consecutive_failures ?? 0);
  if (failures >= WATCH_FAILURES_BEFORE_BACKOFF && failures % 10 !== 0) {
    await deps.store.put(key, JSON.stringify({ consecutive_failures: failures + 1 }));
    return undefined;
  }
  try {
    const run = await prefect.readFlowRun(flowRunId, { attempts: 1 });
    if (failures > 0) await deps.store.put(key, JSON.stringify({ consecutive_failures: 0 }));
    if (!run) return 'deleted';
    return run.state?.type === 'CANCELLING' ? 'cancelling' : undefined;
  } catch (error) {
    await deps.store.put(key, JSON.stringify({ consecutive_failures: failures + 1 }));
    deps.log.warn('the Prefect API could not be read while watching; the run is still watched', {
      flow_run_id: flowRunId,
      consecutive_failures: failures + 1,
      error: error instanceof Error ? error.message : String(error),
    });
    return undefined;
  }
}

/**
 * Report: the state the infrastructure's end means for Prefect (Crashed; Cancelled after a
 * stop), proposed without force only over a state that is neither terminal nor paused, and only
 * for a run whose Pending we proposed. A transient failure is thrown: Report's Retry tries again.
 */
export async function proposeFinal(deps: Deps, report: Report, options: { deleted: boolean }): Promise<void> {
  const prefect = deps.prefect;
  if (!prefect) return;
  const id = report.flow_run_id;
  if ((await readMarker(deps, id))?.pending !== 'accepted') return;
  const state: ProposedState | undefined =
    report.state === 'Crashed'
      ? {
          type: 'CRASHED',
          name: 'Crashed',
          message: [
            report.reason ?? 'the infrastructure failed',
            report.logs_tail ? `Last output:\n${report.logs_tail}` : '',
          ]
            .filter(Boolean)
            .join('\n')
            .slice(0, 4000),
        }
      : report.state === 'Cancelled' && !options.deleted
        ? { type: 'CANCELLED', name: 'Cancelled', message: report.reason ?? 'cancelled' }
        : undefined;
  if (!state) return;
  const current = await prefect.readFlowRun(id);
  if (!current) return;
  const type = current.state?.type;
  if (isTerminal(current.state) || type === 'PAUSED') {
    deps.log.info(`not proposing ${state.name}: the flow run is already ${current.state?.name ?? type}`, {
      flow_run_id: id,
    });
    return;
  }
  const result = await prefect.setState(id, state);
  if (result.status !== 'ACCEPT')
    deps.log.warn(`Prefect did not accept ${state.name}`, {
      flow_run_id: id,
      status: result.status,
      reason: result.details?.reason ?? null,
    });
}
