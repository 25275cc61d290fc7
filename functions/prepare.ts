// Task: Prepare. Validates the parked event, resolves its block (inline or by slug),
// applies overrides, checks the provider can build a request from it, and returns the
// run context the rest of the workflow needs — names and numbers, never block contents.
import middy from '@middy/core';
import { loadRun } from './lib/context.js';
import { type DepsSource, depsFromEnv, resolveDeps } from './lib/deps.js';
import { parseInput } from './lib/middleware.js';
import { proposePending } from './lib/prefect/lifecycle.js';
import { type ExecutionInput, ExecutionInputSchema, type WorkflowState } from './lib/state.js';

export function createPrepareHandler(source: DepsSource) {
  return middy<ExecutionInput, WorkflowState>()
    .use(parseInput(ExecutionInputSchema, 'Prepare'))
    .handler(async (input) => {
      const deps = await resolveDeps(source);
      const run = await loadRun(deps, input.event_ref);
      const provider = await deps.loadSpec(run.block.type);
      provider.build(run); // a block the provider cannot turn into a request fails here, before anything starts
      const defaults = provider.watchDefaults(run.block);
      // last, once the run is known to be buildable: a refused Pending submits nothing
      await proposePending(deps, run.flowRun.id);
      const { settings } = deps;
      return {
        ...input,
        run: {
          flow_run_id: run.flowRun.id,
          ...(run.flowRun.name ? { flow_run_name: run.flowRun.name } : {}),
          provider: run.block.type,
          source: run.source,
          function: settings.providerFunction(run.block.type),
          poll: {
            first_seconds: defaults.pollSeconds,
            cap_seconds: Math.max(settings.pollCapSeconds, defaults.pollSeconds),
            growth: settings.pollGrowth,
          },
          timeouts: {
            start_seconds: run.event.timeouts.start_seconds ?? defaults.startTimeoutSeconds,
            run_seconds: run.event.timeouts.run_seconds ?? settings.runTimeoutSeconds,
          },
          grace_seconds: settings.killGraceSeconds,
        },
      };
    });
}

export const handler = createPrepareHandler(() => depsFromEnv());
