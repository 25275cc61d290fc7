import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { EnvelopeError } from '../core/errors.js';
import { unwrap, unwrapCron, uuidV5 } from '../events/envelopes.js';
import { classify, deploymentToEvent, readDocumentFile } from '../events/input.js';
import { parseFlowRunEvent } from '../events/schema.js';
import { SAMPLES, sample } from './helpers.js';

describe('envelopes', () => {
  it('unwraps an EventBridge event from detail', async () => {
    const raw = await sample('eventbridge.json');
    const out = unwrap(raw);
    assert.equal(out.kind, 'eventbridge');
    assert.equal(out.deliveryId, '3f1e2d3c-0000-4000-8000-00000000eb01');
    assert.equal(parseFlowRunEvent(out.event).flow_run.name, 'from-eventbridge');
  });

  it('unwraps a Pub/Sub push body from base64 message.data, keeping the messageId', async () => {
    const raw = await sample('pubsub-push.json');
    const out = unwrap(raw);
    assert.equal(out.kind, 'pubsub-push');
    assert.equal(out.deliveryId, '2070443601311540');
    assert.equal(parseFlowRunEvent(out.event).flow_run.name, 'from-pubsub');
  });

  it('rejects a Pub/Sub message whose data is not JSON, naming message.data', () => {
    const raw = { message: { data: Buffer.from('not json').toString('base64'), messageId: '1' } };
    assert.throws(
      () => unwrap(raw),
      (error: unknown) =>
        error instanceof EnvelopeError &&
        error.problems.some((p) => p.path === 'message.data' && /base64 of a JSON/.test(p.message)),
    );
  });

  it('derives the same flow-run id for a repeated cron tick, and another for the next tick', async () => {
    const raw = await sample<Record<string, unknown>>('cron.json');
    const first = parseFlowRunEvent(unwrap(raw).event);
    const again = parseFlowRunEvent(unwrap(structuredClone(raw)).event);
    const next = parseFlowRunEvent(unwrap({ ...raw, scheduled_time: '2026-11-25T02:00:00Z' }).event);
    assert.equal(first.flow_run.id, again.flow_run.id);
    assert.notEqual(first.flow_run.id, next.flow_run.id);
    assert.equal(first.flow_run.deployment_id, 'd0c0ffee-0000-4000-8000-000000000001');
    assert.equal(first.flow_run.name, 'hello-nightly-20261124T020000Z');
    assert.deepEqual(first.flow_run.parameters, { name: 'nightly' });
    assert.equal(first.infrastructure_block, 'process/hello');
    // the same instant written differently is the same tick
    const offset = parseFlowRunEvent(unwrap({ ...raw, scheduled_time: '2026-11-24T03:00:00+01:00' }).event);
    assert.equal(offset.flow_run.id, first.flow_run.id);
  });

  it('uses the minute of the tick when a cron input has no scheduled time', () => {
    const raw = { deployment: { id: 'dep-1' }, infrastructure: { type: 'process' } };
    const a = unwrapCron(raw, () => new Date('2026-11-24T10:15:05Z'));
    const b = unwrapCron(raw, () => new Date('2026-11-24T10:15:55Z'));
    const c = unwrapCron(raw, () => new Date('2026-11-24T10:16:01Z'));
    const id = (u: { event: unknown }) => (u.event as { flow_run: { id: string } }).flow_run.id;
    assert.equal(id(a), id(b));
    assert.notEqual(id(a), id(c));
  });

  it('produces RFC 4122 version-5 UUIDs', () => {
    // the DNS namespace example from RFC 4122 / Python's uuid.uuid5(NAMESPACE_DNS, "python.org")
    assert.equal(
      uuidV5('python.org', '6ba7b810-9dad-11d1-80b4-00c04fd430c8'),
      '886313e1-3b8a-5372-9b90-0c9aee199e5d',
    );
  });

  it('passes a bare flow-run event through and refuses what it cannot recognise', () => {
    assert.equal(unwrap({ flow_run: {} }).kind, 'flow-run-event');
    assert.throws(() => unwrap([1, 2]), EnvelopeError);
    assert.throws(
      () => unwrap({ hello: 'world' }),
      (error: unknown) =>
        error instanceof EnvelopeError && /flow_run.*detail.*message\.data.*deployment/s.test(error.message),
    );
  });

  it('names the missing field of a bad EventBridge envelope', () => {
    assert.throws(
      () => unwrap({ 'detail-type': 'x', source: 'y', detail: 'nope' }),
      (error: unknown) => error instanceof EnvelopeError && error.problems[0]?.path === 'detail',
    );
  });
});

describe('deployment YAML', () => {
  it('reads a Prefect deployment YAML and turns it into a flow-run event with its overrides', async () => {
    const doc = classify(await readDocumentFile(join(SAMPLES, 'deployment.yaml')));
    assert.equal(doc.kind, 'deployment');
    if (doc.kind !== 'deployment') return;
    const event = parseFlowRunEvent(
      deploymentToEvent(doc.deployment, { id: '11111111-2222-4333-8444-555555555555' }),
    );
    assert.equal(event.flow_run.deployment_name, 'hello-local');
    assert.equal(event.flow_run.flow_name, 'hello');
    assert.deepEqual(event.flow_run.parameters, { name: 'from-yaml' });
    assert.equal(event.infra_overrides['env.GREETING'], 'hello from a deployment');
    assert.equal(event.infrastructure?.type, 'process');
  });

  it('classifies a bare block document by its type', () => {
    assert.equal(classify({ type: 'ecs-task', image: 'x' }).kind, 'block');
  });
});
