// A work-pool event's block document: the pool (inline, or saved at `work-pools/<name>.json`),
// its base job template rendered with the job variables as Prefect's worker renders it, then
// translated by the pool type's adapter. Bundled only where pools are rendered (the trigger and
// the CLI): every later step reads the document the trigger pinned (providers/resolve.ts).
import { BlockNotFoundError } from '../core/errors.js';
import type { DocumentStore } from '../core/store.js';
import type { FlowRunEvent, WorkPoolRef } from '../events/schema.js';
import { BlockStore } from '../providers/block-store.js';
import { adapterFor } from './adapters.js';
import { type RenderSource, renderJobConfiguration } from './render.js';
import { parseWorkPool, templateOf, type WorkPool, WorkPoolStore } from './work-pool.js';

/** Renders a work-pool event into the block document its provider runs (see providers/resolve.ts). */
export type WorkPoolRenderer = (
  event: FlowRunEvent,
  ref: WorkPoolRef,
  blocks: (RenderSource & { store?: DocumentStore }) | undefined,
  path: string,
) => Promise<Record<string, unknown>>;

/** Without a store, a template's `{{ prefect.blocks… }}` is a block that is not there. */
const NO_BLOCKS: RenderSource = {
  get: (slug) => Promise.reject(new BlockNotFoundError(slug, 'no block store (give --blocks LOC)')),
};

export const renderWorkPool: WorkPoolRenderer = async (event, ref, blocks, path) => {
  let pool: WorkPool;
  if (ref.type !== undefined) pool = parseWorkPool(ref, path);
  else {
    if (!blocks?.store) throw new Error(`no block store is configured to find work pool '${ref.name}'`);
    pool = await new WorkPoolStore(blocks.store).get(ref.name ?? '');
  }
  const template = templateOf(pool, path);
  const adapter = adapterFor(pool.type, path);
  const config = await renderJobConfiguration(template, event.job_variables ?? {}, {
    blocks: blocks ?? NO_BLOCKS,
    path,
  });
  return adapter.toBlock(config, { flowRun: event.flow_run, path: `${path}.job_configuration` });
};

/** A block store that renders work pools too: what the trigger and the CLI resolve events with. */
export class WorkPoolBlockStore extends BlockStore {
  readonly renderWorkPool: WorkPoolRenderer = renderWorkPool;
}

export function withWorkPools(blocks: BlockStore): WorkPoolBlockStore {
  return blocks instanceof WorkPoolBlockStore ? blocks : new WorkPoolBlockStore(blocks.store);
}
