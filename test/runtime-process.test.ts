// The runtime on the real process provider and the real workflow (ASL interpreter): a
// transient store failure on any step leaves a healthy run Completed, a permanent one
// ends Crashed with nothing left running, concurrent submits make one process, and a
// block edited after the event was accepted changes nothing for that run.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { FolderStore } from '../core/store.js';
import { unwrap } from '../events/envelopes.js';
import type { Deps } from '../functions/lib/deps.js';
import { accept } from '../functions/lib/intake.js';
import { stopKey } from '../functions/lib/state.js';
import { startExecution } from '../functions/local/runner.js';
import { parseBlock } from '../providers/blocks.js';
import { idempotencyKey } from '../providers/identity.js';
import type { Target } from '../providers/port.js';
import type { ProcessBlock } from '../providers/process/block.js';
import { processProvider } from '../providers/process/index.js';
import { pidAlive, ROOT, sample, sleep, tempDir, testDeps } from './helpers.js';
import { awsError, type FlakyStore, flakyStore } from './support/flaky-store.js';

process.chdir(ROOT); // the samples' commands are relative to the repository

const FAST = { Prepare: 0, Submit: 0, Watch: 20, Report: 0, Cleanup: 0 };

async function event(env: Record<string, string> = {}) {
  const raw = await sample('process-flow-run.json');
  (raw.flow_run as Record<string, unknown>).id = randomUUID();
  const infrastructure = raw.infrastructure as Record<string, unknown>;
  infrastructure.env = { ...(infrastructure.env as Record<string, string>), ...env };
  return raw;
}

/** Accepts the event on a clean store, then runs the workflow with the store behind `flaky`. */
async function run(raw: Record<string, unknown>, arrange: (flaky: FlakyStore) => void = () => undefined) {
  const { deps: base, reports, home } = await testDeps();
  const accepted = await accept(base, unwrap(raw));
  const flaky = flakyStore(base.store);
  arrange(flaky);
  const deps: Deps = { ...base, store: flaky };
  const outcome = await startExecution(accepted.input, { deps, retryIntervalOverrides: FAST });
  return { outcome, reports, flaky, home, flowRunId: accepted.input.flow_run_id };
}

