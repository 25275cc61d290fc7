// The port between a Prefect 3 work pool and a provider: the job configuration Prefect's
// worker would hold (the pool's base job template rendered with the job variables) becomes
// the Prefect 2 style block document that the provider's one `build` takes.
import type { BlockType } from '../providers/blocks.js';

export interface JobConfigurationContext {
  /** The flow run being started (id, name, deployment), as in the event. */
  flowRun: { id: string; name?: string | undefined };
  /** Problem paths start here, e.g. `work_pool(my-ecs-pool).job_configuration`. */
  path: string;
}

export interface WorkPoolAdapter {
  /** Prefect work-pool types this adapter reads, e.g. `['ecs']` or `['cloud-run', 'cloud-run-v2']`. */
  poolTypes: readonly string[];
  /** The block type whose `build` runs the job. */
  blockType: BlockType;
  /**
   * Rendered job configuration → block document (`type` = blockType, Prefect 2 field names),
   * validated afterwards by parseBlock like any block. Pure. Throws InvalidInputError with
   * problems naming `<path>.<field>` and saying what to change, for anything it cannot express.
   */
  toBlock(config: Record<string, unknown>, context: JobConfigurationContext): Record<string, unknown>;
}
