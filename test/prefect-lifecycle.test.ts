// A worker's part of a flow run's life against a protocol-faithful fake Prefect server
// (test/support/prefect-fake.ts), through the real local workflow with the process provider.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import type { Context } from 'aws-lambda';
import { createLogger } from '../core/logger.js';
import { unwrap } from '../events/envelopes.js';
import type { Deps } from '../functions/lib/deps.js';
import { accept } from '../functions/lib/intake.js';
import { flowRunUiUrl } from '../functions/lib/prefect/urls.js';
import { cancelKey } from '../functions/lib/state.js';
import { type ExecutionOutcome, startExecution } from '../functions/local/runner.js';
import type { TriggerOutcome } from '../functions/trigger.js';
import { ROOT, tempDir, testDeps, until } from './helpers.js';
import { type PrefectFake, startPrefectFake } from './support/prefect-fake.js';
import { localTrigger } from './support/workflow.js';

process.chdir(ROOT);

const FAST = { Prepare: 0, Submit: 0, Watch: 20, Report: 700, ReportRejected: 0, Cleanup: 0 };
const context = {} as Context;
const KEY = `pnu_canary_${randomUUID().replace(/-/g, '')}`;

function engineBlock(env: Record<string, string>) {
  return { type: 'process', command: ['node', join(ROOT, 'test', 'support', 'prefect-engine.mjs')], env };
}

async function files(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true, recursive: true }))
    if (entry.isFile()) out.push(join(entry.parentPath, entry.name));
  return out;
}

