// Section 4, the whole dedupe chain: the same event delivered many times at once to the
// real trigger handler, which parks it and starts the execution named after the flow run
// on Step Functions (moto). Each execution that exists then submits once, as its Submit
// state would (moto stores executions without running them).
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import {
  CreateStateMachineCommand,
  DescribeExecutionCommand,
  ListExecutionsCommand,
  SFNClient,
} from '@aws-sdk/client-sfn';
import type { Context } from 'aws-lambda';
import { loadRun } from '../functions/lib/context.js';
import { ExecutionInputSchema } from '../functions/lib/state.js';
import { createTriggerHandler, stepFunctionsStarter, type TriggerOutcome } from '../functions/trigger.js';
import { workflowDefinition } from '../functions/workflow.js';
import type { Provider } from '../providers/port.js';
import type { Moto } from '../test/support/moto.js';
import { benchDeps } from './lib/deps.js';

export interface TriggerPhase {
  deliveries: number;
  started: number;
  duplicate: number;
  errors: number;
  firstErrors: string[];
  executions: number;
  submits: number;
  wallMs: number;
}

const CONTEXT = { functionName: 'submitter-trigger', awsRequestId: 'bench' } as Context;

/** An EventBridge delivery of `event`; each delivery has its own envelope id, as redeliveries do. */
function eventBridge(event: Record<string, unknown>, n: number): Record<string, unknown> {
  return {
    version: '0',
    id: `bench-delivery-${n}`,
    'detail-type': 'Flow Run Requested',
    source: 'bench',
    account: '123456789012',
    time: '2026-01-05T00:00:00Z',
    region: 'us-east-1',
    resources: [],
    detail: event,
  };
}

export async function throughTrigger(
  moto: Moto,
  provider: Provider,
  event: Record<string, unknown>,
  deliveries: number,
): Promise<TriggerPhase> {
  const home = await mkdtemp(join(tmpdir(), 'submitter-bench-trigger-'));
  const sfn = new SFNClient(moto.clientConfig());
  try {
    const { deps } = benchDeps(join(home, 'store'));
    const definition = JSON.stringify(
      workflowDefinition({ PrepareFunction: 'submitter-prepare', ReportFunction: 'submitter-report' }),
    );
    const { stateMachineArn } = await sfn.send(
      new CreateStateMachineCommand({
        name: 'bench-flow-runs',
        roleArn: 'arn:aws:iam::123456789012:role/submitter-workflow',
        definition,
      }),
    );
    if (!stateMachineArn) throw new Error('moto created no state machine');
    const starter = stepFunctionsStarter(stateMachineArn);
    const handler = createTriggerHandler(deps, () => starter);
    const phase: TriggerPhase = {
      deliveries,
      started: 0,
      duplicate: 0,
      errors: 0,
      firstErrors: [],
      executions: 0,
      submits: 0,
      wallMs: 0,
    };
    const start = performance.now();
    await Promise.all(
      Array.from({ length: deliveries }, async (_, n) => {
        try {
          const outcome = (await handler(eventBridge(structuredClone(event), n), CONTEXT)) as TriggerOutcome;
          if (outcome.status === 'started') phase.started++;
          else if (outcome.status === 'duplicate') phase.duplicate++;
          else throw new Error(`delivery rejected: ${JSON.stringify(outcome.problems)}`);
        } catch (error) {
          phase.errors++;
          const message = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
          if (phase.firstErrors.length < 3 && !phase.firstErrors.includes(message))
            phase.firstErrors.push(message);
        }
      }),
    );
    // What each execution's Submit state does: load the parked event, submit once.
    const { executions = [] } = await sfn.send(new ListExecutionsCommand({ stateMachineArn }));
    phase.executions = executions.length;
    for (const execution of executions) {
      const described = await sfn.send(
        new DescribeExecutionCommand({ executionArn: execution.executionArn }),
      );
      const input = ExecutionInputSchema.parse(JSON.parse(described.input ?? '{}'));
      await provider.submit(await loadRun(deps, input.event_ref), { store: deps.store });
      phase.submits++;
    }
    phase.wallMs = performance.now() - start;
    return phase;
  } finally {
    sfn.destroy();
    await rm(home, { recursive: true, force: true });
  }
}
