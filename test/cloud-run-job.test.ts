// The cloud-run-job provider end to end: the real @google-cloud/run v3 clients (REST fallback)
// and google-auth-library against a fake of the Cloud Run v2 API and Google's token endpoint
// (test/support/google-fake.ts), through the real workflow (ASL interpreter, handlers).
import assert from 'node:assert/strict';
import { generateKeyPairSync, randomUUID } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, beforeEach, describe, it } from 'node:test';
import { createLogger } from '../core/logger.js';
import type { SecretReader } from '../core/secret-ref.js';
import { FolderStore } from '../core/store.js';
import { unwrap } from '../events/envelopes.js';
import type { Deps } from '../functions/lib/deps.js';
import { accept } from '../functions/lib/intake.js';
import { startExecution } from '../functions/local/runner.js';
import { parseBlock } from '../providers/blocks.js';
import { createCloudRunJobProvider } from '../providers/cloud-run-job/index.js';
import type { Provider } from '../providers/port.js';
import { tempDir, testDeps } from './helpers.js';
import { type GoogleFake, startGoogleFake } from './support/google-fake.js';
import { cancelMidRun, runAccepted } from './support/workflow.js';

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

function provider(env: Record<string, string> = {}, secrets?: SecretReader) {
  return createCloudRunJobProvider({
    env: { CLOUD_RUN_API_ENDPOINT: google.url, ...env },
    ...(secrets ? { secrets } : {}),
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
  it('a Prefect 3 cloud-run-v2 work pool runs on the fake: credentials from a block reference, the v2 job created and run', async () => {
    const { deps: base, reports } = await testDeps({
      loadProvider: async () => provider() as unknown as Provider,
    });
    await base.blocks.put('gcp-credentials/fake', {
      type: 'gcp-credentials',
      service_account_info: google.key,
    });
    const id = randomUUID();
    const { outcome } = await runAccepted(
      base,
      {
        flow_run: { id, name: 'gcp-pool-run' },
        work_pool: { type: 'cloud-run-v2' },
        job_variables: {
          region: 'europe-west1',
          image: 'europe-docker.pkg.dev/fake-project/flows/etl:1',
          credentials: '{{ prefect.blocks.gcp-credentials.fake }}',
          env: { FAKE_OUTCOME: 'exit:0' },
        },
      },
      { Watch: 0.01, Submit: 0 },
    );
    assert.equal(outcome.status, 'SUCCEEDED', outcome.error);
    assert.equal(reports[0]?.state, 'Completed', reports[0]?.reason ?? '');
    const created = google.fake.callsOf(JOBS);
    assert.equal(created.length, 1, 'one job created');
    const job = created[0]?.body;
    assert.match(JSON.stringify(job), /prefect","flow-run","execute/, "Prefect 3's worker command");
    assert.equal(google.fake.callsOf(RUN).length, 1, 'and run once');
    assert.doesNotMatch(
      JSON.stringify(reports) + JSON.stringify(job),
      /PRIVATE KEY/,
      'the key is in neither',
    );
  });

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
    const { reports } = await cancelMidRun(e, provider() as unknown as Provider, { Submit: 0, Watch: 0.02 });
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

  it('duplicate delivery: two workflows for one flow run (one store) → one job, one execution', async () => {
    const e = event({ keep_job: true });
    const p = provider() as unknown as Provider;
    const { deps, reports } = await testDeps({ loadProvider: async () => p });
    const [a, b] = await Promise.all([accept(deps, unwrap(e)), accept(deps, unwrap(e))]);
    const outcomes = await Promise.all(
      [a, b].map((accepted) =>
        startExecution(accepted.input, { deps, retryIntervalOverrides: { Watch: 0.01, Submit: 0 } }),
      ),
    );
    assert.equal(outcomes.filter((o) => o.started).length, 1, 'the second adopted the execution');
    assert.equal(reports[0]?.state, 'Completed', JSON.stringify(reports[0]));
    assert.equal(jobOf(e.flow_run.id)?.executions.length, 1);
  });

  it('concurrent submits of one flow run (the claim in one store) → one job, one execution, one handle', async () => {
    const e = event({ keep_job: true });
    const block = parseBlock(e.infrastructure);
    assert.ok(block.type === 'cloud-run-job');
    const target = { block, flowRun: { ...e.flow_run, parameters: {}, tags: [] } };
    const claims = new FolderStore(await tempDir('submitter-gcp-claims-'));
    const [x, y] = await Promise.all([
      provider().submit(target, { store: claims }),
      provider().submit(target, { store: claims }),
    ]);
    assert.deepEqual(x.handle, y.handle);
    assert.equal([x, y].filter((s) => s.adopted).length, 1);
    const jobs = [...google.state.jobs.values()].filter(
      (job) => job.labels['prefect-io-flow-run-id'] === e.flow_run.id,
    );
    assert.equal(jobs.length, 1);
    assert.equal(jobs[0]?.executions.length, 1);
    // a later delivery: adopted, nothing new
    const z = await provider().submit(target, { store: claims });
    assert.ok(z.adopted);
    assert.deepEqual(z.handle, x.handle);
    assert.equal(jobOf(e.flow_run.id)?.executions.length, 1);
  });

  it('the key by reference: the deployment’s secret, else GOOGLE_APPLICATION_CREDENTIALS', async () => {
    const arn = 'arn:aws:secretsmanager:us-east-1:123456789012:secret:google-key-AbCdEf';
    const read: string[] = [];
    const secrets: SecretReader = {
      async read(asked) {
        read.push(asked);
        return JSON.stringify(google.key);
      },
    };
    const noKey = { credentials: { service_account_info: null, project: 'fake-project' } };
    const bySecret = await runWorkflow(
      event(noKey),
      provider({ GOOGLE_CREDENTIALS_SECRET_ARN: arn }, secrets) as unknown as Provider,
    );
    assert.equal(bySecret.reports[0]?.state, 'Completed', JSON.stringify(bySecret.reports[0]));
    assert.deepEqual([...new Set(read)], [arn]);
    const file = join(await tempDir(), 'key.json');
    await writeFile(file, JSON.stringify(google.key));
    const byFile = await runWorkflow(
      event(noKey),
      provider({ GOOGLE_APPLICATION_CREDENTIALS: file }) as unknown as Provider,
    );
    assert.equal(byFile.reports[0]?.state, 'Completed', JSON.stringify(byFile.reports[0]));
    assertNoKey(JSON.stringify(bySecret.reports), JSON.stringify(byFile.reports), bySecret.lines.join('\n'));
  });

  it('no credentials, or a key the token endpoint refuses → Crashed saying what to fix, the key never quoted', async () => {
    const none = await runWorkflow(
      event({ credentials: { service_account_info: null, project: 'fake-project' } }),
    );
    assert.equal(none.reports[0]?.state, 'Crashed', JSON.stringify(none.reports[0]));
    assert.match(none.reports[0]?.reason ?? '', /no Google credentials.*GOOGLE_APPLICATION_CREDENTIALS/);
    // a key of another service account (signed with a key the token endpoint does not know)
    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const other = {
      ...google.key,
      private_key: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    };
    const refused = await runWorkflow(event({ credentials: { service_account_info: other } }));
    assert.equal(refused.reports[0]?.state, 'Crashed', JSON.stringify(refused.reports[0]));
    assert.match(refused.reports[0]?.reason ?? '', /token endpoint answered HTTP 400: invalid_grant/);
    const otherBody = other.private_key.split('\n')[1] ?? '-';
    for (const text of [JSON.stringify(refused.reports), refused.lines.join('\n'), refused.stored])
      assert.ok(!text.includes(otherBody));
  });
});
