// Running one flow-run event through the real workflow (ASL interpreter, the Lambda handlers)
// with a given provider, as the provider tests do.

import { unwrap } from '../../events/envelopes.js';
import type { Deps } from '../../functions/lib/deps.js';
import { type Accepted, accept } from '../../functions/lib/intake.js';
import { cancelKey, type ExecutionInput, type Report } from '../../functions/lib/state.js';
import { type ExecutionOutcome, startExecution } from '../../functions/local/runner.js';
import { createTriggerHandler } from '../../functions/trigger.js';
import type { Provider } from '../../providers/port.js';
import { testDeps, until } from '../helpers.js';

export interface CancelledRun {
  deps: Deps;
  accepted: Accepted;
  reports: Report[];
  /** From the start of the execution to its end. */
  elapsedMs: number;
}

/**
 * Starts the run, waits until Watch has seen it running, asks to cancel it (the marker
 * `submitter cancel` writes), and waits for the workflow to end.
 */
export async function cancelMidRun(
  event: unknown,
  provider: Provider,
  retryIntervalOverrides: Record<string, number>,
): Promise<CancelledRun> {
  const { deps, reports } = await testDeps({ loadProvider: async () => provider });
  const accepted = await accept(deps, unwrap(event));
  let running = false;
  const started = Date.now();
  const done = startExecution(accepted.input, {
    deps,
    retryIntervalOverrides,
    onEvent: (e) => {
      if (e.type === 'StateFailed' && typeof e.Cause === 'string' && e.Cause.startsWith('running'))
        running = true;
    },
  });
  await until('the execution seen running', () => (running ? true : undefined), 20_000);
  await deps.store.put(cancelKey(accepted.input.flow_run_id), '{}');
  await done;
  return { deps, accepted, reports, elapsedMs: Date.now() - started };
}

/** Accepts the event (as the trigger does) and runs its execution to the end. */
export async function runAccepted(
  deps: Deps,
  event: unknown,
  retryIntervalOverrides: Record<string, number>,
): Promise<{ accepted: Accepted; outcome: ExecutionOutcome }> {
  const accepted = await accept(deps, unwrap(event));
  const outcome = await startExecution(accepted.input, { deps, retryIntervalOverrides });
  return { accepted, outcome };
}

/**
 * The trigger handler with executions started in this process (the local runner) instead of
 * Step Functions; `executions` holds every one it started, to await.
 */
export function localTrigger(
  deps: Deps,
  retryIntervalOverrides: Record<string, number>,
): { handler: ReturnType<typeof createTriggerHandler>; executions: Promise<ExecutionOutcome>[] } {
  const executions: Promise<ExecutionOutcome>[] = [];
  const handler = createTriggerHandler(deps, () => ({
    async start(name: string, input: ExecutionInput) {
      executions.push(startExecution(input, { deps, retryIntervalOverrides }));
      return { id: name, duplicate: false };
    },
  }));
  return { handler, executions };
}
