// Envelopes: unwrap a flow-run event from whatever carried it (EventBridge, a
// Pub/Sub push body, a cron/schedule input, or nothing at all).
import { createHash } from 'node:crypto';
import * as z from 'zod';
import { EnvelopeError } from '../core/errors.js';
import { checkInput } from '../core/input-guard.js';
import { problemsFrom } from '../core/zod-problems.js';
import { type FlowRunEventInput, InlineBlockSchema, TimeoutsSchema, WorkPoolRefSchema } from './schema.js';

export type EnvelopeKind = 'eventbridge' | 'pubsub-push' | 'cron' | 'flow-run-event';

export interface Unwrapped {
  kind: EnvelopeKind;
  /** The flow-run event, not yet validated (parseFlowRunEvent does that). */
  event: unknown;
  /** The carrier's own id (EventBridge `id`, Pub/Sub `messageId`), for logs. */
  deliveryId?: string;
}

export const EventBridgeEnvelopeSchema = z.looseObject({
  'detail-type': z.string(),
  source: z.string(),
  id: z.string().optional(),
  time: z.string().optional(),
  detail: z.record(z.string(), z.unknown(), { message: 'detail must be the flow-run event (an object)' }),
});

export const PubSubPushSchema = z.looseObject({
  subscription: z.string().optional(),
  message: z.looseObject({
    data: z.string({ message: 'required: the flow-run event as base64-encoded JSON' }),
    attributes: z.record(z.string(), z.string()).optional(),
    messageId: z.string().optional(),
    message_id: z.string().optional(),
    publishTime: z.string().optional(),
  }),
});

export const CronInputSchema = z.strictObject({
  deployment: z.strictObject({
    id: z.string().min(1, 'required: the deployment id the schedule belongs to'),
    name: z.string().min(1).optional(),
    flow_name: z.string().min(1).optional(),
    parameters: z.record(z.string(), z.unknown()).default({}),
    tags: z.array(z.string()).default([]),
  }),
  infrastructure: InlineBlockSchema.optional(),
  infrastructure_block: z.string().optional(),
  infra_overrides: z.record(z.string(), z.unknown()).default({}),
  /** Prefect 3: the deployment's work pool and job variables, instead of a block. */
  work_pool: WorkPoolRefSchema.optional(),
  job_variables: z.record(z.string(), z.unknown()).optional(),
  timeouts: TimeoutsSchema.optional(),
  /** The tick's scheduled time (EventBridge Scheduler: `<aws.scheduler.scheduled-time>`). */
  scheduled_time: z.iso
    .datetime({ offset: true, message: 'must be an ISO-8601 time, e.g. 2026-11-24T14:00:00Z' })
    .optional(),
});
export type CronInput = z.input<typeof CronInputSchema>;

function invalid(kind: string, error: z.ZodError): EnvelopeError {
  return new EnvelopeError(`Failed to parse ${kind} envelope`, problemsFrom(error), { cause: error });
}

export function unwrapEventBridge(input: unknown): Unwrapped {
  const parsed = EventBridgeEnvelopeSchema.safeParse(input);
  if (!parsed.success) throw invalid('EventBridge', parsed.error);
  return {
    kind: 'eventbridge',
    event: parsed.data.detail,
    ...(parsed.data.id ? { deliveryId: parsed.data.id } : {}),
  };
}

export function unwrapPubSubPush(input: unknown): Unwrapped {
  checkInput(input, 'Pub/Sub push body refused');
  const parsed = PubSubPushSchema.safeParse(input);
  if (!parsed.success) throw invalid('Pub/Sub push', parsed.error);
  const { data, messageId, message_id } = parsed.data.message;
  const text = Buffer.from(data, 'base64').toString('utf8');
  let event: unknown;
  try {
    event = JSON.parse(text);
  } catch (cause) {
    throw new EnvelopeError(
      'Failed to parse Pub/Sub push envelope',
      [
        {
          path: 'message.data',
          message: 'must be base64 of a JSON flow-run event; it did not decode to JSON',
        },
      ],
      { cause },
    );
  }
  checkInput(event, 'Invalid flow-run event in the Pub/Sub message', 'message.data');
  const deliveryId = messageId ?? message_id;
  return { kind: 'pubsub-push', event, ...(deliveryId ? { deliveryId } : {}) };
}

