// `submitter serve` behind Google's real Pub/Sub emulator: a push subscription delivers to the
// local endpoint (the trigger's own handler), each flow run becomes one workflow execution on
// cloud-run-job (the Cloud Run fake) — exactly one even when the message is redelivered (the
// first delivery failed) or published twice; a malformed message is acked and kept with its
// reason, its secrets redacted. OIDC (which the emulator does not send): a token signed by a
// locally made key, checked against a local JWKS, is accepted; none is refused with 401.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import { type Serving, startServe } from '../cli/serve.js';
import type { Deps } from '../functions/lib/deps.js';
import { oidcPushVerifier } from '../functions/lib/push-auth.js';
import { createCloudRunJobProvider } from '../providers/cloud-run-job/index.js';
import type { Provider } from '../providers/port.js';
import { sleep, testDeps, until } from './helpers.js';
import { awsError, type FlakyStore, flakyStore } from './support/flaky-store.js';
import { type GoogleFake, startGoogleFake } from './support/google-fake.js';
import {
  type PubSubEmulator,
  pubsubEmulatorMissing,
  startPubSubEmulator,
} from './support/pubsub-emulator.js';

let skip = pubsubEmulatorMissing();
let google: GoogleFake;
let emulator: PubSubEmulator | undefined;
let serving: Serving;
let deps: Deps;
let store: FlakyStore;
const deliveries: { status: number; body: string }[] = [];

before(async () => {
  google = await startGoogleFake();
  const provider = createCloudRunJobProvider({
    env: { CLOUD_RUN_API_ENDPOINT: google.url },
    retry: { baseMs: 1, capMs: 5 },
    runtime: { claimPollMs: 20, retry: { baseMs: 1, capMs: 5 } },
  });
  const made = await testDeps({ loadProvider: async () => provider as unknown as Provider });
  store = flakyStore(made.deps.store);
  deps = { ...made.deps, store };
  serving = await startServe({
    deps,
    verifyPush: undefined,
    port: 0,
    run: { retryIntervalOverrides: { Watch: 0.01, Submit: 0 } },
    onDelivery: (status, body) => deliveries.push({ status, body }),
  });
  if (skip) return;
  try {
    emulator = await startPubSubEmulator();
    await emulator.createTopic('flow-runs');
    await emulator.createPushSubscription('submitter', 'flow-runs', serving.url);
  } catch (error) {
    skip = `the Pub/Sub emulator could not be started here: ${String(error)}`;
  }
});
after(async () => {
  await emulator?.stop();
  await serving?.close();
  await google?.close();
});

function flowRunEvent(id = randomUUID()) {
  return {
    flow_run: { id, name: 'pushed', flow_name: 'etl' },
    infrastructure: {
      type: 'cloud-run-job',
      image: 'europe-docker.pkg.dev/fake-project/flows/etl:1',
      credentials: { service_account_info: google.key },
      keep_job: true,
    },
  };
}

const jobsOf = (id: string) =>
  [...google.state.jobs.values()].filter((job) => job.labels['prefect-io-flow-run-id'] === id);

