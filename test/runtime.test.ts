// The shared provider runtime: classification, the retry loop, the in-store claim and
// create-or-adopt, against a driver whose "provider" is an in-memory table and real stores.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import * as z from 'zod';
import { ProviderPermanentError, ProviderTransientError } from '../core/errors.js';
import { FolderStore } from '../core/store.js';
import { parseBlock } from '../providers/blocks.js';
import type { Target } from '../providers/port.js';
import type { ProcessBlock } from '../providers/process/block.js';
import { processSpec } from '../providers/process/spec.js';
import { Claims, claimKey } from '../providers/runtime/claim.js';
import { classify, classifyAws, classifyHttp, retryAfterMs } from '../providers/runtime/classify.js';
import { boundedTail, lastLines } from '../providers/runtime/logs.js';
import { type Driver, defineProvider } from '../providers/runtime/provider.js';
import { retrying } from '../providers/runtime/retry.js';
import { RetryingStore } from '../providers/runtime/store.js';
import { tempDir } from './helpers.js';
import { awsError, flakyStore } from './support/flaky-store.js';

const fast = { baseMs: 1, capMs: 2 };

describe('classify', () => {
  it('AWS: throttling and 5xx are transient, NoSuchKey not-found, ConflictException conflict, the rest permanent', () => {
    assert.equal(classify(awsError('SlowDown', 503)).kind, 'transient');
    assert.equal(classify(awsError('ThrottlingException', 400)).kind, 'transient');
    assert.equal(classify(awsError('Whatever', 502, 'server')).kind, 'transient');
    assert.equal(classify(awsError('NoSuchKey', 404)).kind, 'not-found');
    assert.equal(classify(awsError('ConflictException', 409)).kind, 'conflict');
    const denied = classify(awsError('AccessDeniedException', 403));
    assert.equal(denied.kind, 'permanent');
    assert.match(denied.reason, /^AccessDeniedException: AccessDeniedException happened/);
    assert.equal(classifyAws(new Error('plain')), undefined, 'not an AWS error: left to others');
  });

  it('HTTP: status codes, Retry-After, Google status strings, ARM codes, Kubernetes Status reasons', () => {
    const google = classifyHttp({
      status: 400,
      body: JSON.stringify({ error: { code: 400, status: 'RESOURCE_EXHAUSTED', message: 'quota' } }),
    });
    assert.equal(google?.kind, 'transient', 'RESOURCE_EXHAUSTED is transient whatever the status');
    assert.match(google?.reason ?? '', /RESOURCE_EXHAUSTED: quota/);
    const arm = classifyHttp({
      statusCode: 409,
      body: { error: { code: 'AnotherOperationInProgress', message: 'busy' } },
    });
    assert.equal(arm?.kind, 'transient');
    assert.equal(
      classifyHttp({ statusCode: 404, body: { error: { code: 'ResourceNotFound' } } })?.kind,
      'not-found',
    );
    const k8s = classifyHttp({ code: 409, body: '{"kind":"Status","reason":"AlreadyExists","code":409}' });
    assert.equal(k8s?.kind, 'conflict');
    const limited = classifyHttp({ status: 429, headers: new Headers({ 'retry-after': '7' }) });
    assert.deepEqual([limited?.kind, limited?.retryAfterMs], ['transient', 7000]);
    assert.equal(classifyHttp({ status: 400 })?.kind, 'permanent');
    assert.equal(classifyHttp({ status: 410 })?.kind, 'not-found');
    assert.equal(
      classifyHttp({ code: 14, details: 'connection dropped' })?.kind,
      'transient',
      'gRPC UNAVAILABLE',
    );
  });

  it('network errors are transient, also wrapped as fetch wraps them', () => {
    const reset = Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' });
    assert.equal(classify(new TypeError('fetch failed', { cause: reset })).kind, 'transient');
    assert.equal(classify(new Error('something else')).kind, 'permanent');
  });

  it('Retry-After: seconds or an HTTP date, capped', () => {
    assert.equal(retryAfterMs('3'), 3000);
    assert.equal(retryAfterMs(new Date(10_000).toUTCString(), 4_000), 6000);
    assert.equal(retryAfterMs('100000'), 600_000);
    assert.equal(retryAfterMs('soon'), undefined);
  });
});

