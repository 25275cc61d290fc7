// Loads a run's target (flow run + block, overrides applied) from its parked event.
// Cached per container: the watch loop polls many times, the event is read once.
import { describeError, InvalidInputError, ProviderTransientError } from '../../core/errors.js';
import { collectSecretValues } from '../../core/secrets.js';
import { type FlowRunEvent, parseFlowRunEvent } from '../../events/schema.js';
import type { BlockType } from '../../providers/blocks.js';
import { type Resolved, resolveTarget } from '../../providers/resolve.js';
import type { Deps } from './deps.js';

export interface LoadedRun extends Resolved {
  event: FlowRunEvent;
  /** Secret values in the event and block, to scrub from anything written out. */
  secrets: string[];
}

const cache = new Map<string, LoadedRun>();
const CACHE_LIMIT = 64;

export async function loadRawEvent(deps: Deps, eventRef: string): Promise<unknown> {
  let body: string | undefined;
  try {
    body = await deps.store.get(eventRef);
  } catch (error) {
    // the store being unreachable is worth a retry, not the end of the run
    throw new ProviderTransientError(
      `could not read ${eventRef} from ${deps.store.location}: ${describeError(error)}`,
      {
        cause: error,
      },
    );
  }
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

export async function loadRun(deps: Deps, eventRef: string): Promise<LoadedRun> {
  const key = `${deps.store.location}|${eventRef}`;
  const cached = cache.get(key);
  if (cached) return cached;
  const raw = await loadRawEvent(deps, eventRef);
  const event = parseFlowRunEvent(raw);
  checkEnabled(deps, event);
  const resolved = await resolveTarget(event, deps.blocks);
  const loaded: LoadedRun = {
    ...resolved,
    event,
    secrets: [...new Set([...collectSecretValues(raw), ...collectSecretValues(resolved.block)])],
  };
  if (cache.size >= CACHE_LIMIT) cache.delete(cache.keys().next().value as string);
  cache.set(key, loaded);
  return loaded;
}

/** A block type this deployment has no provider function for is refused with the list of those it has. */
export function checkEnabled(deps: Deps, event: FlowRunEvent): void {
  const enabled = deps.settings.enabledProviders;
  const type = event.infrastructure?.type ?? event.infrastructure_block?.split('/')[0];
  if (!enabled || !type || enabled.includes(type as BlockType)) return;
  throw new InvalidInputError('Infrastructure type not enabled', [
    {
      path: event.infrastructure ? 'infrastructure.type' : 'infrastructure_block',
      message: `'${type}' is not enabled in this deployment (enabled: ${enabled.join(', ') || 'none'}); enable it in the CDK config or use another block`,
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
