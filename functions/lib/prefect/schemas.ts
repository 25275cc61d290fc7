// The Prefect API's answers we read, parsed (Prefect ce79dd3d6cfa2b7337265498210dbc4d25bcdc98:
// src/prefect/server/schemas/{core,states,responses}.py). Loose: Prefect adds fields freely.
import * as z from 'zod';

export const STATE_TYPES = [
  'SCHEDULED',
  'PENDING',
  'RUNNING',
  'COMPLETED',
  'FAILED',
  'CANCELLED',
  'CRASHED',
  'PAUSED',
  'CANCELLING',
] as const;
export type StateType = (typeof STATE_TYPES)[number];

/** states.py TERMINAL_STATES. */
export const TERMINAL_STATES: readonly StateType[] = ['COMPLETED', 'FAILED', 'CANCELLED', 'CRASHED'];

export const PrefectStateSchema = z.looseObject({
  id: z.string().optional(),
  type: z.enum(STATE_TYPES),
  name: z.string().nullish(),
  message: z.string().nullish(),
  timestamp: z.string().optional(),
});
export type PrefectState = z.infer<typeof PrefectStateSchema>;

export const PrefectFlowRunSchema = z.looseObject({
  id: z.string(),
  name: z.string().nullish(),
  flow_id: z.string().nullish(),
  deployment_id: z.string().nullish(),
  idempotency_key: z.string().nullish(),
  infrastructure_pid: z.string().nullish(),
  state: PrefectStateSchema.nullish(),
  /** Prefect 3: the flow run's own job variables (a custom run's), over the deployment's. */
  job_variables: z.record(z.string(), z.unknown()).nullish(),
});
export type PrefectFlowRun = z.infer<typeof PrefectFlowRunSchema>;

export const PrefectDeploymentSchema = z.looseObject({ id: z.string(), name: z.string().optional() });

/** responses.py OrchestrationResult: SetStateStatus and its details. */
export const OrchestrationResultSchema = z.looseObject({
  status: z.enum(['ACCEPT', 'REJECT', 'ABORT', 'WAIT']),
  state: PrefectStateSchema.nullish(),
  details: z.looseObject({ reason: z.string().nullish(), delay_seconds: z.number().nullish() }).nullish(),
});
export type OrchestrationResult = z.infer<typeof OrchestrationResultSchema>;

export interface ProposedState {
  type: StateType;
  name: string;
  message?: string;
}

export function isTerminal(state: PrefectState | null | undefined): boolean {
  return state ? TERMINAL_STATES.includes(state.type) : false;
}
