// What every trigger does with a delivery: validate it fully, park the event in the
// store (so no secret travels in workflow state), and name the one execution for it.
// A rejected delivery is kept under `rejected/` with its problems, never dropped.
import { createHash, randomUUID } from 'node:crypto';
import { InvalidInputError, SubmitterError } from '../../core/errors.js';
import { boundedCopy } from '../../core/input-guard.js';
import { collectSecretValues, redact, scrub } from '../../core/secrets.js';
import type { Unwrapped } from '../../events/envelopes.js';
import { type FlowRunEvent, parseFlowRunEvent } from '../../events/schema.js';
import { withWorkPools } from '../../prefect3/pool-target.js';
import { checkBuildable, type Resolved, resolveTarget } from '../../providers/resolve.js';
import { checkEnabled } from './context.js';
import type { Deps } from './deps.js';
import { type ExecutionInput, eventKey, pinnedBlockKey } from './state.js';

export interface Accepted {
  input: ExecutionInput;
  event: FlowRunEvent;
  target: Resolved;
  /** False when an event for this flow run was already parked (a redelivery). */
  firstDelivery: boolean;
}

export async function accept(deps: Deps, unwrapped: Unwrapped): Promise<Accepted> {
  const event = parseFlowRunEvent(unwrapped.event);
  checkEnabled(deps, event);
  // the one place a deployed function renders a work pool: the block is pinned for every later step
  const target = await resolveTarget(event, withWorkPools(deps.blocks));
  if (event.work_pool) checkEnabled(deps, event, target.block.type);
  // what Prepare would refuse is refused here, kept as rejected, instead of an execution that ends Crashed
  await checkBuildable(target, deps.loadSpec);
  const ref = eventKey(event.flow_run.id);
  const body = JSON.stringify(unwrapped.event);
  // the block as resolved now is the one every step uses (first delivery wins, like the event)
  if (target.document) await deps.store.putIfAbsent(pinnedBlockKey(ref), JSON.stringify(target.document));
  const firstDelivery = await deps.store.putIfAbsent(ref, body);
  if (!firstDelivery && (await deps.store.get(ref)) !== body) {
    deps.log.warn('a different event for this flow run was received before; the first one is used', {
      flow_run_id: event.flow_run.id,
      delivery_id: unwrapped.deliveryId,
    });
  }
  const input: ExecutionInput = {
    flow_run_id: event.flow_run.id,
    event_ref: ref,
    summary: {
      ...(event.flow_run.name ? { flow_run_name: event.flow_run.name } : {}),
      ...(event.flow_run.flow_name ? { flow_name: event.flow_run.flow_name } : {}),
      ...(event.flow_run.deployment_name ? { deployment_name: event.flow_run.deployment_name } : {}),
      infrastructure: target.source === 'inline' ? target.block.type : target.source,
    },
  };
  return { input, event, target, firstDelivery };
}

/** True for errors no retry can fix: the delivery itself is bad. */
export function isRejection(error: unknown): boolean {
  return (
    error instanceof InvalidInputError ||
    (error instanceof SubmitterError && error.name === 'BlockNotFoundError')
  );
}

/** Keeps a rejected delivery (secrets redacted) with the problems found; returns its key. */
export async function keepRejected(
  deps: Deps,
  raw: unknown,
  error: unknown,
  deliveryId?: string,
): Promise<string> {
  const day = deps.now().toISOString().slice(0, 10);
  const id = (deliveryId ?? randomUUID()).replace(/[^A-Za-z0-9_.@=-]/g, '_');
  const key = `rejected/${day}/${id}.json`;
  // a bounded copy (the input may be too deep, cyclic or huge: that may be why it was refused),
  // a Pub/Sub message's data decoded so its secrets are found and redacted, not kept as base64
  const input = keepable(raw);
  // a problem can quote a value (a resource group holding the subscription id): scrubbed of the input's secrets
  const secrets = collectSecretValues(input);
  const problems = (
    error instanceof InvalidInputError
      ? error.problems
      : [{ path: '', message: error instanceof Error ? error.message : String(error) }]
  ).map((problem) => ({ path: problem.path, message: scrub(problem.message, secrets) }));
  await deps.store.put(
    key,
    JSON.stringify(
      {
        received_at: deps.now().toISOString(),
        delivery_id: deliveryId ?? null,
        error: error instanceof Error ? error.name : 'Error',
        problems,
        input: redact(input),
      },
      null,
      2,
    ),
  );
  return key;
}

/** Text that is not JSON: kept as its size and digest only (it may be a secret itself). */
function describeText(text: string): Record<string, unknown> {
  return {
    not_json: `${Buffer.byteLength(text)} bytes that are not JSON; not kept (they may hold secrets)`,
    sha256: createHash('sha256').update(text).digest('hex'),
  };
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** What of a refused delivery is kept (before redaction): bounded, a push message's data decoded. */
function keepable(raw: unknown): unknown {
  if (typeof raw === 'string') return describeText(raw);
  const copy = boundedCopy(raw);
  if (!isRecord(copy) || !isRecord(copy.message) || typeof copy.message.data !== 'string') return copy;
  const data = copy.message.data;
  const text = Buffer.from(typeof raw === 'object' && raw !== null ? pushData(raw) : data, 'base64').toString(
    'utf8',
  );
  let decoded: unknown;
  try {
    decoded = boundedCopy(JSON.parse(text));
  } catch {
    decoded = describeText(text);
  }
  // the event is redacted as an event (its block's schema says which fields are secret)
  return { ...copy, message: { ...copy.message, data: redact(decoded) } };
}

/** The push body's whole `message.data` (boundedCopy cuts long strings). */
function pushData(raw: object): string {
  const message: unknown = 'message' in raw ? raw.message : undefined;
  const data: unknown = isRecord(message) ? message.data : undefined;
  return typeof data === 'string' ? data : '';
}
