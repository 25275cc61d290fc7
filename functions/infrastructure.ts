// Task: Submit / Watch / Cleanup for one provider. Deployed once per enabled provider
// (each bundle holds only its provider's SDK); the workflow picks the function from
// the run context. Kill is a request: Watch asks the infrastructure to stop, records
// that in the store, and keeps polling until it has; only then is the run reported
// Cancelled or Crashed.
import middy from '@middy/core';
import { InvalidInputError, ProviderTransientError } from '../core/errors.js';
import { scrub } from '../core/secrets.js';
import type { InfraStatus, Provider } from '../providers/port.js';
import { isFinal } from '../providers/runtime/provider.js';
import { type LoadedRun, loadRun } from './lib/context.js';
import { type Deps, type DepsSource, resolveDeps } from './lib/deps.js';
import { parseInput } from './lib/middleware.js';
import { floorBucket, nextPollSeconds, PollAgain, STOP_WAIT_SECONDS } from './lib/poll.js';
import { lookAtFlowRun, recordInfrastructure } from './lib/prefect/lifecycle.js';
import {
  cancelKey,
  type Infra,
  type InfraOp,
  InfraOpSchema,
  type RunContext,
  type StopRecord,
  StopRecordSchema,
  stopKey,
  type WatchResult,
  type WorkflowState,
} from './lib/state.js';

function need<T>(value: T | undefined, field: string, op: string): T {
  if (value === undefined) {
    throw new InvalidInputError(`Invalid input to the ${op} task`, [
      { path: `state.${field}`, message: `required before ${op}` },
    ]);
  }
  return value;
}

/** The provider's handle, parsed by its own schema: a state that does not fit it is refused, not guessed at. */
function handleOf(provider: Provider, infra: Infra): unknown {
  const parsed = provider.handleSchema.safeParse(infra.handle);
  if (parsed.success) return parsed.data;
  throw new InvalidInputError(`Invalid ${provider.type} handle in the workflow state`, [
    { path: 'state.infra.handle', message: parsed.error.issues[0]?.message ?? 'does not match the provider' },
  ]);
}

function finalFrom(status: InfraStatus, secrets: string[]): WatchResult | undefined {
  const common = {
    logs_tail: status.logs_tail ? scrub(status.logs_tail, secrets) : null,
    ...(status.links ? { links: status.links } : {}),
  };
  const reason = (text: string | undefined) => (text ? scrub(text, secrets) : null);
  switch (status.phase) {
    case 'succeeded':
      return {
        state: 'Completed',
        status_code: status.exit_code ?? 0,
        reason: reason(status.reason),
        ...common,
      };
    case 'failed':
      return status.exit_code === null || status.exit_code === undefined
        ? {
            state: 'Crashed',
            status_code: null,
            reason: reason(status.reason ?? 'the infrastructure failed before the flow run could start'),
            ...common,
          }
        : { state: 'Failed', status_code: status.exit_code, reason: reason(status.reason), ...common };
    case 'missing':
      return {
        state: 'Crashed',
        status_code: null,
        reason: `the infrastructure disappeared: ${reason(status.reason) ?? 'it can no longer be found'}`,
        ...common,
      };
    default:
      return undefined;
  }
}

async function readStop(deps: Deps, flowRunId: string): Promise<StopRecord | undefined> {
  const body = await deps.store.get(stopKey(flowRunId));
  if (body === undefined) return undefined;
  const parsed = StopRecordSchema.safeParse(JSON.parse(body));
  return parsed.success ? parsed.data : undefined;
}

/** How soon to look again while the infrastructure is stopping. */
function stoppingPoll(run: RunContext): number {
  return floorBucket(Math.min(5, Math.max(1, run.poll.first_seconds)));
}

class Watcher {
  constructor(
    private readonly deps: Deps,
    private readonly loaded: LoadedRun,
    private readonly provider: Provider,
    private readonly run: RunContext,
    private readonly handle: unknown,
  ) {}

  private scrub(text: string): string {
    return scrub(text, this.loaded.secrets);
  }

  private async send(stop: StopRecord, force: boolean): Promise<StopRecord> {
    await this.provider.stop(this.loaded, this.handle, {
      reason: `Stopped by the flow-run submitter for flow run ${this.run.flow_run_id}: ${stop.reason}`.slice(
        0,
        255,
      ),
      graceSeconds: this.run.grace_seconds,
      force,
    });
    const sent = { ...stop, sent: true, forced: stop.forced || force };
    await this.deps.store.put(stopKey(this.run.flow_run_id), JSON.stringify(sent));
    return sent;
  }

  /** Records the stop, asks for it, and looks again soon: the next polls see it stop. */
  private async requestStop(state: StopRecord['state'], reason: string, deleted = false): Promise<never> {
    const stop: StopRecord = {
      state,
      reason,
      ...(deleted ? { deleted: true } : {}),
      requested_at: this.deps.now().toISOString(),
      sent: false,
      forced: false,
    };
    await this.deps.store.put(stopKey(this.run.flow_run_id), JSON.stringify(stop));
    await this.send(stop, this.run.grace_seconds === 0);
    const seconds = stoppingPoll(this.run);
    throw new PollAgain(seconds, `stop requested (${reason}); next check in ${seconds} s`);
  }

