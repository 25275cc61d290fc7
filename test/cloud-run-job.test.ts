// The cloud-run-job provider end to end: the real @google-cloud/run v3 clients (REST fallback)
// and google-auth-library against a fake of the Cloud Run v2 API and Google's token endpoint
// (test/support/google-fake.ts), through the real workflow (ASL interpreter, handlers).
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, beforeEach, describe, it } from 'node:test';
import { createLogger } from '../core/logger.js';
import { unwrap } from '../events/envelopes.js';
import type { Deps } from '../functions/lib/deps.js';
import { accept } from '../functions/lib/intake.js';
import { cancelKey } from '../functions/lib/state.js';
import { startExecution } from '../functions/local/runner.js';
import { createCloudRunJobProvider } from '../providers/cloud-run-job/index.js';
import type { Provider } from '../providers/port.js';
import { sleep, testDeps } from './helpers.js';
import { type GoogleFake, startGoogleFake } from './support/google-fake.js';

const JOBS = 'POST /v2/projects/:project/locations/:location/jobs';
const RUN = 'POST /v2/projects/:project/locations/:location/jobs/:jobrun';

let google: GoogleFake;

before(async () => {
  google = await startGoogleFake();
});
after(async () => {
  await google?.close();
});
beforeEach(() => google.fake.clear());

function provider() {
  return createCloudRunJobProvider({
    env: { CLOUD_RUN_API_ENDPOINT: google.url },
    retry: { baseMs: 1, capMs: 5 },
    readyWaitMs: 5_000,
    runtime: { claimPollMs: 20, retry: { baseMs: 1, capMs: 5 } },
  });
}

function event(block: Record<string, unknown> = {}, outcome = 'exit:0') {
  return {
    flow_run: { id: randomUUID(), name: 'gcp-run', flow_name: 'etl' },
    infrastructure: {
      type: 'cloud-run-job',
      region: 'europe-west1',
      image: 'europe-docker.pkg.dev/fake-project/flows/etl:1',
      credentials: { service_account_info: google.key },
      env: { FAKE_OUTCOME: outcome },
      ...block,
    },
  };
}

async function runWorkflow(e: ReturnType<typeof event>, p: Provider = provider() as unknown as Provider) {
  const { deps: base, reports } = await testDeps({ loadProvider: async () => p });
  const lines: string[] = [];
  const deps: Deps = { ...base, log: createLogger({ level: 'debug', write: (line) => lines.push(line) }) };
  const accepted = await accept(deps, unwrap(e));
  const causes: string[] = [];
  const outcome = await startExecution(accepted.input, {
    deps,
    retryIntervalOverrides: { Watch: 0.01, Submit: 0 },
    onEvent: (ev) => {
      if (ev.type === 'StateFailed' && typeof ev.Cause === 'string') causes.push(ev.Cause);
    },
  });
  const stored = JSON.stringify(await deps.store.list(`runs/${accepted.input.flow_run_id}`));
  return { outcome, reports, lines, causes, stored, deps, accepted };
}

function jobOf(flowRunId: string) {
  return [...google.state.jobs.values()].find((job) => job.labels['prefect-io-flow-run-id'] === flowRunId);
}

function assertNoKey(...texts: string[]) {
  const secret = google.key.private_key ?? '';
  const body = secret.split('\n')[1] ?? secret;
  for (const text of texts) assert.ok(!text.includes(body), 'the private key reached logs or reports');
}