describe('retrying', () => {
  it('retries transient failures, then gives ProviderTransientError with the attempts named', async () => {
    let calls = 0;
    await assert.rejects(
      retrying(
        'GetThing',
        async () => {
          calls++;
          throw awsError('SlowDown', 503);
        },
        { policy: { ...fast, attempts: 3 } },
      ),
      (error: unknown) => {
        assert.ok(error instanceof ProviderTransientError);
        assert.match(error.message, /GetThing failed 3 times, last with SlowDown/);
        return true;
      },
    );
    assert.equal(calls, 3);
  });

  it('stops at once on a permanent error, with its kind and the hint', async () => {
    let calls = 0;
    await assert.rejects(
      retrying(
        'PutThing',
        async () => {
          calls++;
          throw awsError('ConflictException', 409);
        },
        { policy: fast, explain: () => 'it exists already' },
      ),
      (error: unknown) =>
        error instanceof ProviderPermanentError &&
        error.kind === 'conflict' &&
        /it exists already/.test(error.message),
    );
    assert.equal(calls, 1);
  });

  it('waits what Retry-After asks, and starts no retry past the deadline', async () => {
    const waits: number[] = [];
    let now = 0;
    await assert.rejects(
      retrying(
        'Limited',
        async () => {
          throw { status: 429, headers: { 'Retry-After': '2' } };
        },
        {
          policy: {
            ...fast,
            attempts: 10,
            now: () => now,
            deadline: 5_000,
            sleep: async (ms) => {
              waits.push(ms);
              now += ms;
            },
          },
          classifiers: [classifyHttp],
        },
      ),
      ProviderTransientError,
    );
    assert.deepEqual(waits, [2000, 2000], 'a third wait would pass the deadline');
  });
});

describe('RetryingStore', () => {
  it('a SlowDown on a store call is tried again; a bad key is refused as it is', async () => {
    const flaky = flakyStore(new FolderStore(await tempDir()), 1);
    const store = new RetryingStore(flaky, { policy: fast });
    await store.put('runs/a/event.json', '{}');
    assert.equal(await store.get('runs/a/event.json'), '{}');
    assert.deepEqual(flaky.failed, ['put runs/a/event.json', 'get runs/a/event.json']);
    await assert.rejects(store.get('../escape'), { name: 'InvalidInputError' });
  });
});

describe('claims', () => {
  it('of many concurrent claimers exactly one wins; the same owner keeps its claim', async () => {
    const store = new FolderStore(await tempDir());
    const claims = new Claims(store);
    const id = crypto.randomUUID();
    const outcomes = await Promise.all(
      Array.from({ length: 50 }, () => claims.acquire(id, { leaseMs: 60_000, now: Date.now })),
    );
    assert.equal(outcomes.filter((o) => o.won).length, 1);
    const winner = outcomes.find((o) => o.won);
    assert.ok(winner?.won);
    const again = await claims.acquire(id, { leaseMs: 60_000, now: Date.now, owner: winner.record.owner });
    assert.equal(again.won, true, 're-entrant for its owner');
  });

  it('an expired or released claim passes to the next generation', async () => {
    const store = new FolderStore(await tempDir());
    const claims = new Claims(store);
    const id = crypto.randomUUID();
    let now = 1_000_000;
    const first = await claims.acquire(id, { leaseMs: 1000, now: () => now });
    assert.ok(first.won);
    assert.equal((await claims.acquire(id, { leaseMs: 1000, now: () => now })).won, false);
    now += 1001;
    const second = await claims.acquire(id, { leaseMs: 1000, now: () => now });
    assert.ok(second.won);
    assert.equal(second.key, claimKey(id, 2));
    await claims.release(second);
    const third = await claims.acquire(id, { leaseMs: 1000, now: () => now });
    assert.ok(third.won);
    assert.equal(third.key, claimKey(id, 3));
  });
});

/** A driver over an in-memory table of "jobs" keyed by idempotency key. */
function tableDriver(
  options: { createFails?: Array<'lost-answer' | 'conflict' | 'refused'>; separateStart?: boolean } = {},
) {
  const jobs = new Map<string, { started: boolean }>();
  const calls = { create: 0, start: 0, find: 0 };
  const fails = [...(options.createFails ?? [])];
  const driver: Driver<ProcessBlock, ReturnType<typeof processSpec.build>, { key: string }> = {
    handleSchema: z.object({ key: z.string() }),
    identify: (h) => h.key,
    async find(_t, request) {
      calls.find++;
      const job = jobs.get(request.idempotency_key);
      return job ? { handle: { key: request.idempotency_key }, started: job.started } : undefined;
    },
    async create(_t, request) {
      calls.create++;
      await new Promise((done) => setTimeout(done, 5)); // long enough for racers to overlap
      const fail = fails.shift();
      if (fail === 'refused') throw new ProviderPermanentError('refused', { kind: 'permanent' });
      if (fail === 'conflict' || jobs.has(request.idempotency_key)) {
        if (!jobs.has(request.idempotency_key)) jobs.set(request.idempotency_key, { started: true });
        throw new ProviderPermanentError('exists', { kind: 'conflict' });
      }
      jobs.set(request.idempotency_key, { started: !options.separateStart });
      if (fail === 'lost-answer') throw new ProviderTransientError('answer lost');
      return { handle: { key: request.idempotency_key }, started: !options.separateStart };
    },
    ...(options.separateStart
      ? {
          async start(_t: unknown, request: { idempotency_key: string }, handle: { key: string }) {
            calls.start++;
            const job = jobs.get(request.idempotency_key);
            if (job) job.started = true;
            return handle;
          },
        }
      : {}),
    status: async () => ({ phase: 'running' }),
    stop: async () => undefined,
  };
  return { jobs, calls, driver };
}

