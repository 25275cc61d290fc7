// What every trigger does with a delivery: validate it fully, park the event in the
// store (so no secret travels in workflow state), and name the one execution for it.
// A rejected delivery is kept under `rejected/` with its problems, never dropped.
import { randomUUID } from 'node:crypto';
import { InvalidInputError, SubmitterError } from '../../core/errors.js';
import { collectSecretValues, redact, scrub } from '../../core/secrets.js';
import type { Unwrapped } from '../../events/envelopes.js';
import { type FlowRunEvent, parseFlowRunEvent } from '../../events/schema.js';
import { type Resolved, resolveTarget } from '../../providers/resolve.js';
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
  const target = await resolveTarget(event, deps.blocks);
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
  // a problem can quote a value (a resource group holding the subscription id): scrubbed of the input's secrets
  const secrets = collectSecretValues(raw);
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
        input: redact(raw),
      },
      null,
      2,
    ),
  );
  return key;
}