/** `get runs/<id>/event.json` → `get event.json`: the same call in another run. */
const shape = (call: string) => call.replace(/runs\/[0-9a-f-]{36}\//, '');

describe('process runs through the runtime', () => {
  it('a transient store failure on each step’s store call in turn still ends Completed', async () => {
    const clean = await run(await event({ SLEEP_SECONDS: '0.3' }));
    assert.equal(clean.reports[0]?.state, 'Completed');
    const kinds = [...new Set(clean.flaky.calls.filter((c) => c.includes(' runs/')).map(shape))];
    // the event, the claim, the stop record and the cancel marker are all read or written by steps
    for (const expected of ['get event.json', 'putIfAbsent claim', 'get stop.json', 'get cancel.json'])
      assert.ok(kinds.includes(expected), `${expected} in ${kinds.join(', ')}`);
    for (const kind of kinds) {
      const [op, name] = kind.split(' ') as ['get' | 'put' | 'putIfAbsent' | 'list', string];
      const faulty = await run(await event({ SLEEP_SECONDS: '0.3' }), (flaky) =>
        flaky.failNext(op, new RegExp(`^runs/[^/]+/${name.replace('.', '\\.')}$`)),
      );
      assert.equal(faulty.flaky.failed.length, 1, `${kind}: the fault was injected`);
      assert.equal(faulty.reports[0]?.state, 'Completed', `${kind}: ${faulty.reports[0]?.reason}`);
    }
  });

  it('a permanent store failure while watching ends Crashed with the reason, and stops the process', async () => {
    const { reports, home, flowRunId } = await run(await event({ SLEEP_SECONDS: '30' }), (flaky) => {
      // the first cancel-marker read is refused, as a role without s3:GetObject would be
      flaky.failNext('get', /cancel\.json$/, awsError('AccessDenied', 403));
    });
    assert.equal(reports[0]?.state, 'Crashed');
    assert.match(reports[0]?.reason ?? '', /watching failed: AccessDenied/);
    const dir = join(home, 'process', idempotencyKey(flowRunId));
    // cleanup ran while the process may still have been starting: it must have ended it anyway
    let result: string | undefined;
    for (let i = 0; i < 100 && result === undefined; i++) {
      result = await readFile(join(dir, 'result.json'), 'utf8').catch(() => undefined);
      if (result === undefined) await sleep(50);
    }
    assert.match(result ?? '', /"signal":"SIGKILL"/, 'cleanup stopped it');
  });

  it('kill is a request: Cancelled is reported once the process is gone, and the stop is recorded', async () => {
    const { deps: base, reports, home } = await testDeps();
    const accepted = await accept(base, unwrap(await event({ SLEEP_SECONDS: '30' })));
    const id = accepted.input.flow_run_id;
    const done = startExecution(accepted.input, { deps: base, retryIntervalOverrides: FAST });
    const stateFile = join(home, 'process', idempotencyKey(id), 'state.json');
    let pid: number | undefined;
    while (pid === undefined) {
      pid = await readFile(stateFile, 'utf8').then(
        (text) => (JSON.parse(text) as { pid: number }).pid,
        () => undefined,
      );
      await sleep(20);
    }
    await base.store.put(`runs/${id}/cancel.json`, '{}');
    await done;
    assert.equal(reports[0]?.state, 'Cancelled');
    assert.equal(reports[0]?.status_code, -15, 'the report carries how it ended: SIGTERM');
    assert.equal(pidAlive(pid), false);
    const stop = JSON.parse((await base.store.get(stopKey(id))) ?? '{}') as Record<string, unknown>;
    assert.deepEqual([stop.state, stop.sent, stop.reason], ['Cancelled', true, 'cancellation was requested']);
  });

  it('100 concurrent submits of one flow run start one process', async () => {
    const home = await tempDir();
    process.env.SUBMITTER_HOME = home;
    const marker = join(home, 'marker.txt');
    const raw = await event({ MARKER_FILE: marker });
    const target: Target<ProcessBlock> = {
      block: parseBlock(raw.infrastructure) as ProcessBlock,
      flowRun: raw.flow_run as Target['flowRun'],
    };
    const store = new FolderStore(join(home, 'store'));
    const submissions = await Promise.all(
      Array.from({ length: 100 }, () => processProvider.submit(target, { store })),
    );
    assert.equal(submissions.filter((s) => !s.adopted).length, 1);
    assert.equal(new Set(submissions.map((s) => s.identifier)).size, 1);
    const handle = submissions[0]?.handle;
    assert.ok(handle);
    let status = await processProvider.status(target, handle);
    for (let i = 0; i < 100 && status.phase !== 'succeeded'; i++) {
      await sleep(50);
      status = await processProvider.status(target, handle);
    }
    assert.equal(status.phase, 'succeeded');
    const lines = (await readFile(marker, 'utf8')).trim().split('\n');
    assert.equal(lines.length, 1, 'one process ran');
  });

  it('a block edited after the event was accepted changes nothing for that run', async () => {
    const blocksDir = await tempDir();
    const { deps, reports } = await testDeps({ blocks: blocksDir });
    const block = (await event()).infrastructure as Record<string, unknown>;
    await deps.blocks.put('process/pinned', block);
    const raw = await event();
    delete raw.infrastructure;
    raw.infrastructure_block = 'process/pinned';
    const accepted = await accept(deps, unwrap(raw));
    // edited after the trigger accepted the event, before Prepare / Submit / Watch read it
    await deps.blocks.put('process/pinned', { ...block, env: { EXIT_CODE: '3' } });
    await startExecution(accepted.input, { deps, retryIntervalOverrides: FAST });
    assert.equal(reports[0]?.state, 'Completed', 'the pinned block ran');
    // a run accepted after the edit gets the edited block
    const later = await event();
    delete later.infrastructure;
    later.infrastructure_block = 'process/pinned';
    const next = await accept(deps, unwrap(later));
    await startExecution(next.input, { deps, retryIntervalOverrides: FAST });
    assert.deepEqual([reports[1]?.state, reports[1]?.status_code], ['Failed', 3]);
  });
});
