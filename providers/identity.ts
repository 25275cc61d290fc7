// What ties created infrastructure to its flow run: the env var the engine reads,
// a label/tag, and an idempotency key derived from the flow-run id.
import { type FlowRun, flowRunHex } from '../events/schema.js';

export const FLOW_RUN_ID_ENV = 'PREFECT__FLOW_RUN_ID';
export const FLOW_RUN_LABEL = 'prefect.io/flow-run-id';
export const FLOW_RUN_NAME_LABEL = 'prefect.io/flow-run-name';

/** Stable per flow run: a redelivered event finds (and adopts) what the first delivery created. ≤ 64 ASCII chars. */
export function idempotencyKey(flowRunId: string): string {
  return `prefect-${flowRunHex(flowRunId)}`;
}

export function flowRunEnv(flowRun: FlowRun): Record<string, string> {
  return { [FLOW_RUN_ID_ENV]: flowRunHex(flowRun.id) };
}

export function flowRunLabels(flowRun: FlowRun): Record<string, string> {
  return {
    [FLOW_RUN_LABEL]: flowRun.id,
    ...(flowRun.name ? { [FLOW_RUN_NAME_LABEL]: flowRun.name } : {}),
  };
}
