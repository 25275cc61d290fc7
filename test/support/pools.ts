// A work pool's block through the one path the trigger takes (resolveTarget with a block store
// that renders pools): template rendered with the job variables, the adapter, parseBlock.
import { parseFlowRunEvent } from '../../events/schema.js';
import { withWorkPools } from '../../prefect3/pool-target.js';
import type { BlockStore } from '../../providers/block-store.js';
import type { Block } from '../../providers/blocks.js';
import { resolveTarget } from '../../providers/resolve.js';

export async function poolBlock(
  blocks: BlockStore,
  pool: { name: string; type: string; base_job_template: Record<string, unknown> },
  jobVariables: Record<string, unknown>,
  flowRun: { id: string; name?: string | undefined },
): Promise<Block> {
  const event = parseFlowRunEvent({
    flow_run: { id: flowRun.id, ...(flowRun.name ? { name: flowRun.name } : {}) },
    work_pool: pool,
    job_variables: jobVariables,
  });
  return (await resolveTarget(event, withWorkPools(blocks))).block;
}
