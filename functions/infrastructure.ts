// Task: Submit / Watch / Cleanup for one provider. Deployed once per enabled provider
// (each bundle holds only its provider's SDK); the workflow picks the function from
// the run context.
import middy from '@middy/core';
import { InvalidInputError, ProviderTransientError } from '../core/errors.js';
import { scrub } from '../core/secrets.js';
import type { InfraStatus, Provider, Target } from '../providers/port.js';
import { type LoadedRun, loadRun } from './lib/context.js';
import { type Deps, type DepsSource, resolveDeps } from './lib/deps.js';
import { parseInput } from './lib/middleware.js';
import { nextPollSeconds, PollAgain } from './lib/poll.js';
import {
  cancelKey,
  type Infra,
  type InfraOp,
  InfraOpSchema,
  type RunContext,
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

async function stopFor(
  provider: Provider,
  target: Target,
  run: RunContext,
  infra: Infra,
  secrets: string[],
  state: 'Cancelled' | 'Crashed',
  reason: string,
): Promise<WatchResult> {
  await provider.kill(target, infra.identifier, run.grace_seconds);
  const after = await provider.status(target, infra.identifier);
  const logs = after.logs_tail ? scrub(after.logs_tail, secrets) : null;
  const code = after.phase === 'failed' || after.phase === 'succeeded' ? (after.exit_code ?? null) : null;
  return {
    state,
    status_code: code,
    reason,
    logs_tail: logs,
    ...(after.links ? { links: after.links } : {}),
  };
}

async function watch(
  deps: Deps,
  loaded: LoadedRun,
  provider: Provider,
  run: RunContext,
  infra: Infra,
): Promise<WatchResult> {
  const elapsed = (deps.now().getTime() - Date.parse(infra.submitted_at)) / 1000;
  let status: InfraStatus;
  try {
    status = await provider.status(loaded, infra.identifier);
  } catch (error) {
    // One throttled or failed status call must not end a healthy run: look again later.
    // (Retry counts in Step Functions never reset within a state, so this is not left to them.)
    if (!(error instanceof ProviderTransientError)) throw error;
    const seconds = nextPollSeconds(elapsed, run.poll);
    throw new PollAgain(
      seconds,
      `status unavailable (${scrub(error.message, loaded.secrets)}); next check in ${seconds} s`,
    );
  }
  const final = finalFrom(status, loaded.secrets);
  if (final) return final;

  if (await deps.store.get(cancelKey(run.flow_run_id))) {
    return stopFor(provider, loaded, run, infra, loaded.secrets, 'Cancelled', 'cancellation was requested');
  }
  if (elapsed > run.timeouts.run_seconds) {
    return stopFor(
      provider,
      loaded,
      run,
      infra,
      loaded.secrets,
      'Crashed',
      `run timeout: still ${status.phase} ${Math.round(elapsed)} s after submission (limit ${run.timeouts.run_seconds} s; raise it with the event's timeouts.run_seconds)`,
    );
  }
  if (status.phase === 'pending' && elapsed > run.timeouts.start_seconds) {
    const why = status.reason ? ` (last seen: ${scrub(status.reason, loaded.secrets)})` : '';
    return stopFor(
      provider,
      loaded,
      run,
      infra,
      loaded.secrets,
      'Crashed',
      `start timeout: the infrastructure did not start within ${run.timeouts.start_seconds} s${why}; raise it with timeouts.start_seconds or the block's start timeout`,
    );
  }
  const seconds = nextPollSeconds(elapsed, run.poll);
  const detail = status.reason ? `: ${scrub(status.reason, loaded.secrets)}` : '';
  throw new PollAgain(seconds, `${status.phase}${detail}; next check in ${seconds} s`);
}

export function createInfrastructureHandler(source: DepsSource) {
  return middy<InfraOp, WorkflowState>()
    .use(parseInput(InfraOpSchema, 'infrastructure'))
    .handler(async ({ op, state }) => {
      const deps = await resolveDeps(source);
      const run = need(state.run, 'run', op);
      const loaded = await loadRun(deps, state.event_ref);
      const provider = await deps.loadProvider(run.provider);
      const log = deps.log.withSecrets(loaded.secrets);
      switch (op) {
        case 'submit': {
          const submission = await provider.submit(loaded);
          log.info(submission.adopted ? 'adopted existing infrastructure' : 'submitted', {
            flow_run_id: run.flow_run_id,
            provider: run.provider,
            identifier: submission.identifier,
          });
          return { ...state, infra: { ...submission, submitted_at: deps.now().toISOString() } };
        }
        case 'watch':
          return {
            ...state,
            result: await watch(deps, loaded, provider, run, need(state.infra, 'infra', op)),
          };
        case 'cleanup': {
          await provider.cleanup(loaded, state.infra?.identifier);
          return state;
        }
      }
    });
}