describe('with Prefect', () => {
  let fake: PrefectFake;
  before(async () => {
    fake = await startPrefectFake({ authorization: `Bearer ${KEY}` });
  });
  after(() => fake.close());

  const prefectEnv = () => ({ PREFECT_API_URL: fake.apiUrl, PREFECT_API_KEY: KEY });

  async function runEvent(deps: Deps, event: unknown): Promise<{ outcome: ExecutionOutcome; id: string }> {
    const accepted = await accept(deps, unwrap(event));
    const outcome = await startExecution(accepted.input, { deps, retryIntervalOverrides: FAST });
    return { outcome, id: accepted.input.flow_run_id };
  }

  /** Starts the run and waits until the fake has its Pending and its infrastructure. */
  async function startRunning(deps: Deps, event: unknown) {
    const accepted = await accept(deps, unwrap(event));
    const id = accepted.input.flow_run_id;
    const done = startExecution(accepted.input, { deps, retryIntervalOverrides: FAST });
    await until(
      'the flow run running',
      () => (fake.flowRun(id)?.state?.type === 'RUNNING' ? true : undefined),
      20_000,
    );
    return { id, done };
  }

  it('a cron tick delivered 20 times creates one flow run and one execution; the flow sees it', async () => {
    const deploymentId = fake.addDeployment('hello', 'nightly');
    const { deps, reports, home } = await testDeps({ env: prefectEnv() });
    const marker = join(home, 'engine.txt');
    const { handler, executions } = localTrigger(deps, FAST);
    const tick = {
      deployment: { id: deploymentId, name: 'nightly', flow_name: 'hello' },
      infrastructure: engineBlock({ MARKER_FILE: marker, ENGINE_STATES: 'RUNNING,COMPLETED' }),
      scheduled_time: '2026-12-02T02:00:00Z',
    };
    const outcomes = (await Promise.all(
      Array.from({ length: 20 }, () => handler(structuredClone(tick), context)),
    )) as TriggerOutcome[];
    const done = await Promise.all(executions);
    const created = [...fake.state.flowRuns.values()].filter((r) => r.deployment_id === deploymentId);
    assert.equal(created.length, 1, 'one flow run');
    const flowRun = created[0];
    assert.ok(flowRun);
    assert.equal(new Set(outcomes.map((o) => o.flow_run_id)).size, 1);
    assert.equal(outcomes[0]?.flow_run_id, flowRun.id, 'the execution is for the Prefect flow run');
    assert.equal(done.filter((o) => o.started).length, 1, 'one execution');
    assert.equal(reports.length, 1);
    assert.equal(reports[0]?.state, 'Completed');
    assert.equal(reports[0]?.links?.prefect_flow_run, flowRunUiUrl(fake.apiUrl, flowRun.id));
    const seen = (await readFile(marker, 'utf8')).trim().split('\n');
    assert.equal(seen.length, 1, 'one process ran');
    const line = JSON.parse(seen[0] ?? '{}') as { status: number; id: string; state: string };
    assert.deepEqual([line.status, line.id, line.state], [200, flowRun.id, 'PENDING']);
    const pendings = flowRun.history.filter((s) => s.type === 'PENDING');
    assert.equal(pendings.length, 1, 'Pending proposed once');
    assert.equal(
      fake.http
        .callsOf('POST /api/flow_runs/:id/set_state')
        .filter((c) => (c.body as { state: { type: string } }).state.type === 'PENDING').length,
      1,
    );
    assert.match(flowRun.infrastructure_pid ?? '', /.+/, 'the infrastructure is recorded');
    assert.equal(flowRun.state?.type, 'COMPLETED', 'the engine’s state stays');
  });

  it("a Prefect 3 flow run's own job variables go over the deployment's before the pool is rendered", async () => {
    const { deps, reports, home } = await testDeps({ env: prefectEnv() });
    const marker = join(home, 'custom.txt');
    // a custom run from the UI: the command and one env var of its own; the deployment's other env stays
    const flowRun = fake.addFlowRun({
      jobVariables: {
        command: `node ${join(ROOT, 'test', 'support', 'prefect-engine.mjs')}`,
        env: { ENGINE_STATES: 'RUNNING,COMPLETED' },
      },
    });
    const { handler, executions } = localTrigger(deps, FAST);
    await handler(
      {
        flow_run: { id: flowRun.id, name: 'custom-run' },
        work_pool: { type: 'process' },
        job_variables: { command: 'false', env: { MARKER_FILE: marker, ENGINE_STATES: 'FAILED' } },
      },
      context,
    );
    const [outcome] = await Promise.all(executions);
    assert.equal(outcome?.status, 'SUCCEEDED', outcome?.error);
    assert.equal(reports[0]?.state, 'Completed', reports[0]?.reason ?? '');
    const line = JSON.parse((await readFile(marker, 'utf8')).trim()) as { id: string };
    assert.equal(line.id, flowRun.id, "the flow run's command ran, with the deployment's MARKER_FILE");
    assert.equal(fake.flowRun(flowRun.id)?.state?.type, 'COMPLETED');
  });

  it('a run set Cancelling in Prefect is stopped and ends Cancelled, in the report and in Prefect', async () => {
    const { deps, reports } = await testDeps({ env: prefectEnv() });
    const flowRun = fake.addFlowRun();
    const { id, done } = await startRunning(deps, {
      flow_run: { id: flowRun.id, name: 'to-cancel' },
      infrastructure: engineBlock({ ENGINE_STATES: 'RUNNING', SLEEP_SECONDS: '30' }),
    });
    fake.setState(id, 'CANCELLING');
    const outcome = await done;
    assert.equal(outcome.status, 'SUCCEEDED');
    assert.equal(reports[0]?.state, 'Cancelled');
    assert.match(reports[0]?.reason ?? '', /Cancelling/);
    assert.equal(fake.flowRun(id)?.state?.type, 'CANCELLED');
  });

  it('an ABORT of Pending submits nothing and reports why', async () => {
    const { deps, reports, home } = await testDeps({ env: prefectEnv() });
    const flowRun = fake.addFlowRun();
    fake.state.abortPending = 1;
    const marker = join(home, 'engine.txt');
    const { outcome } = await runEvent(deps, {
      flow_run: { id: flowRun.id },
      infrastructure: engineBlock({ MARKER_FILE: marker }),
    });
    assert.equal(outcome.status, 'SUCCEEDED');
    assert.equal(outcome.state?.infra, undefined, 'nothing submitted');
    assert.match(
      reports[0]?.reason ?? '',
      /rejected before submission: .*ABORT to Pending.*nothing was submitted/,
    );
    assert.equal(await readFile(marker, 'utf8').catch(() => 'none'), 'none', 'no process ran');
    assert.equal(
      fake.flowRun(flowRun.id)?.state?.type,
      'SCHEDULED',
      'no Crashed over a run we did not start',
    );
  });

  it('a finished flow run is refused before anything is submitted', async () => {
    const { deps, reports } = await testDeps({ env: prefectEnv() });
    const flowRun = fake.addFlowRun({ state: 'COMPLETED' });
    const { outcome } = await runEvent(deps, {
      flow_run: { id: flowRun.id },
      infrastructure: engineBlock({}),
    });
    assert.equal(outcome.state?.infra, undefined);
    assert.match(reports[0]?.reason ?? '', /already Completed in Prefect/);
    assert.equal(fake.flowRun(flowRun.id)?.history.length, 1);
  });

  it('Completed set by the engine is never overwritten by Crashed when the infrastructure then fails', async () => {
    const { deps, reports } = await testDeps({ env: prefectEnv() });
    const flowRun = fake.addFlowRun();
    const { outcome } = await runEvent(deps, {
      flow_run: { id: flowRun.id },
      infrastructure: engineBlock({ ENGINE_STATES: 'RUNNING,COMPLETED', SLEEP_SECONDS: '30' }),
      timeouts: { run_seconds: 1 },
    });
    assert.equal(outcome.status, 'SUCCEEDED');
    assert.equal(reports[0]?.state, 'Crashed', 'the run timeout killed it');
    const run = fake.flowRun(flowRun.id);
    assert.equal(run?.state?.type, 'COMPLETED');
    assert.equal(
      run?.history.some((s) => s.type === 'CRASHED'),
      false,
    );
  });

  it('a 503 outage mid-run loses nothing: Watch keeps watching and the final state arrives', async () => {
    const { deps, reports } = await testDeps({ env: prefectEnv() });
    const flowRun = fake.addFlowRun();
    const { id, done } = await startRunning(deps, {
      flow_run: { id: flowRun.id },
      infrastructure: engineBlock({ ENGINE_STATES: 'RUNNING', SLEEP_SECONDS: '30' }),
    });
    fake.http.clear();
    fake.outage(4_000);
    await until('Watch meets the outage', () =>
      fake.http.calls.some((c) => c.status === 503) ? true : undefined,
    );
    await deps.store.put(cancelKey(id), '{}');
    const outcome = await done;
    assert.equal(outcome.status, 'SUCCEEDED');
    assert.equal(reports.length, 1, 'reported once');
    assert.equal(reports[0]?.state, 'Cancelled');
    assert.ok(fake.http.calls.filter((c) => c.status === 503).length >= 2, 'the outage was met');
    assert.equal(fake.flowRun(id)?.state?.type, 'CANCELLED', 'proposed once the API was back');
  });

  it('a canary key never reaches the workflow state, reports, logs or the store', async () => {
    const { deps: base, reports, home } = await testDeps({ env: prefectEnv() });
    const lines: string[] = [];
    // every log line at debug level, as a deployed function would write them
    const deps: Deps = { ...base, log: createLogger({ level: 'debug', write: (line) => lines.push(line) }) };
    const flowRun = fake.addFlowRun();
    const { outcome } = await runEvent(deps, {
      flow_run: { id: flowRun.id },
      infrastructure: engineBlock({ ENGINE_STATES: 'RUNNING', EXIT_CODE: '3' }),
    });
    assert.equal(reports[0]?.state, 'Failed');
    assert.match(
      reports[0]?.logs_tail ?? '',
      /engine ran with key \*+/,
      'the flow had the key; the tail is scrubbed',
    );
    const texts = [JSON.stringify(outcome), JSON.stringify(reports), ...lines];
    for (const file of await files(join(home, 'store'))) texts.push(await readFile(file, 'utf8'));
    for (const text of texts) assert.equal(text.includes(KEY), false, text.slice(0, 200));
    assert.ok(lines.length > 0, 'logs were written');
  });

  it('the canary key is not in a preview either', async () => {
    const file = join(await tempDir(), 'event.json');
    await writeFile(
      file,
      JSON.stringify({ flow_run: { id: randomUUID() }, infrastructure: engineBlock({}) }),
    );
    const preview = await promisify(execFile)(
      process.execPath,
      [join(ROOT, 'bin', 'submitter.js'), 'preview', file],
      {
        cwd: ROOT,
        env: { ...process.env, ...prefectEnv(), PREFECT_HOME: await tempDir() },
      },
    );
    assert.ok(preview.stdout.length > 0);
    assert.equal(`${preview.stdout}${preview.stderr}`.includes(KEY), false);
  });
});
