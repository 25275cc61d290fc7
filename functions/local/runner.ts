// Runs the workflow definition in-process with an ASL interpreter, its Task states bound
// to the same middy handlers Lambda runs. Duplicate starts collapse into one execution.
import './polyfill.js';
import type { Context } from 'aws-lambda';
import { BLOCK_TYPES } from '../../providers/blocks.js';
import { createInfrastructureHandler } from '../infrastructure.js';
import type { Deps } from '../lib/deps.js';
import { type ExecutionInput, executionName, type WorkflowState } from '../lib/state.js';
import { createPrepareHandler } from '../prepare.js';
import { createReportHandler } from '../report.js';
import { workflowDefinition } from '../workflow.js';
import { type ExecutionRecord, LocalExecutions } from './executions.js';

type AslModule = typeof import('aws-local-stepfunctions');
export type WorkflowEvent = Parameters<NonNullable<RunOptions['onEvent']>>[0];
type EventLog = AslModule extends { StateMachine: new (...args: never[]) => infer M }
  ? M extends { run: (...args: never[]) => { eventLogs: AsyncGenerator<infer E> } }
    ? E
    : never
  : never;

export interface RunOptions {
  deps: Deps;
  /** A definition to run instead of workflow.asl.json (e.g. the one CDK synthesized). */
  definition?: Record<string, unknown>;
  onEvent?: (event: EventLog) => void;
  /** Milliseconds per retrier, by state name (tests and the bench shorten waits). */
  retryIntervalOverrides?: Record<string, number | number[]>;
}

export interface ExecutionOutcome {
  name: string;
  /** False when an execution with this name already existed and was adopted. */
  started: boolean;
  /** True when that execution's owner had died and this call resumed it. */
  resumed?: boolean;
  status: ExecutionRecord['status'];
  state?: WorkflowState;
  error?: string;
  /** State transitions (states entered + retries): what Step Functions bills. */
  transitions: number;
}

function lambdaContext(functionName: string): Context {
  return {
    functionName,
    functionVersion: '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:local:000000000000:function:${functionName}`,
    memoryLimitInMB: '256',
    awsRequestId: crypto.randomUUID(),
    logGroupName: `/aws/lambda/${functionName}`,
    logStreamName: 'local',
    callbackWaitsForEmptyEventLoop: false,
    getRemainingTimeInMillis: () => 900_000,
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  };
}

type Invoke = (payload: unknown, context: Context) => Promise<unknown>;

/** The local "Lambda service": function name → handler. */
export function localFunctions(deps: Deps): Map<string, Invoke> {
  const functions = new Map<string, Invoke>();
  functions.set(deps.settings.prepareFunction, createPrepareHandler(deps) as Invoke);
  functions.set(deps.settings.reportFunction, createReportHandler(deps) as Invoke);
  const infrastructure = createInfrastructureHandler(deps) as Invoke;
  for (const type of BLOCK_TYPES) functions.set(deps.settings.providerFunction(type), infrastructure);
  return functions;
}

/** Runs one execution to its end, no dedupe (see startExecution). */
export async function runDefinition(
  input: ExecutionInput,
  options: RunOptions,
): Promise<{ state: WorkflowState; transitions: number }> {
  const { StateMachine } = await import('aws-local-stepfunctions');
  const { deps } = options;
  const definition =
    options.definition ??
    workflowDefinition({
      PrepareFunction: deps.settings.prepareFunction,
      ReportFunction: deps.settings.reportFunction,
    });
  const functions = localFunctions(deps);
  const invoke = async (params: unknown) => {
    const { FunctionName, Payload } = params as { FunctionName: string; Payload: unknown };
    const name = FunctionName.split(':').at(-1) ?? FunctionName;
    const fn = functions.get(name);
    if (!fn) throw new Error(`no local function named '${FunctionName}'`);
    return { StatusCode: 200, Payload: await fn(Payload, lambdaContext(name)) };
  };
  const states = (definition as { States: Record<string, { Type: string }> }).States;
  const handlers = Object.fromEntries(
    Object.entries(states)
      .filter(([, state]) => state.Type === 'Task')
      .map(([name]) => [name, invoke]),
  );
  const machine = new StateMachine(definition as never, { validationOptions: { checkArn: false } });
  const execution = machine.run(input as never, {
    overrides: {
      taskResourceLocalHandlers: handlers as never,
      ...(options.retryIntervalOverrides ? { retryIntervalOverrides: options.retryIntervalOverrides } : {}),
    },
  });
  let transitions = 0;
  const events = (async () => {
    for await (const event of execution.eventLogs) {
      if (event.type === 'StateEntered' || event.type === 'StateRetried') transitions++;
      options.onEvent?.(event);
    }
  })();
  const state = (await execution.result) as WorkflowState;
  await events.catch(() => undefined);
  return { state, transitions };
}

/**
 * Starts the execution for a flow run once; later starts with the same name adopt it.
 * An execution whose owner died mid-run (a killed `submitter run`) is resumed: its
 * definition runs again from its input, Submit adopts the infrastructure that is there
 * by its idempotency key, and Watch follows it to its end — as Step Functions would.
 */
export async function startExecution(
  input: ExecutionInput,
  options: RunOptions & { onAdopt?: () => void; onResume?: (orphan: ExecutionRecord) => void },
): Promise<ExecutionOutcome> {
  const name = executionName(input.flow_run_id);
  const executions = new LocalExecutions(options.deps.store);
  let base = await executions.start(name, input);
  let runInput = input;
  if (!base) {
    options.onAdopt?.();
    for (;;) {
      const record = await executions.wait(name);
      if (record.status !== 'RUNNING') {
        return {
          name,
          started: false,
          status: record.status,
          transitions: 0,
          ...(record.output ? { state: record.output as WorkflowState } : {}),
          ...(record.error ? { error: record.error } : {}),
        };
      }
      base = await executions.takeOver(record);
      if (base) {
        options.onResume?.(record);
        runInput = record.input as ExecutionInput;
        break;
      }
    }
  }
  const started = base.resumes === undefined;
  const resumed = started ? {} : { resumed: true };
  try {
    const { state, transitions } = await runDefinition(runInput, options);
    await executions.finish({ ...base, status: 'SUCCEEDED', output: state });
    return { name, started, ...resumed, status: 'SUCCEEDED', state, transitions };
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    await executions.finish({ ...base, status: 'FAILED', error: message });
    return { name, started, ...resumed, status: 'FAILED', error: message, transitions: 0 };
  }
}
