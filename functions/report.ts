// Task: Report. Turns the watch result, or the error a Catch caught, into the final
// report {flow_run_id, provider, identifier, state, status_code, reason, logs_tail},
// emits it, and proposes Crashed to the Prefect API when the infrastructure failed.
import middy from '@middy/core';
import { ProviderTransientError } from '../core/errors.js';
import { scrub } from '../core/secrets.js';
import { secretsFor } from './lib/context.js';
import { type Deps, type DepsSource, depsFromEnv, resolveDeps } from './lib/deps.js';
import { parseInput } from './lib/middleware.js';
import { proposeFinal } from './lib/prefect/lifecycle.js';
import { reportingFromEnv } from './lib/reporting.js';
import {
  type Report,
  StopRecordSchema,
  stopKey,
  type WorkflowState,
  WorkflowStateSchema,
} from './lib/state.js';

/** A Catch's Cause: from Lambda a JSON string {errorType, errorMessage, trace}; locally the message. */
export function causeMessage(error: { Error: string; Cause?: unknown }): string {
  const cause = error.Cause;
  if (typeof cause === 'string') {
    try {
      const parsed = JSON.parse(cause) as { errorMessage?: unknown };
      if (typeof parsed.errorMessage === 'string') return `${error.Error}: ${parsed.errorMessage}`;
    } catch {
      // not JSON: the message itself
    }
    return cause ? `${error.Error}: ${cause}` : error.Error;
  }
  return error.Error;
}

export function buildReport(state: WorkflowState): Report {
  const base = {
    flow_run_id: state.flow_run_id,
    flow_run_name: state.run?.flow_run_name ?? state.summary?.flow_run_name ?? null,
    provider: state.run?.provider ?? null,
    identifier: state.infra?.identifier ?? null,
  };
  if (state.result) return { ...base, ...state.result };
  const stage = !state.run
    ? 'rejected before submission'
    : !state.infra
      ? 'submission failed'
      : 'watching failed';
  const why = state.error ? causeMessage(state.error) : 'the workflow ended without a result';
  return { ...base, state: 'Crashed', status_code: null, reason: `${stage}: ${why}`, logs_tail: null };
}

async function deletedFromPrefect(deps: Deps, flowRunId: string): Promise<boolean> {
  const body = await deps.store.get(stopKey(flowRunId));
  return body !== undefined && StopRecordSchema.safeParse(JSON.parse(body)).data?.deleted === true;
}

/**
 * Prefect first (its state is what people act on): a transient failure is thrown, so Report's
 * Retry proposes it again once the API is back; the report is emitted after, once.
 */
async function deliver(deps: Deps, report: Report): Promise<void> {
  if (deps.prefect) {
    try {
      await proposeFinal(deps, report, { deleted: await deletedFromPrefect(deps, report.flow_run_id) });
    } catch (error) {
      if (error instanceof ProviderTransientError) throw error;
      deps.log.error('could not propose the final state to the Prefect API', {
        flow_run_id: report.flow_run_id,
        error: error instanceof Error ? error.message : String(error),
      });
    }
  }
  await deps.sink.emit(report);
}

export function createReportHandler(source: DepsSource) {
  return middy<WorkflowState, WorkflowState>()
    .use(parseInput(WorkflowStateSchema, 'Report'))
    .handler(async (state) => {
      const deps = await resolveDeps(source);
      const secrets = await secretsFor(deps, state.event_ref);
      const raw = buildReport(state);
      const url = deps.prefect?.flowRunUrl(raw.flow_run_id);
      const report: Report = {
        ...raw,
        ...(url ? { links: { ...raw.links, prefect_flow_run: url } } : {}),
        reason: raw.reason === null ? null : scrub(raw.reason, secrets),
        logs_tail: raw.logs_tail === null ? null : scrub(raw.logs_tail, secrets),
      };
      await deliver(deps, report);
      deps.log.info('flow run finished', {
        flow_run_id: report.flow_run_id,
        state: report.state,
        status_code: report.status_code,
      });
      return { ...state, report };
    });
}

export const handler = createReportHandler(() => depsFromEnv(undefined, reportingFromEnv));
