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

/** A work-pool name (the pool's file name in the store, `work-pools/<name>.json`). */
export const WORK_POOL_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,199}$/;
export const WORK_POOL_NAME_MESSAGE =
  "must be a work-pool name of letters, digits, '-', '_' and '.' (at most 200 characters), e.g. 'my-ecs-pool'";

/**
 * Prefect 3: the work pool a flow run runs on, by name (`{"name"}`, from the store) or inline
 * (`{"type", "base_job_template"?}`, the type's default template when there is none).
 */
export const WorkPoolRefSchema = z
  .strictObject({
    name: z.string().regex(WORK_POOL_NAME, { message: WORK_POOL_NAME_MESSAGE }).optional(),
    type: z.string().min(1).optional(),
    base_job_template: z.record(z.string(), z.unknown()).optional(),
  })
  .superRefine((pool, ctx) => {
    if (pool.name === undefined && pool.type === undefined && pool.base_job_template === undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['name'],
        message: "give the pool's 'name' (a saved work pool) or its 'type' (an inline pool, e.g. 'process')",
      });
    }
    if (pool.base_job_template !== undefined && pool.type === undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['type'],
        message: "required with 'base_job_template': the work-pool type it is for, e.g. 'ecs'",
      });
    }
  });
export type WorkPoolRef = z.infer<typeof WorkPoolRefSchema>;

const TARGETS =
  "'infrastructure' (an inline block), 'infrastructure_block' (a slug 'type/name') or 'work_pool' (Prefect 3)";

export const FlowRunEventSchema = z
  .strictObject({
    flow_run: FlowRunSchema,
    infrastructure: InlineBlockSchema.optional(),
    infrastructure_block: z.string().regex(BLOCK_SLUG, { message: SLUG_MESSAGE }).optional(),
    infra_overrides: z.record(z.string(), z.unknown()).default({}),
    work_pool: WorkPoolRefSchema.optional(),
    /** Prefect 3's job variables (the deployment's merged with the flow run's); only with work_pool. */
    job_variables: z.record(z.string(), z.unknown()).optional(),
    timeouts: TimeoutsSchema.default({}),
  })
  .superRefine((event, ctx) => {
    const given = (['infrastructure', 'infrastructure_block', 'work_pool'] as const).filter(
      (key) => event[key] !== undefined,
    );
    if (given.length !== 1) {
      ctx.addIssue({
        code: 'custom',
        path: [given[1] ?? 'infrastructure'],
        message:
          given.length === 0
            ? `give exactly one of ${TARGETS}`
            : `give only one of ${TARGETS}, not ${given.map((key) => `'${key}'`).join(' and ')}`,
      });
    }
    if (event.job_variables !== undefined && event.work_pool === undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['job_variables'],
        message:
          "job variables are Prefect 3's and need a 'work_pool'; with a Prefect 2 block use 'infra_overrides'",
      });
    }
    if (event.work_pool !== undefined && Object.keys(event.infra_overrides).length > 0) {
      ctx.addIssue({
        code: 'custom',
        path: ['infra_overrides'],
        message: "overrides of a work pool are its 'job_variables' (Prefect 3): move them there",
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
