// Loads a run's target (flow run + block, overrides applied) from its parked event.
// Cached per container: the watch loop polls many times, the event is read once.
import { InvalidInputError } from '../../core/errors.js';
import { collectSecretValues } from '../../core/secrets.js';
import { type FlowRunEvent, parseFlowRunEvent } from '../../events/schema.js';
import type { BlockType } from '../../providers/blocks.js';
import { BLOCK_TYPE_ALIASES } from '../../providers/prefect2.js';
import { type BlockSource, type Resolved, resolveTarget } from '../../providers/resolve.js';
import type { Deps } from './deps.js';
import { withFlowRunAccess } from './prefect/flow-run-env.js';
import { pinnedBlockKey } from './state.js';

export interface LoadedRun extends Resolved {
  event: FlowRunEvent;
  /** Secret values in the event and block, to scrub from anything written out. */
  secrets: string[];
}

/** Per deps object (one per container): the watch loop polls many times, the event is read once. */
const caches = new WeakMap<Deps, Map<string, LoadedRun>>();
const CACHE_LIMIT = 64;

/** The parked event (the store's reads are retried by the runtime; what still fails is transient). */
export async function loadRawEvent(deps: Deps, eventRef: string): Promise<unknown> {
  const body = await deps.store.get(eventRef);
  if (body === undefined) {
    throw new InvalidInputError('Flow-run event not found', [
      {
        path: 'event_ref',
        message: `'${eventRef}' is not in ${deps.store.location}; the trigger parks every event there before starting the workflow`,
      },
    ]);
  }
  return JSON.parse(body);
}

/**
 * The block a run was accepted with: the trigger pinned it next to the event, so every
 * step acts on the same block even if someone edits the stored one mid-run. An event
 * parked before pinning existed reads the block store.
 */
function pinnedBlocks(deps: Deps, eventRef: string, event: FlowRunEvent): BlockSource {
  const pinned = async () => {
    const body = await deps.store.get(pinnedBlockKey(eventRef));
    return body === undefined ? undefined : (JSON.parse(body) as Record<string, unknown>);
  };
  return {
    // the pin is the event's own block (its nested blocks inlined); a nested block an override
    // names by slug is another block, read from the store
    async get(slug) {
      return (slug === event.infrastructure_block ? await pinned() : undefined) ?? deps.blocks.get(slug);
    },
    pinned,
  };
}

export async function loadRun(deps: Deps, eventRef: string): Promise<LoadedRun> {
  let cache = caches.get(deps);
  if (!cache) {
    cache = new Map();
    caches.set(deps, cache);
  }
  const cached = cache.get(eventRef);
  if (cached) return cached;
  const raw = await loadRawEvent(deps, eventRef);
  const event = parseFlowRunEvent(raw);
  checkEnabled(deps, event);
  const target = await resolveTarget(event, pinnedBlocks(deps, eventRef, event));
  if (event.work_pool) checkEnabled(deps, event, target.block.type);
  const resolved = await withPrefectEnv(deps, target);
  const loaded: LoadedRun = {
    ...resolved,
    event,
    secrets: [...new Set([...collectSecretValues(raw), ...collectSecretValues(resolved.block)])],
  };
  if (cache.size >= CACHE_LIMIT) cache.delete(cache.keys().next().value as string);
  cache.set(eventRef, loaded);
  return loaded;
}

/**
 * The flow run reaches the Prefect API as the submitter does: PREFECT_API_URL always; the
 * credential itself only for the process provider (it runs here); deployed providers get the
 * key by their platform's secret reference (./prefect/flow-run-env.ts), never as a plain value.
 */
export async function withPrefectEnv(deps: Deps, resolved: Resolved): Promise<Resolved> {
  if (!deps.prefect) return resolved;
  return { ...resolved, block: await withFlowRunAccess(deps.prefect, resolved.block) };
}

/** A block type this deployment has no provider function for is refused with the list of those it has. */
export function checkEnabled(deps: Deps, event: FlowRunEvent, resolved?: BlockType): void {
  const enabled = deps.settings.enabledProviders;
  const pool = event.work_pool;
  // a work pool's block type is known once it is resolved (a saved pool says it, not the event)
  const given = pool ? resolved : (event.infrastructure?.type ?? event.infrastructure_block?.split('/')[0]);
  // an alias (prefect-gcp's `cloud-run-job-v2`) runs on the provider it names
  const type = given && Object.hasOwn(BLOCK_TYPE_ALIASES, given) ? BLOCK_TYPE_ALIASES[given]?.type : given;
  if (!enabled || !type || enabled.includes(type as BlockType)) return;
  throw new InvalidInputError('Infrastructure type not enabled', [
    {
      path: pool ? 'work_pool.type' : event.infrastructure ? 'infrastructure.type' : 'infrastructure_block',
      message: `'${type}' is not enabled in this deployment (enabled: ${enabled.join(', ') || 'none'}); enable it in the CDK config or use another ${pool ? 'work pool' : 'block'}`,
    },
  ]);
}

/** Secrets we can find for a run even when its event is invalid (for scrubbing error reports). */
export async function secretsFor(deps: Deps, eventRef: string | undefined): Promise<string[]> {
  if (!eventRef) return [];
  try {
    return (await loadRun(deps, eventRef)).secrets;
  } catch {
    try {
      return collectSecretValues(await loadRawEvent(deps, eventRef));
    } catch {
      return [];
    }
  }
}
