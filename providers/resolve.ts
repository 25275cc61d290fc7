// Event → the block it runs on: inline or by slug, overrides applied, validated again.
import type { FlowRunEvent } from '../events/schema.js';
import type { BlockStore } from './block-store.js';
import { type Block, parseBlock } from './blocks.js';
import { applyOverrides } from './overrides.js';
import type { Target } from './port.js';

export interface Resolved extends Target {
  /** `inline` or the slug the block came from. */
  source: string;
}

export async function resolveTarget(event: FlowRunEvent, blocks: BlockStore | undefined): Promise<Resolved> {
  let doc: Record<string, unknown>;
  let source: string;
  let path: string;
  if (event.infrastructure) {
    doc = event.infrastructure;
    source = 'inline';
    path = 'infrastructure';
  } else {
    const slug = event.infrastructure_block ?? '';
    if (!blocks) throw new Error(`no block store is configured to resolve '${slug}'`);
    doc = await blocks.get(slug);
    source = slug;
    path = `infrastructure_block(${slug})`;
  }
  const { block: merged, touched } = applyOverrides(doc, event.infra_overrides);
  const block: Block = parseBlock(merged, { path, overridden: touched });
  return { block, flowRun: event.flow_run, source };
}
