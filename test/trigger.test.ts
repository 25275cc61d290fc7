// The trigger function: every envelope → one execution per flow run; rejected deliveries kept.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Context } from 'aws-lambda';
import type { ExecutionInput } from '../functions/lib/state.js';
import { createTriggerHandler, type ExecutionStarter, type TriggerOutcome } from '../functions/trigger.js';
import { SAMPLES, sample, testDeps } from './helpers.js';

/** Behaves like StartExecution: same name → the same execution, reported as a duplicate. */
function memoryStarter() {
  const started = new Map<string, ExecutionInput>();
  const starter: ExecutionStarter = {
    async start(name, input) {
      const duplicate = started.has(name);
      if (!duplicate) started.set(name, input);
      return { id: `arn:aws:states:local:0:execution:sm:${name}`, duplicate };
    },
  };
  return { started, starter };
}

const context = {} as Context;

describe('trigger', () => {
  it('starts one execution per flow run for EventBridge, cron and bare events; redeliveries are duplicates', async () => {
    const { deps } = await testDeps({ blocks: SAMPLES });
    const { started, starter } = memoryStarter();
    const handler = createTriggerHandler(deps, () => starter);
    const eventbridge = await sample('eventbridge.json');
    const first = (await handler(eventbridge, context)) as TriggerOutcome;
    const again = (await handler(structuredClone(eventbridge), context)) as TriggerOutcome;
    const cron = (await handler(await sample('cron.json'), context)) as TriggerOutcome;
    assert.equal(first.status, 'started');
    assert.equal(again.status, 'duplicate');
    assert.equal(cron.status, 'started');
    assert.equal(started.size, 2);
    const input = started.get(`fr-${first.flow_run_id}`);
    assert.deepEqual(input?.summary, {
      flow_run_name: 'from-eventbridge',
      flow_name: 'hello',
      deployment_name: 'hello/local',
      infrastructure: 'process',
    });
    assert.equal(input?.event_ref, `runs/${first.flow_run_id}/event.json`);
    assert.ok(await deps.store.get(input?.event_ref ?? ''), 'the event is parked in the store');
  });

  it('keeps a rejected delivery with its problems (secrets redacted) and still fails the invocation', async () => {
    const { deps } = await testDeps();
    const { starter, started } = memoryStarter();
    const handler = createTriggerHandler(deps, () => starter);
    const bad = await sample('eventbridge.json');
    (bad.detail as Record<string, unknown>).infrastructure = {
      type: 'process',
      comand: ['x'],
      env: { API_TOKEN: 'canary-tok' },
    };
    await assert.rejects(() => handler(bad, context), /infrastructure\.comand/);
    assert.equal(started.size, 0);
    const kept = await deps.store.list('rejected/');
    assert.equal(kept.length, 1);
    const body = (await deps.store.get(kept[0] ?? '')) ?? '';
    assert.match(body, /did you mean 'command'/);
    assert.equal(body.includes('canary-tok'), false);
  });

  it('answers a Pub/Sub push request: 200 when started, 200 + kept when the message is bad, 500 on a temporary failure', async () => {
    const { deps } = await testDeps();
    const { starter } = memoryStarter();
    const push = await sample('pubsub-push.json');
    const http = (body: unknown) => ({
      requestContext: { http: { method: 'POST' } },
      body: JSON.stringify(body),
      isBase64Encoded: false,
      headers: {},
    });
    const ok = (await createTriggerHandler(deps, () => starter)(http(push), context)) as {
      statusCode: number;
      body: string;
    };
    assert.equal(ok.statusCode, 200);
    assert.equal(JSON.parse(ok.body).status, 'started');

    const garbage = {
      message: { data: Buffer.from('{"flow_run": 1}').toString('base64'), messageId: 'm-2' },
    };
    const rejected = (await createTriggerHandler(deps, () => starter)(http(garbage), context)) as {
      statusCode: number;
      body: string;
    };
    assert.equal(rejected.statusCode, 200, 'acked: redelivery cannot fix it');
    assert.equal(JSON.parse(rejected.body).status, 'rejected');
    assert.equal((await deps.store.list('rejected/')).length, 1);

    const failing: ExecutionStarter = { start: async () => Promise.reject(new Error('ThrottlingException')) };
    const retry = (await createTriggerHandler(deps, () => failing)(
      http(await sample('pubsub-push.json')),
      context,
    )) as { statusCode: number };
    assert.equal(retry.statusCode, 500, 'not acked: Pub/Sub redelivers');
  });
});

describe('deployment settings', () => {
  it('refuses a block type the deployment has no provider function for, naming the enabled ones', async () => {
    const { deps } = await testDeps({
      env: { PROVIDER_FUNCTIONS: JSON.stringify({ 'ecs-task': 'submitter-infra-ecs' }) },
    });
    const { starter, started } = memoryStarter();
    await assert.rejects(
      () => createTriggerHandler(deps, () => starter)(structuredClone(eventbridgeSample), context),
      /infrastructure\.type: 'process' is not enabled in this deployment \(enabled: ecs-task\)/,
    );
    assert.equal(started.size, 0);
  });
});

const eventbridgeSample = await sample('eventbridge.json');