describe('submitter serve behind the Pub/Sub emulator', () => {
  it('a published flow-run event → one run; its first delivery failed and was redelivered; published again → nothing new', async (t) => {
    if (skip || !emulator) return t.skip(skip);
    const event = flowRunEvent();
    const id = event.flow_run.id;
    // a failure the store's retries do not hide (they would a SlowDown): the trigger answers 500
    store.failNext('putIfAbsent', `runs/${id}/event.json`, awsError('AccessDenied', 403));
    const before = deliveries.length;
    await emulator.publish('flow-runs', JSON.stringify(event));
    const first = await until('the redelivery', () =>
      deliveries.slice(before).some((d) => d.status === 200) ? deliveries.slice(before) : undefined,
    );
    assert.equal(first[0]?.status, 500, 'the first delivery failed (the store), so Pub/Sub redelivered');
    const outcomes = await until('the execution', () =>
      serving.executions.length ? serving.executions : undefined,
    );
    const results = await Promise.all(outcomes);
    const mine = results.find((r) => r.name.includes(id));
    assert.equal(mine?.status, 'SUCCEEDED', mine?.error);
    assert.equal(mine?.state?.report?.state, 'Completed');
    // published again (a duplicate from the publisher): acked as a duplicate, no second execution
    const count = serving.executions.length;
    const again = deliveries.length;
    await emulator.publish('flow-runs', JSON.stringify(event));
    const dup = await until('the duplicate', () => deliveries.slice(again).find((d) => d.status === 200));
    assert.match(dup.body, /"status":"duplicate"/);
    assert.equal(serving.executions.length, count);
    assert.equal(jobsOf(id).length, 1);
    assert.equal(jobsOf(id)[0]?.executions.length, 1);
  });

  const canary = `canary-${randomUUID()}`;
  /** The rejected record of the malformed message, and its text with the push's base64 `data` decoded. */
  async function keptRecord(): Promise<{ text: string; decoded: string } | undefined> {
    for (const key of await deps.store.list('rejected/')) {
      const text = (await deps.store.get(key)) ?? '';
      const data = /"data": "([^"]*)"/.exec(text)?.[1];
      const decoded = `${text}\n${data ? Buffer.from(data, 'base64').toString('utf8') : ''}`;
      if (decoded.includes('not-a-uuid')) return { text, decoded };
    }
    return undefined;
  }

  it('a malformed message is acked (never redelivered) and kept with its reason', async (t) => {
    if (skip || !emulator) return t.skip(skip);
    const bad = {
      flow_run: { id: 'not-a-uuid' },
      infrastructure: {
        type: 'cloud-run-job',
        credentials: { service_account_info: { private_key: canary } },
      },
    };
    const before = deliveries.length;
    await emulator.publish('flow-runs', JSON.stringify(bad));
    const answered = await until('the delivery', () =>
      deliveries.slice(before).find((d) => d.status === 200),
    );
    assert.match(answered.body, /"status":"rejected"/);
    await sleep(1500);
    assert.equal(deliveries.length - before, 1, 'acked: not redelivered');
    const kept = await keptRecord();
    assert.ok(kept, 'the rejected message is kept');
    assert.match(kept.text, /"path": "flow_run\.id"/);
    assert.match(kept.text, /must be a UUID/);
  });

  // the trigger decodes `message.data` before it redacts and keeps a rejected push
  it('the kept message holds no secret, its base64 data decoded', async (t) => {
    if (skip || !emulator) return t.skip(skip);
    const kept = await keptRecord();
    assert.ok(kept);
    assert.ok(!kept.decoded.includes(canary), 'the secret is in the kept message');
  });
});

describe('submitter serve: OIDC as deployed', () => {
  let jwks: Server;
  let secured: Serving;
  let keys: Awaited<ReturnType<typeof generateKeyPair>>;
  const PUSHER = 'push@submitter-test.iam.gserviceaccount.com';
  const AUDIENCE = 'https://submitter.example.com/push';

  before(async () => {
    keys = await generateKeyPair('RS256');
    const jwk = { ...(await exportJWK(keys.publicKey)), kid: 'k1', alg: 'RS256', use: 'sig' };
    jwks = createServer((_request, response) => {
      response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: [jwk] }));
    });
    await new Promise<void>((done) => jwks.listen(0, '127.0.0.1', done));
    const { port } = jwks.address() as AddressInfo;
    secured = await startServe({
      deps,
      port: 0,
      verifyPush: oidcPushVerifier({
        serviceAccounts: [PUSHER],
        audience: AUDIENCE,
        jwksUrl: `http://127.0.0.1:${port}/certs`,
        issuers: ['https://accounts.google.com'],
      }),
      run: { retryIntervalOverrides: { Watch: 0.01, Submit: 0 } },
    });
  });
  after(async () => {
    await secured?.close();
    await new Promise<void>((done) => jwks.close(() => done()));
  });

  const push = (authorization?: string) =>
    fetch(secured.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(authorization ? { authorization } : {}) },
      body: JSON.stringify({
        subscription: 'projects/submitter-test/subscriptions/submitter',
        message: { data: Buffer.from(JSON.stringify(flowRunEvent())).toString('base64'), messageId: '7' },
      }),
    });

  it('a token signed by the key set is accepted; no token → 401 and nothing started', async () => {
    const refused = await push();
    assert.equal(refused.status, 401);
    assert.equal(secured.executions.length, 0);
    const now = Math.floor(Date.now() / 1000);
    const token = await new SignJWT({ email: PUSHER, email_verified: true })
      .setProtectedHeader({ alg: 'RS256', kid: 'k1', typ: 'JWT' })
      .setIssuer('https://accounts.google.com')
      .setAudience(AUDIENCE)
      .setIssuedAt(now)
      .setExpirationTime(now + 600)
      .sign(keys.privateKey);
    const accepted = await push(`Bearer ${token}`);
    assert.equal(accepted.status, 200, await accepted.text());
    assert.equal(secured.executions.length, 1);
    const [outcome] = await Promise.all(secured.executions);
    assert.equal(outcome?.status, 'SUCCEEDED', outcome?.error);
  });
});
