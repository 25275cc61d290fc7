// cloud-run-job's pure half: block + flow run → the Cloud Run Admin API v2 jobs.create
// request. Label expectations marked "Prefect:" are prefect-gcp's own test cases for
// `sanitize_labels_for_gcp`; name slugs were produced with python-slugify 9.0.0.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import {
  buildCloudRunRequest,
  type CloudRunJobRequest,
  gcpLabels,
  JOB_ID,
  qualifiedImage,
} from '../providers/cloud-run-job/build.js';
import { cloudRunJobSpec } from '../providers/cloud-run-job/spec.js';
import { runSuffix } from '../providers/naming.js';
import { SAMPLES } from './helpers.js';
import {
  assertProblem,
  FLOW_RUN_ID,
  OTHER_FLOW_RUN_ID,
  previewCli,
  type TargetInput,
  targetOf,
} from './support/build.js';

const GCP_LABEL_KEY = /^[a-z][a-z0-9_-]{0,62}$/;
const GCP_LABEL_VALUE = /^[a-z0-9_-]{0,63}$/;

function assertApiRules(request: CloudRunJobRequest): void {
  assert.match(request.jobId, JOB_ID);
  assert.ok(request.jobId.length <= 63);
  assert.match(request.parent, /^projects\/[^/]+\/locations\/[a-z0-9-]+$/);
  for (const labels of [request.job.labels, request.job.template.labels]) {
    assert.ok(Object.keys(labels).length <= 64);
    for (const [key, value] of Object.entries(labels)) {
      assert.match(key, GCP_LABEL_KEY);
      assert.match(value, GCP_LABEL_VALUE);
    }
  }
}

async function build(
  fields: Record<string, unknown> = {},
  input: TargetInput = {},
): Promise<CloudRunJobRequest> {
  const request = buildCloudRunRequest(
    await targetOf('cloud-run-job', { project: 'my-project', ...fields }, input),
  );
  assertApiRules(request);
  return request;
}

