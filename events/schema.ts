// The flow-run event: what every trigger delivers once its envelope is unwrapped.
import * as z from 'zod';
import { InvalidInputError } from '../core/errors.js';
import { checkInput } from '../core/input-guard.js';
import { problemsFrom } from '../core/zod-problems.js';

/**
 * `type/name`, e.g. `ecs-task/prod` (Prefect's block slug). The name is a file name in a folder
 * store (`<name>.yaml`), so at most 200 characters (file systems allow 255 bytes).
 */
export const BLOCK_SLUG = /^[a-z][a-z0-9-]{0,63}\/[A-Za-z0-9][A-Za-z0-9_.-]{0,199}$/;
const SLUG_MESSAGE =
  "must be a block slug 'type/name', e.g. 'ecs-task/prod' (letters, digits, '-', '_', '.'; a name of at most 200 characters)";

export const FlowRunSchema = z.strictObject({
  id: z.uuid({ message: 'must be a UUID, e.g. 0b3b3c3e-0000-4000-8000-000000000001' }),
  name: z.string().min(1).optional(),
  flow_name: z.string().min(1).optional(),
  deployment_id: z.string().min(1).optional(),
  deployment_name: z.string().min(1).optional(),
  parameters: z.record(z.string(), z.unknown()).default({}),
  tags: z.array(z.string()).default([]),
});
export type FlowRun = z.infer<typeof FlowRunSchema>;

/** An inline block: validated against its type's schema once overrides are applied. */
export const InlineBlockSchema = z.looseObject({
  type: z.string({ message: "required: the block's type, e.g. 'process' or 'ecs-task'" }),
});

export const TimeoutsSchema = z.strictObject({
  /** Seconds the infrastructure may stay pending before the run is Crashed. Default: the block's. */
  start_seconds: z.number().int().positive().optional(),
  /** Seconds the run may take from submission before it is killed and Crashed. */
  run_seconds: z.number().int().positive().optional(),
});

export const FlowRunEventSchema = z
  .strictObject({
    flow_run: FlowRunSchema,
    infrastructure: InlineBlockSchema.optional(),
    infrastructure_block: z.string().regex(BLOCK_SLUG, { message: SLUG_MESSAGE }).optional(),
    infra_overrides: z.record(z.string(), z.unknown()).default({}),
    timeouts: TimeoutsSchema.default({}),
  })
  .superRefine((event, ctx) => {
    const count =
      Number(event.infrastructure !== undefined) + Number(event.infrastructure_block !== undefined);
    if (count !== 1) {
      ctx.addIssue({
        code: 'custom',
        path: count === 0 ? ['infrastructure'] : ['infrastructure_block'],
        message:
          count === 0
            ? "give exactly one of 'infrastructure' (an inline block) or 'infrastructure_block' (a slug 'type/name')"
            : "give only one of 'infrastructure' or 'infrastructure_block', not both",
      });
    }
  });
export type FlowRunEvent = z.infer<typeof FlowRunEventSchema>;
export type FlowRunEventInput = z.input<typeof FlowRunEventSchema>;

export function parseFlowRunEvent(input: unknown, what = 'Invalid flow-run event'): FlowRunEvent {
  checkInput(input, what);
  const result = FlowRunEventSchema.safeParse(input);
  if (!result.success) {
    const knownFields = (path: readonly PropertyKey[]) =>
      path.length === 0
        ? Object.keys(FlowRunEventSchema.shape)
        : path.length === 1 && path[0] === 'flow_run'
          ? Object.keys(FlowRunSchema.shape)
          : [];
    throw new InvalidInputError(what, problemsFrom(result.error, { knownFields }));
  }
  return result.data;
}

/** Prefect's flow-run id in the form it puts in `PREFECT__FLOW_RUN_ID`: the UUID's hex. */
export function flowRunHex(id: string): string {
  return id.replace(/-/g, '').toLowerCase();
}

/** The flow-run id `preview` and `validate` use when the input has none (a block or deployment). */
export const FLOW_RUN_PLACEHOLDER_ID = '00000000-0000-4000-8000-000000000000';