function target(): Target<ProcessBlock> {
  return {
    block: parseBlock({ type: 'process' }) as ProcessBlock,
    flowRun: { id: crypto.randomUUID(), name: 'runtime-test', parameters: {} },
  } as Target<ProcessBlock>;
}

describe('create-or-adopt under the claim', () => {
  it('100 concurrent submits of one flow run create one job; the others adopt it', async () => {
    const { jobs, calls, driver } = tableDriver();
    const provider = defineProvider(processSpec, driver, { claimPollMs: 5, retry: fast });
    const store = new FolderStore(await tempDir());
    const t = target();
    const results = await Promise.all(Array.from({ length: 100 }, () => provider.submit(t, { store })));
    assert.equal(jobs.size, 1);
    assert.equal(calls.create, 1);
    assert.equal(results.filter((r) => !r.adopted).length, 1);
    assert.equal(new Set(results.map((r) => r.identifier)).size, 1);
  });

  it('a lost create answer is found and adopted, not repeated', async () => {
    const { jobs, calls, driver } = tableDriver({ createFails: ['lost-answer'] });
    const provider = defineProvider(processSpec, driver, { retry: fast });
    const result = await provider.submit(target(), { store: new FolderStore(await tempDir()) });
    assert.deepEqual([result.adopted, calls.create, jobs.size], [true, 1, 1]);
  });

  it('a conflict adopts what exists; a refusal releases the claim so a retry goes ahead at once', async () => {
    const conflict = tableDriver({ createFails: ['conflict'] });
    const adopted = await defineProvider(processSpec, conflict.driver, { retry: fast }).submit(target(), {
      store: new FolderStore(await tempDir()),
    });
    assert.equal(adopted.adopted, true);

    const refused = tableDriver({ createFails: ['refused'] });
    const provider = defineProvider(processSpec, refused.driver, { retry: fast, claimWaitMs: 50 });
    const store = new FolderStore(await tempDir());
    const t = target();
    await assert.rejects(provider.submit(t, { store }), ProviderPermanentError);
    const retried = await provider.submit(t, { store });
    assert.equal(retried.adopted, false, 'a new owner created it: the refused claim was released');
    assert.equal(refused.jobs.size, 1);
  });

  it('created but not started (a submit that died in between) is started by the next claim holder', async () => {
    const { jobs, calls, driver } = tableDriver({ separateStart: true });
    const t = target();
    const key = processSpec.build(t).idempotency_key;
    jobs.set(key, { started: false }); // what the dead submit left
    let now = Date.now();
    const store = new FolderStore(await tempDir());
    // the dead submit's claim
    await new Claims(store).acquire(t.flowRun.id, { leaseMs: 1000, now: () => now, owner: 'dead' });
    now += 2000;
    const provider = defineProvider(processSpec, driver, { claimLeaseMs: 1000, now: () => now, retry: fast });
    const result = await provider.submit(t, { store });
    assert.deepEqual([result.adopted, calls.create, calls.start, jobs.get(key)?.started], [true, 0, 1, true]);
  });

  it('a live holder that has not created yet: the loser waits, then says so as a transient error', async () => {
    const { driver } = tableDriver();
    const t = target();
    const store = new FolderStore(await tempDir());
    await new Claims(store).acquire(t.flowRun.id, { leaseMs: 60_000, now: Date.now, owner: 'busy' });
    const provider = defineProvider(processSpec, driver, { claimWaitMs: 30, claimPollMs: 5 });
    await assert.rejects(provider.submit(t, { store }), (error: unknown) => {
      assert.ok(error instanceof ProviderTransientError);
      assert.match(error.message, /another submit for flow run .* holds its claim/);
      return true;
    });
  });
});

describe('log tail policy', () => {
  it('bounded in lines and bytes; a failing or slow read gives nothing', async () => {
    const text = Array.from({ length: 50 }, (_, i) => `line ${i}`).join('\n');
    assert.equal(lastLines(text, { lines: 3, bytes: 1000 }), 'line 47\nline 48\nline 49');
    assert.equal(lastLines('x'.repeat(100), { lines: 3, bytes: 10 }).length, 10);
    assert.equal(
      await boundedTail(async () => {
        throw new Error('denied');
      }),
      undefined,
    );
    const slow = boundedTail(() => new Promise(() => undefined), { lines: 5, bytes: 100, timeoutMs: 20 });
    assert.equal(await slow, undefined);
  });
});