describe('cloud-run-job build', () => {
  it('the whole request: parent, deterministic jobId, labels on job and executions, env, secrets by reference', async () => {
    const request = await build(
      {
        region: 'europe-west1',
        image: 'europe-docker.pkg.dev/my-project/flows/etl:1.4.2',
        cpu: '2000m',
        memory: '2Gi',
        timeout: 3600,
        max_retries: 2,
        service_account_name: 'flows@my-project.iam.gserviceaccount.com',
        vpc_connector_name: 'flows-connector',
        env: { EXTRA_PIP_PACKAGES: 's3fs' },
        env_from_secrets: { DB_PASSWORD: { secret: 'db-password', version: '3' } },
        labels: { team: 'Data' },
      },
      { flow_run: { name: 'Nightly ETL' } },
    );
    const labels = {
      team: 'data',
      'prefect-io-flow-run-id': FLOW_RUN_ID,
      'prefect-io-flow-run-name': 'nightly-etl',
    };
    assert.deepEqual(request, {
      parent: 'projects/my-project/locations/europe-west1',
      jobId: `nightly-etl-${runSuffix(FLOW_RUN_ID)}`,
      job: {
        client: 'prefect',
        labels,
        launchStage: 'BETA',
        template: {
          labels,
          taskCount: 1,
          template: {
            containers: [
              {
                image: 'europe-docker.pkg.dev/my-project/flows/etl:1.4.2',
                command: ['python', '-m', 'prefect.engine'],
                env: [
                  { name: 'EXTRA_PIP_PACKAGES', value: 's3fs' },
                  { name: 'PREFECT__FLOW_RUN_ID', value: '0b3b3c3e00004000800000000000abcd' },
                  {
                    name: 'DB_PASSWORD',
                    valueSource: { secretKeyRef: { secret: 'db-password', version: '3' } },
                  },
                ],
                resources: { limits: { cpu: '2000m', memory: '2Gi' } },
              },
            ],
            timeout: '3600s',
            maxRetries: 2,
            serviceAccount: 'flows@my-project.iam.gserviceaccount.com',
            vpcAccess: { connector: 'projects/my-project/locations/europe-west1/connectors/flows-connector' },
          },
        },
      },
      idempotency_key: 'prefect-0b3b3c3e00004000800000000000abcd',
    });
  });

  it("defaults: Prefect's v2 worker values; the default image spelled docker.io/…; no service account or VPC", async () => {
    const request = await build();
    const template = request.job.template.template;
    assert.equal(request.parent, 'projects/my-project/locations/us-central1');
    assert.equal(request.job.launchStage, 'BETA');
    assert.equal(template.containers[0]?.image, 'docker.io/prefecthq/prefect:2-latest');
    assert.deepEqual(template.containers[0]?.resources, { limits: { cpu: '1000m', memory: '512Mi' } });
    assert.equal(template.timeout, '600s');
    assert.equal(template.maxRetries, 3, "prefect-gcp's default");
    assert.equal(request.job.template.taskCount, 1);
    assert.equal('serviceAccount' in template, false);
    assert.equal('vpcAccess' in template, false, 'Prefect removes vpcAccess when no connector is set');
  });

  it('project: the block, else credentials.project, else the service account key; none names both fields', async () => {
    const cases: [Record<string, unknown>, string][] = [
      [{ project: 'p1', credentials: { project: 'p2' } }, 'p1'],
      [{ project: null, credentials: { project: 'p2' } }, 'p2'],
      [
        { project: null, credentials: { service_account_info: { project_id: 'p3', private_key: 'k' } } },
        'p3',
      ],
      [{ project: null, credentials: { service_account_info: JSON.stringify({ project_id: 'p4' }) } }, 'p4'],
    ];
    for (const [fields, project] of cases) {
      assert.equal((await build(fields)).parent, `projects/${project}/locations/us-central1`);
    }
    const none = await targetOf('cloud-run-job');
    assertProblem(
      () => buildCloudRunRequest(none),
      'infrastructure.project',
      /'project' \(or 'credentials.project'\)/,
    );
  });

  it("jobId: Prefect's name slug, starting with a letter, + the run suffix; ≤ 63; same run → same id", async () => {
    const suffix = runSuffix(FLOW_RUN_ID);
    // Prefect's slugify_name: "My Flow Run!" → "my-flow-run", "x..y__z" → "x-y-z"
    const cases: [string, string][] = [
      ['My Flow Run!', `my-flow-run-${suffix}`],
      ['x..y__z', `x-y-z-${suffix}`],
      ['1,000 runs', `prefect-1000-runs-${suffix}`],
      ['a'.repeat(80), `${'a'.repeat(50)}-${suffix}`],
      ['日本語', `prefect-${suffix}`],
    ];
    for (const [name, jobId] of cases) assert.equal((await build({ name })).jobId, jobId, name);
    assert.equal((await build({}, { flow_run: { name: 'Nightly ETL' } })).jobId, `nightly-etl-${suffix}`);
    const first = await build({ name: 'etl' });
    assert.deepEqual(await build({ name: 'etl' }), first);
    const other = await build({ name: 'etl' }, { flow_run: { id: OTHER_FLOW_RUN_ID } });
    assert.notEqual(other.jobId, first.jobId);
  });

  it("labels: prefect-gcp's sanitize_labels_for_gcp rules; a key with no letter, or too many labels, is refused", async () => {
    // Prefect (prefect-gcp tests): dots and slashes replaced, lowercased, values ≤ 63, leading non-letters stripped from keys
    assert.deepEqual(
      gcpLabels({
        'prefect.io/flow-run-id': '069b2be6-88cf-7155-8000-fb8956c7ebf3',
        'prefect.io/version': '3.2.1',
        MyKey: 'MyValue',
        '1team': 'value',
        '.team2': 'v',
        long: 'a'.repeat(100),
      }).labels,
      {
        'prefect-io-flow-run-id': '069b2be6-88cf-7155-8000-fb8956c7ebf3',
        'prefect-io-version': '3-2-1',
        mykey: 'myvalue',
        team: 'value',
        team2: 'v',
        long: 'a'.repeat(63),
      },
    );
    const digits = await targetOf('cloud-run-job', { project: 'p', labels: { '123': 'x' } });
    assertProblem(() => buildCloudRunRequest(digits), 'infrastructure.labels["123"]', /start with a letter/);
    const many = Object.fromEntries(Array.from({ length: 63 }, (_, i) => [`label-${i}`, 'v']));
    const tooMany = await targetOf('cloud-run-job', { project: 'p', labels: many });
    assertProblem(() => buildCloudRunRequest(tooMany), 'infrastructure.labels', /64 labels per job/);
  });

  it('env_from_secrets: secretKeyRef only (never a value); a variable given both ways comes from the secret', async () => {
    const request = await build(
      {
        env: { PREFECT_API_KEY: 'plaintext-key', MODE: 'prod' },
        env_from_secrets: { PREFECT_API_KEY: { secret: 'projects/p/secrets/prefect-key' } },
      },
      { infra_overrides: { 'env.EXTRA': '1' } },
    );
    assert.deepEqual(request.job.template.template.containers[0]?.env, [
      { name: 'MODE', value: 'prod' },
      { name: 'EXTRA', value: '1' },
      { name: 'PREFECT__FLOW_RUN_ID', value: '0b3b3c3e00004000800000000000abcd' },
      {
        name: 'PREFECT_API_KEY',
        valueSource: { secretKeyRef: { secret: 'projects/p/secrets/prefect-key', version: 'latest' } },
      },
    ]);
    assert.equal(JSON.stringify(request).includes('plaintext-key'), false);
  });

  it('VPC connector: a bare name becomes the full name the API wants; a full name is kept', async () => {
    const full = 'projects/net-host/locations/us-central1/connectors/shared';
    assert.deepEqual((await build({ vpc_connector_name: full })).job.template.template.vpcAccess, {
      connector: full,
    });
  });

  it('images: Docker Hub short names made explicit, registry names kept', () => {
    assert.equal(qualifiedImage('prefecthq/prefect:2-latest'), 'docker.io/prefecthq/prefect:2-latest');
    assert.equal(qualifiedImage('python:3.11'), 'docker.io/library/python:3.11');
    assert.equal(qualifiedImage('gcr.io/p/etl:1'), 'gcr.io/p/etl:1');
    assert.equal(
      qualifiedImage('europe-docker.pkg.dev/p/r/etl@sha256:ab'),
      'europe-docker.pkg.dev/p/r/etl@sha256:ab',
    );
    assert.equal(qualifiedImage('localhost:5000/etl'), 'localhost:5000/etl');
    assert.equal(qualifiedImage('docker.io/library/python'), 'docker.io/library/python');
  });

  it('resources: cpu as a number becomes millicores; a memory Cloud Run cannot read is refused by field', async () => {
    const request = await build({ cpu: 2, memory: 1024, memory_unit: 'Mi' });
    assert.deepEqual(request.job.template.template.containers[0]?.resources, {
      limits: { cpu: '2000m', memory: '1024Mi' },
    });
    const bad = await targetOf('cloud-run-job', { project: 'p', memory: '512MB', cpu: 'two' });
    assertProblem(() => buildCloudRunRequest(bad), 'infrastructure.memory', /G, Gi, M or Mi/);
    assertProblem(() => buildCloudRunRequest(bad), 'infrastructure.cpu', /'1000m'/);
    // prefect-gcp: a memory without its unit is an error, not a guess
    const unitless = await targetOf('cloud-run-job', { project: 'p', memory: 1024 });
    assertProblem(() => buildCloudRunRequest(unitless), 'infrastructure.memory_unit', /without a unit/);
    const gig = await build({ memory: 4, memory_unit: 'Gi' });
    assert.equal(gig.job.template.template.containers[0]?.resources.limits.memory, '4Gi');
  });

  it("args and cloudsql_instances (Prefect 3's v2 worker): sent only when given, the Cloud SQL volume at /cloudsql", async () => {
    const plain = await build();
    const [container] = plain.job.template.template.containers;
    assert.equal(container && 'args' in container, false);
    assert.equal(container && 'volumeMounts' in container, false);
    assert.equal('volumes' in plain.job.template.template, false);
    // prefect-gcp cloud_run_v2.py _configure_cloudsql_volumes (PrefectHQ/prefect ce79dd3)
    const request = await build({
      args: ['--day', 'today'],
      cloudsql_instances: ['my-project:us-central1:db'],
    });
    const task = request.job.template.template;
    assert.deepEqual(task.containers[0]?.args, ['--day', 'today']);
    assert.deepEqual(task.containers[0]?.volumeMounts, [{ name: 'cloudsql', mountPath: '/cloudsql' }]);
    assert.deepEqual(task.volumes, [
      { name: 'cloudsql', cloudSqlInstance: { instances: ['my-project:us-central1:db'] } },
    ]);
    await assert.rejects(
      build({ cloudsql_instances: ['db'] }),
      (error: unknown) => error instanceof Error && /cloudsql_instances\[0\]/.test(error.message),
    );
  });

  it("launch_stage: every value of Google's LaunchStage enum", async () => {
    for (const stage of [
      'LAUNCH_STAGE_UNSPECIFIED',
      'UNIMPLEMENTED',
      'PRELAUNCH',
      'EARLY_ACCESS',
      'DEPRECATED',
    ])
      assert.equal((await build({ launch_stage: stage })).job.launchStage, stage);
  });

  it('watch defaults: poll_interval; five minutes to start (scheduling and image pull)', async () => {
    const { block } = await targetOf('cloud-run-job', { poll_interval: 10 });
    assert.deepEqual(cloudRunJobSpec.watchDefaults(block), { pollSeconds: 10, startTimeoutSeconds: 300 });
  });

  it('the sample previews with the real CLI; the service account key never appears, secret references do', async () => {
    const { code, stdout, stderr } = await previewCli(join(SAMPLES, 'cloud-run-job.json'));
    assert.equal(code, 0, stderr);
    assert.doesNotMatch(stdout, /canary|PRIVATE KEY|client_email/);
    const shown = JSON.parse(stdout) as { provider: string; request: CloudRunJobRequest };
    assert.equal(shown.provider, 'cloud-run-job');
    assertApiRules(shown.request);
    assert.equal(shown.request.parent, 'projects/my-project/locations/europe-west1', "the key's project_id");
    assert.match(stdout, /"secret": "db-password"/, 'the secret reference stays readable');
  });
});