describe('cloud-run-job through the workflow', () => {
  it('success: Completed, exit 0 from the task, the job deleted, the key in no log or report', async () => {
    const e = event();
    const { outcome, reports, lines, causes, stored } = await runWorkflow(e);
    assert.equal(outcome.status, 'SUCCEEDED', outcome.error);
    const report = reports[0];
    assert.equal(report?.state, 'Completed', JSON.stringify(report));
    assert.equal(report?.status_code, 0);
    assert.match(
      report?.identifier ?? '',
      /^projects\/fake-project\/locations\/europe-west1\/jobs\/gcp-run-/,
    );
    assert.match(JSON.stringify(report?.links), /console\.cloud\.google\.com\/logs/);
    assert.equal(jobOf(e.flow_run.id), undefined, 'the job was deleted');
    assert.equal(google.state.deleted.filter((name) => name.includes('gcp-run-')).length >= 1, true);
    assert.ok(google.state.grants >= 1, 'a token came from the token endpoint');
    const sent = google.fake.callsOf(JOBS)[0]?.body as { job?: unknown } | undefined;
    assert.match(JSON.stringify(sent), /"timeout":"600s"/);
    assertNoKey(JSON.stringify(reports), lines.join('\n'), causes.join('\n'), stored);
  });

  it('a failed execution → Failed with the exit code and Google’s message', async () => {
    const { reports } = await runWorkflow(event({}, 'exit:3'));
    assert.equal(reports[0]?.state, 'Failed', JSON.stringify(reports[0]));
    assert.equal(reports[0]?.status_code, 3);
    assert.match(reports[0]?.reason ?? '', /failed with message/);
  });

  it('keep_job keeps the job after the run', async () => {
    const e = event({ keep_job: true });
    const { reports } = await runWorkflow(e);
    assert.equal(reports[0]?.state, 'Completed', JSON.stringify(reports[0]));
    assert.ok(jobOf(e.flow_run.id), 'the job is still there');
    assert.equal(jobOf(e.flow_run.id)?.executions.length, 1);
  });

  it('a missing image → Crashed with the Ready condition’s reason', async () => {
    const e = event({ image: 'europe-docker.pkg.dev/fake-project/flows/missing:1' });
    const { reports } = await runWorkflow(e);
    assert.equal(reports[0]?.state, 'Crashed', JSON.stringify(reports[0]));
    assert.match(reports[0]?.reason ?? '', /Image not found|CONTAINER_MISSING/);
    assert.equal(jobOf(e.flow_run.id), undefined, 'cleanup deleted the job that could not run');
  });

  it('cancel mid-run → Cancelled through executions.cancel; the job deleted', async () => {
    const e = event({}, 'forever');
    const p = provider() as unknown as Provider;
    const { deps, reports } = await testDeps({ loadProvider: async () => p });
    const accepted = await accept(deps, unwrap(e));
    let running = false;
    const done = startExecution(accepted.input, {
      deps,
      retryIntervalOverrides: { Submit: 0, Watch: 0.02 },
      onEvent: (ev) => {
        if (ev.type === 'StateFailed' && typeof ev.Cause === 'string' && ev.Cause.startsWith('running'))
          running = true;
      },
    });
    for (let i = 0; !running && i < 500; i++) await sleep(10);
    assert.ok(running, 'the execution was seen running');
    await deps.store.put(cancelKey(accepted.input.flow_run_id), '{}');
    await done;
    assert.equal(reports[0]?.state, 'Cancelled', JSON.stringify(reports[0]));
    assert.ok(google.fake.calls.some((c) => c.path.endsWith(':cancel') && c.outcome === 'ok'));
    assert.equal(jobOf(e.flow_run.id), undefined);
  });

  it('a 429 burst on create and on run: retried, one job, one execution', async () => {
    const e = event({ keep_job: true });
    const tooMany = { error: { code: 429, message: 'Quota exceeded.', status: 'RESOURCE_EXHAUSTED' } };
    google.fake.inject({ route: JOBS, status: 429, body: tooMany, times: 2 });
    google.fake.inject({ route: RUN, status: 429, body: tooMany, times: 2 });
    const { reports } = await runWorkflow(e);
    assert.equal(reports[0]?.state, 'Completed', JSON.stringify(reports[0]));
    assert.equal(google.fake.callsOf(JOBS).filter((c) => c.outcome === 'fault').length, 2);
    assert.equal(google.fake.callsOf(RUN).filter((c) => c.outcome === 'fault').length, 2);
    assert.equal(jobOf(e.flow_run.id)?.executions.length, 1);
  });

  it('the run’s answer lost (the execution made): adopted, never a second run', async () => {
    const e = event({ keep_job: true });
    google.fake.inject({
      route: RUN,
      status: 503,
      when: 'after',
      body: { error: { code: 503, message: 'unavailable', status: 'UNAVAILABLE' } },
    });
    const { reports } = await runWorkflow(e);
    assert.equal(reports[0]?.state, 'Completed', JSON.stringify(reports[0]));
    assert.equal(jobOf(e.flow_run.id)?.executions.length, 1);
    assert.equal(google.fake.callsOf(RUN).length, 1);
  });

  it('duplicate delivery: two workflows for one flow run → one job, one execution', async () => {
    const e = event({ keep_job: true });
    const [a, b] = await Promise.all([runWorkflow(e), runWorkflow(e)]);
    for (const run of [a, b])
      assert.equal(run.reports[0]?.state, 'Completed', JSON.stringify(run.reports[0]));
    const jobs = [...google.state.jobs.values()].filter(
      (job) => job.labels['prefect-io-flow-run-id'] === e.flow_run.id,
    );
    assert.equal(jobs.length, 1);
    assert.equal(jobs[0]?.executions.length, 1);
    // and a third delivery after the first run: adopted, nothing new
    const c = await runWorkflow(e);
    assert.equal(c.reports[0]?.state, 'Completed');
    assert.equal(jobOf(e.flow_run.id)?.executions.length, 1);
  });
});
