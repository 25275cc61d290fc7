// The workflow's state: what each task reads and returns. Each task takes the whole
// state and returns it with its own part added. No secrets ever go in here: the
// event (which may hold credentials) is parked in the store and referred to by key.
import * as z from 'zod';
import { BLOCK_TYPES, type BlockType } from '../../providers/blocks.js';

export const ExecutionInputSchema = z.looseObject({
  flow_run_id: z.uuid(),
  /** Store key of the parked flow-run event. */
  event_ref: z.string().min(1),
  /** For people reading the execution: names only, never block contents. */
  summary: z
    .object({
      flow_run_name: z.string().optional(),
      flow_name: z.string().optional(),
      deployment_name: z.string().optional(),
      infrastructure: z.string().optional(),
    })
    .optional(),
});
export type ExecutionInput = z.infer<typeof ExecutionInputSchema>;

export const RunContextSchema = z.object({
  flow_run_id: z.uuid(),
  flow_run_name: z.string().optional(),
  provider: z.enum(BLOCK_TYPES as [BlockType, ...BlockType[]]),
  /** `inline` or the block slug. */
  source: z.string(),
  /** The function that runs this provider's submit/watch/cleanup. */
  function: z.string(),
  poll: z.object({
    first_seconds: z.number().positive(),
    cap_seconds: z.number().positive(),
    growth: z.number().positive(),
  }),
  timeouts: z.object({ start_seconds: z.number().positive(), run_seconds: z.number().positive() }),
  grace_seconds: z.number().nonnegative(),
});
export type RunContext = z.infer<typeof RunContextSchema>;

export const InfraSchema = z.object({
  /** The provider's typed handle (its own zod schema parses it back); never a secret. */
  handle: z.unknown(),
  /** The handle for people and reports: a task ARN, a container name. */
  identifier: z.string(),
  adopted: z.boolean(),
  submitted_at: z.iso.datetime(),
});
export type Infra = z.infer<typeof InfraSchema>;

export const FINAL_STATES = ['Completed', 'Failed', 'Crashed', 'Cancelled'] as const;
export type FinalState = (typeof FINAL_STATES)[number];

export const WatchResultSchema = z.object({
  state: z.enum(FINAL_STATES),
  status_code: z.number().int().nullable(),
  reason: z.string().nullable(),
  logs_tail: z.string().nullable(),
  links: z.record(z.string(), z.string()).optional(),
});
export type WatchResult = z.infer<typeof WatchResultSchema>;

/** What a Catch puts in the state: `{Error, Cause}`. */
export const CaughtErrorSchema = z.object({ Error: z.string(), Cause: z.unknown().optional() });

export const ReportSchema = z.object({
  flow_run_id: z.string(),
  flow_run_name: z.string().nullable(),
  provider: z.string().nullable(),
  identifier: z.string().nullable(),
  state: z.enum(FINAL_STATES),
  status_code: z.number().int().nullable(),
  reason: z.string().nullable(),
  logs_tail: z.string().nullable(),
  links: z.record(z.string(), z.string()).optional(),
});
export type Report = z.infer<typeof ReportSchema>;

export const WorkflowStateSchema = ExecutionInputSchema.extend({
  run: RunContextSchema.optional(),
  infra: InfraSchema.optional(),
  result: WatchResultSchema.optional(),
  error: CaughtErrorSchema.optional(),
  report: ReportSchema.optional(),
});
export type WorkflowState = z.infer<typeof WorkflowStateSchema>;

export const InfraOpSchema = z.object({
  op: z.enum(['submit', 'watch', 'cleanup']),
  state: WorkflowStateSchema,
});
export type InfraOp = z.infer<typeof InfraOpSchema>;

export function eventKey(flowRunId: string): string {
  return `runs/${flowRunId}/event.json`;
}
/** The block a slug resolved to when the event was accepted, parked beside the event (`…/event.json` → `…/block.json`). */
export function pinnedBlockKey(eventRef: string): string {
  return eventRef.replace(/[^/]+$/, 'block.json');
}
export function cancelKey(flowRunId: string): string {
  return `runs/${flowRunId}/cancel.json`;
}
/** Where Watch records that it asked the infrastructure to stop (polls are retries: state cannot carry it). */
export function stopKey(flowRunId: string): string {
  return `runs/${flowRunId}/stop.json`;
}

export const StopRecordSchema = z.object({
  /** What the run is reported as once the infrastructure is gone. */
  state: z.enum(['Cancelled', 'Crashed']),
  reason: z.string(),
  requested_at: z.iso.datetime(),
  /** The polite stop reached the provider. */
  sent: z.boolean(),
  /** The forced stop was sent (after the grace period). */
  forced: z.boolean(),
  /** The flow run was deleted from Prefect: nothing is proposed for it. */
  deleted: z.boolean().optional(),
});
export type StopRecord = z.infer<typeof StopRecordSchema>;
/** One Step Functions execution per flow run: duplicate deliveries collapse into it. */
export function executionName(flowRunId: string): string {
  return `fr-${flowRunId}`;
}