// RFC 4122 name-based UUID (version 5), so a repeated schedule tick is the same flow run.
const CRON_NAMESPACE = 'b6c2ac5e-3f0a-4b8e-9d3e-5a1f6c0f2d11';

export function uuidV5(name: string, namespace = CRON_NAMESPACE): string {
  const ns = Buffer.from(namespace.replace(/-/g, ''), 'hex');
  const hash = createHash('sha1').update(ns).update(name, 'utf8').digest();
  const bytes = hash.subarray(0, 16);
  bytes[6] = ((bytes[6] ?? 0) & 0x0f) | 0x50;
  bytes[8] = ((bytes[8] ?? 0) & 0x3f) | 0x80;
  const hex = bytes.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** A schedule tick → a flow-run event with an id derived from the deployment and the scheduled time. */
export function unwrapCron(input: unknown, now: () => Date = () => new Date()): Unwrapped {
  const parsed = CronInputSchema.safeParse(input);
  if (!parsed.success) throw invalid('cron', parsed.error);
  const cron = parsed.data;
  // Without a scheduled time, the tick's minute stands in for it: retries within it are the same run.
  const scheduled = cron.scheduled_time
    ? new Date(cron.scheduled_time)
    : new Date(Math.floor(now().getTime() / 60_000) * 60_000);
  const at = scheduled.toISOString();
  const id = uuidV5(`${cron.deployment.id}|${at}`);
  const stamp = at.replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
  const event: FlowRunEventInput = {
    flow_run: {
      id,
      name: `${cron.deployment.name ?? 'scheduled'}-${stamp}`,
      deployment_id: cron.deployment.id,
      ...(cron.deployment.name ? { deployment_name: cron.deployment.name } : {}),
      ...(cron.deployment.flow_name ? { flow_name: cron.deployment.flow_name } : {}),
      parameters: cron.deployment.parameters,
      tags: cron.deployment.tags,
    },
    ...(cron.infrastructure ? { infrastructure: cron.infrastructure } : {}),
    ...(cron.infrastructure_block ? { infrastructure_block: cron.infrastructure_block } : {}),
    infra_overrides: cron.infra_overrides,
    ...(cron.work_pool ? { work_pool: cron.work_pool } : {}),
    ...(cron.job_variables ? { job_variables: cron.job_variables } : {}),
    ...(cron.timeouts ? { timeouts: cron.timeouts } : {}),
  };
  return { kind: 'cron', event, deliveryId: `${cron.deployment.id}@${at}` };
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Recognises the envelope by its shape and unwraps it. */
export function unwrap(input: unknown, now?: () => Date): Unwrapped {
  checkInput(input, 'Input refused');
  if (!isRecord(input)) {
    throw new EnvelopeError('Unrecognised input', [{ path: '', message: 'expected a JSON object' }]);
  }
  if ('detail-type' in input || ('detail' in input && 'source' in input)) return unwrapEventBridge(input);
  if (isRecord(input.message) && 'data' in input.message) return unwrapPubSubPush(input);
  if ('deployment' in input && !('flow_run' in input)) return unwrapCron(input, now);
  if ('flow_run' in input) return { kind: 'flow-run-event', event: input };
  throw new EnvelopeError('Unrecognised input', [
    {
      path: '',
      message:
        "expected a flow-run event (with 'flow_run'), an EventBridge event (with 'detail'), " +
        "a Pub/Sub push body (with 'message.data') or a cron input (with 'deployment')",
    },
  ]);
}