  private async whileStopping(stop: StopRecord, status: InfraStatus): Promise<WatchResult> {
    const since = (this.deps.now().getTime() - Date.parse(stop.requested_at)) / 1000;
    let current = stop;
    if (!current.sent) current = await this.send(current, false);
    if (!current.forced && since >= this.run.grace_seconds) current = await this.send(current, true);
    if (current.forced && since > this.run.grace_seconds + STOP_WAIT_SECONDS) {
      return {
        state: stop.state,
        status_code: null,
        reason: `${stop.reason}; the infrastructure was still ${status.phase} ${Math.round(since)} s after it was asked to stop (cleanup stops it again)`,
        logs_tail: status.logs_tail ? this.scrub(status.logs_tail) : null,
        ...(status.links ? { links: status.links } : {}),
      };
    }
    const seconds = stoppingPoll(this.run);
    throw new PollAgain(
      seconds,
      `stopping (${stop.reason}): still ${status.phase}; next check in ${seconds} s`,
    );
  }

  async watch(infra: Infra): Promise<WatchResult> {
    const { deps, run } = this;
    const elapsed = (deps.now().getTime() - Date.parse(infra.submitted_at)) / 1000;
    let status: InfraStatus;
    try {
      status = await this.provider.status(this.loaded, this.handle);
    } catch (error) {
      // One throttled or failed status call must not end a healthy run: look again later.
      // (Retry counts in Step Functions never reset within a state, so this is not left to them.)
      if (!(error instanceof ProviderTransientError)) throw error;
      const seconds = nextPollSeconds(elapsed, run.poll);
      throw new PollAgain(
        seconds,
        `status unavailable (${this.scrub(error.message)}); next check in ${seconds} s`,
      );
    }
    const stop = await readStop(deps, run.flow_run_id);
    if (isFinal(status)) {
      const final = finalFrom(status, this.loaded.secrets);
      if (!final || !stop) return final ?? this.never();
      // asked to stop, and now it has: report why it was stopped, with what it left
      return { ...final, state: stop.state, reason: stop.reason };
    }
    if (stop) return this.whileStopping(stop, status);
    if (await deps.store.get(cancelKey(run.flow_run_id)))
      return this.requestStop('Cancelled', 'cancellation was requested');
    // Prefect's side, in the same poll: a Cancelling or deleted flow run is stopped like a cancel request
    const remote = await lookAtFlowRun(deps, run.flow_run_id);
    if (remote === 'cancelling')
      return this.requestStop('Cancelled', 'the flow run was cancelled in Prefect (Cancelling)');
    if (remote === 'deleted')
      return this.requestStop('Cancelled', 'the flow run was deleted from Prefect', true);
    if (elapsed > run.timeouts.run_seconds) {
      return this.requestStop(
        'Crashed',
        `run timeout: still ${status.phase} ${Math.round(elapsed)} s after submission (limit ${run.timeouts.run_seconds} s; raise it with the event's timeouts.run_seconds)`,
      );
    }
    if (status.phase === 'pending' && elapsed > run.timeouts.start_seconds) {
      const why = status.reason ? ` (last seen: ${this.scrub(status.reason)})` : '';
      return this.requestStop(
        'Crashed',
        `start timeout: the infrastructure did not start within ${run.timeouts.start_seconds} s${why}; raise it with timeouts.start_seconds or the block's start timeout`,
      );
    }
    const seconds = nextPollSeconds(elapsed, run.poll);
    const detail = status.reason ? `: ${this.scrub(status.reason)}` : '';
    throw new PollAgain(seconds, `${status.phase}${detail}; next check in ${seconds} s`);
  }

  private never(): never {
    throw new Error('a final status without a result');
  }
}

export function createInfrastructureHandler(source: DepsSource) {
  return middy<InfraOp, WorkflowState>()
    .use(parseInput(InfraOpSchema, 'infrastructure'))
    .handler(async ({ op, state }, context) => {
      const deps = await resolveDeps(source);
      const run = need(state.run, 'run', op);
      const loaded = await loadRun(deps, state.event_ref);
      const provider = await deps.loadProvider(run.provider);
      const log = deps.log.withSecrets(loaded.secrets);
      switch (op) {
        case 'submit': {
          const remaining = context?.getRemainingTimeInMillis?.();
          const submission = await provider.submit(loaded, {
            store: deps.store,
            // one workflow execution per flow run: its retries are the same submit, resuming
            owner: `workflow:${run.flow_run_id}`,
            ...(remaining ? { deadline: Date.now() + remaining - 10_000 } : {}),
          });
          log.info(submission.adopted ? 'adopted existing infrastructure' : 'submitted', {
            flow_run_id: run.flow_run_id,
            provider: run.provider,
            identifier: submission.identifier,
          });
          await recordInfrastructure(deps, run.flow_run_id, submission.identifier);
          return { ...state, infra: { ...submission, submitted_at: deps.now().toISOString() } };
        }
        case 'watch': {
          const infra = need(state.infra, 'infra', op);
          const watcher = new Watcher(deps, loaded, provider, run, handleOf(provider, infra));
          return { ...state, result: await watcher.watch(infra) };
        }
        case 'cleanup': {
          await provider.cleanup(loaded, state.infra ? handleOf(provider, state.infra) : undefined);
          return state;
        }
      }
    });
}
