// Event → the block it runs on: inline or by slug, overrides applied, validated again.
import { BlockNotFoundError, InvalidInputError, type Problem } from '../core/errors.js';
import { collectSecretValues, scrub } from '../core/secrets.js';
import { BLOCK_SLUG, type FlowRunEvent, parseFlowRunEvent, type WorkPoolRef } from '../events/schema.js';
import type { WorkPoolRenderer } from '../prefect3/pool-target.js';
import type { BlockStore } from './block-store.js';
import { type Block, checkOverriddenFields, isBlockType, NESTED_BLOCKS, parseBlock } from './blocks.js';
import { applyOverrides } from './overrides.js';
import type { Target } from './port.js';
import { canonicalBlock, resolveNestedBlocks } from './prefect2.js';
import type { SpecLoader } from './specs.js';

export interface Resolved extends Target {
  /** `inline` or the slug the block came from. */
  source: string;
  /** The block document before overrides, as the store held it (slug-referenced blocks only): what the trigger pins. */
  document?: Record<string, unknown>;
}

/**
 * Where slugs, work pools and Prefect variables are looked up: the block store, or (in the
 * workflow's steps) the block pinned when the event was accepted.
 */
export interface BlockSource
  extends Pick<BlockStore, 'get'>,
    Partial<Pick<BlockStore, 'variables' | 'store'>> {
  /** The block document a work-pool run was accepted with, pinned next to its event. */
  pinned?(): Promise<Record<string, unknown> | undefined>;
  /** Renders a work pool (prefect3/pool-target.ts); given where pools are rendered: the trigger, the CLI. */
  renderWorkPool?: WorkPoolRenderer;
}

export async function resolveTarget(event: FlowRunEvent, blocks: BlockSource | undefined): Promise<Resolved> {
  let doc: Record<string, unknown>;
  let source: string;
  let path: string;
  if (event.work_pool) {
    ({ doc, source, path } = await workPoolBlock(event, event.work_pool, blocks));
    doc = await withNestedBlocks(doc, blocks, path);
    // the adapter's block fields are the job configuration's: problems name them there, as its own do
    const block: Block = parseBlock(doc, { path: `${path}.job_configuration` });
    return { block, flowRun: event.flow_run, source, document: doc };
  }
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
  doc = await withNestedBlocks(doc, blocks, path);
  const { block: overridden, touched } = applyOverrides(doc, event.infra_overrides);
  const merged = await withNestedBlocks(overridden, blocks, path);
  // the block as given must be valid by itself: an override must not hide a bad stored value
  checkOverriddenFields(doc, touched, { path });
  const block: Block = parseBlock(merged, { path, overridden: touched });
  return { block, flowRun: event.flow_run, source, ...(event.infrastructure ? {} : { document: doc }) };
}

/**
 * Runs the provider's build (what Prepare runs before anything starts), so a block that can
 * never run is refused at the door. Its problems are scrubbed of the block's secret values (a
 * build message may quote a value that is also a secret elsewhere in the block).
 */
export async function checkBuildable(target: Resolved, loadSpec: SpecLoader): Promise<void> {
  const spec = await loadSpec(target.block.type);
  try {
    spec.build(target);
  } catch (error) {
    if (!(error instanceof InvalidInputError)) throw error;
    const secrets = collectSecretValues(target.block);
    throw new InvalidInputError(
      error.message.split(':\n')[0] ?? 'Invalid block',
      error.problems.map((p) => ({ path: p.path, message: scrub(p.message, secrets) })),
    );
  }
}

/**
 * Every problem with an event, the event's own and its block's (after overrides) together,
 * so `validate` can list them all at once instead of one layer at a time.
 */
export async function findProblems(
  raw: unknown,
  blocks: BlockStore | undefined,
  loadSpec?: SpecLoader,
): Promise<Problem[]> {
  const problems: Problem[] = [];
  const record = (typeof raw === 'object' && raw !== null ? raw : {}) as Record<string, unknown>;
  const collect = (error: unknown) => {
    if (error instanceof InvalidInputError) problems.push(...error.problems);
    else if (error instanceof BlockNotFoundError)
      problems.push({
        path: isRecord(record.work_pool) ? 'work_pool' : 'infrastructure_block',
        message: error.message,
      });
    else throw error;
  };
  try {
    parseFlowRunEvent(raw);
  } catch (error) {
    collect(error);
  }
  const overrides = isRecord(record.infra_overrides) ? record.infra_overrides : {};
  try {
    let doc: Record<string, unknown> | undefined;
    let path = 'infrastructure';
    if (isRecord(record.infrastructure)) doc = record.infrastructure;
    else if (
      typeof record.infrastructure_block === 'string' &&
      BLOCK_SLUG.test(record.infrastructure_block) &&
      blocks
    ) {
      doc = await blocks.get(record.infrastructure_block);
      path = `infrastructure_block(${record.infrastructure_block})`;
    }
    if (doc) {
      doc = await withNestedBlocks(doc, blocks, path);
      const { block: overridden, touched } = applyOverrides(doc, overrides);
      const block = await withNestedBlocks(overridden, blocks, path);
      try {
        checkOverriddenFields(doc, touched, { path });
      } catch (error) {
        collect(error);
      }
      parseBlock(block, { path, overridden: touched });
    }
  } catch (error) {
    collect(error);
  }
  // a work pool's block exists once its template is rendered; then what Prepare checks next:
  // the provider can build its request from the block
  if (problems.length === 0 && (loadSpec || record.work_pool !== undefined)) {
    try {
      const target = await resolveTarget(parseFlowRunEvent(raw), blocks);
      if (loadSpec) await checkBuildable(target, loadSpec);
    } catch (error) {
      collect(error);
    }
  }
  const seen = new Set<string>();
  return problems.filter((p) => {
    const key = `${p.path}|${p.message}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

/**
 * Prefect 3: the work pool's base job template rendered with the job variables (as Prefect's
 * worker renders it), then translated by the pool type's adapter into the block document the
 * provider's one `build` takes. A run in the workflow reads the document pinned at acceptance,
 * so a pool, block or variable edited mid-run changes nothing.
 */
async function workPoolBlock(
  event: FlowRunEvent,
  ref: WorkPoolRef,
  blocks: BlockSource | undefined,
): Promise<{ doc: Record<string, unknown>; source: string; path: string }> {
  const path = ref.name ? `work_pool(${ref.name})` : 'work_pool';
  const source = ref.type !== undefined ? `work-pool(inline ${ref.type})` : `work-pool/${ref.name}`;
  const pinned = await blocks?.pinned?.();
  if (pinned) return { doc: pinned, source, path };
  if (!blocks?.renderWorkPool) {
    throw new Error(
      `work pool ${source} has no pinned block and this function does not render pools: the trigger pins one with every work-pool event it accepts`,
    );
  }
  return { doc: await blocks.renderWorkPool(event, ref, blocks, path), source, path };
}

/** Nested blocks given by slug (the type's `nestedBlocks`) replaced by their documents from the store. */
async function withNestedBlocks(
  doc: Record<string, unknown>,
  blocks: BlockSource | undefined,
  path: string,
): Promise<Record<string, unknown>> {
  const canonical = canonicalBlock(doc, path);
  if (!isBlockType(canonical.type)) return doc;
  return resolveNestedBlocks(canonical, NESTED_BLOCKS[canonical.type], blocks, path);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
