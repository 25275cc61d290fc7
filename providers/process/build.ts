import { concreteEnv } from '../base.js';
import { flowRunEnv, flowRunLabels, idempotencyKey } from '../identity.js';
import type { Target } from '../port.js';
import type { ProcessBlock } from './block.js';

/** Process runs only: the flow run's parameters as JSON. */
export const PARAMETERS_ENV = 'SUBMITTER_FLOW_RUN_PARAMETERS';

export interface ProcessRequest {
  command: string[];
  /** Set on top of the submitter's own environment. */
  env: Record<string, string>;
  /** Inherited variables removed (block env entries set to null). */
  unset_env: string[];
  working_dir: string | null;
  name: string | null;
  labels: Record<string, string>;
  idempotency_key: string;
}

export function buildProcessRequest({ block, flowRun }: Target<ProcessBlock>): ProcessRequest {
  return {
    command: block.command,
    env: {
      ...concreteEnv(block.env),
      ...flowRunEnv(flowRun),
      // Local runs often have no Prefect API to read parameters from: hand them over directly.
      [PARAMETERS_ENV]: JSON.stringify(flowRun.parameters),
    },
    unset_env: Object.entries(block.env)
      .filter(([, value]) => value === null)
      .map(([key]) => key),
    working_dir: block.working_dir,
    name: block.name,
    labels: { ...block.labels, ...flowRunLabels(flowRun) },
    idempotency_key: idempotencyKey(flowRun.id),
  };
}
