// Prefect 3 cloud-run-v2 and cloud-run work pools: the default base job template rendered with
// job variables → workPool.toBlock → parseBlock → cloud-run-job's build. Expected request bodies
// are what prefect-gcp's workers send for the same inputs, derived by hand from
// CloudRunWorkerJobV2Configuration.prepare_for_flow_run (workers/cloud_run_v2.py) and
// CloudRunWorkerJobConfiguration.prepare_for_flow_run (workers/cloud_run.py) at PrefectHQ/prefect
// ce79dd3d6cfa2b7337265498210dbc4d25bcdc98 (src/integrations/prefect-gcp/prefect_gcp/).
// Where the submitter differs on purpose, the expected body says so next to the value.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { REDACTED } from '../core/secret-marks.js';
import { maskRequest, redact } from '../core/secrets.js';
import { FolderStore } from '../core/store.js';
import { type FlowRun, FlowRunSchema } from '../events/schema.js';
import { defaultTemplate } from '../prefect3/work-pool.js';
import { BlockStore } from '../providers/block-store.js';
import { CloudRunJobBlockSchema } from '../providers/cloud-run-job/block.js';
import type { CloudRunEnvVar, CloudRunJobRequest } from '../providers/cloud-run-job/build.js';
import { cloudRunJobSpec } from '../providers/cloud-run-job/spec.js';
import { invalidInput as rejects, tempDir } from './helpers.js';
import { poolBlock } from './support/pools.js';

const FLOW_RUN_ID = '0b3b3c3e-0000-4000-8000-00000000abcd';
const FLOW_RUN_HEX = '0b3b3c3e000040008000' + '00000000abcd';
const flowRun: FlowRun = FlowRunSchema.parse({ id: FLOW_RUN_ID, name: 'nightly-etl' });
const PRIVATE_KEY = '-----BEGIN PRIVATE KEY-----\ncanary-key\n-----END PRIVATE KEY-----\n';
const SERVICE_ACCOUNT = {
  type: 'service_account',
  project_id: 'my-project',
  private_key_id: 'canary-id',
  private_key: PRIVATE_KEY,
  client_email: 'flows@my-project.iam.gserviceaccount.com',
};

type Json = Record<string, unknown>;

async function template(pool: 'cloud-run' | 'cloud-run-v2'): Promise<Json> {
  return defaultTemplate(pool, 'work_pool');
}

/** The job configuration's `credentials` taken from a stored gcp-credentials block, as a pool's template writes it. */
function withCredentialsBlock(base: Json): Json {
  const jobConfiguration = base.job_configuration as Json;
  return {
    ...base,
    job_configuration: { ...jobConfiguration, credentials: '{{ prefect.blocks.gcp-credentials.prod }}' },
  };
}

async function blocks(): Promise<BlockStore> {
  const store = new BlockStore(new FolderStore(await tempDir()));
  await store.put('gcp-credentials/prod', {
    type: 'gcp-credentials',
    project: 'my-project',
    service_account_info: SERVICE_ACCOUNT,
  });
  return store;
}

const POOL_PATH = 'work_pool(gcp)';

async function blockOf(base: Json, jobVariables: Json) {
  // the adapter tells v1 from v2 by the job body, so either pool type name reads both
  const pool = { name: 'gcp', type: 'cloud-run-v2', base_job_template: base };
  const block = await poolBlock(await blocks(), pool, jobVariables, flowRun);
  assert.equal(block.type, 'cloud-run-job');
  return CloudRunJobBlockSchema.parse(block);
}

async function requestOf(base: Json, jobVariables: Json): Promise<CloudRunJobRequest> {
  return cloudRunJobSpec.build({ block: await blockOf(base, jobVariables), flowRun });
}

/** Env order is not meaning: compared by name. */
function byName(env: readonly CloudRunEnvVar[] | readonly Json[]): Json[] {
  return [...env].sort((a, b) => String(a.name).localeCompare(String(b.name))) as Json[];
}

/**
 * Prefect's labels: _base_flow_run_labels (flow-run-id, flow-run-name, version) and the job
 * variables' labels through sanitize_labels_for_gcp. `prefect-io-version` is left out: the
 * submitter runs no Prefect and claims no version.
 */
function prefectLabels(user: Record<string, string>): Record<string, string> {
  return { 'prefect-io-flow-run-id': FLOW_RUN_ID, 'prefect-io-flow-run-name': 'nightly-etl', ...user };
}

const TYPICAL_V2 = {
  image: 'us-docker.pkg.dev/my-project/flows/etl:1.4.2',
  region: 'europe-west1',
  cpu: '2000m',
  memory: '2Gi',
  timeout: 3600,
  max_retries: 2,
  launch_stage: 'GA',
  service_account_name: 'runner@my-project.iam.gserviceaccount.com',
  vpc_connector_name: 'projects/my-project/locations/europe-west1/connectors/flows',
  args: ['--log-level', 'DEBUG'],
  keep_job: true,
  env: { EXTRA_PIP_PACKAGES: 's3fs', PREFECT_API_KEY: 'pnu_plain' },
  labels: { team: 'Data' },
  env_from_secrets: { DB_PASSWORD: { secret: 'db-password', version: '3' } },
  prefect_api_key_secret: { secret: 'prefect-api-key', version: 'latest' },
  cloudsql_instances: ['my-project:europe-west1:flows-db'],
};

describe('cloud-run-v2 work pool', () => {
  it('typical job variables: the request body is the v2 Job prefect-gcp sends', async () => {
    const base = withCredentialsBlock(await template('cloud-run-v2'));
    const request = await requestOf(base, TYPICAL_V2);
    const labels = prefectLabels({ team: 'data' });
    // prepare_for_flow_run: _populate_env (plain env without PREFECT_API_KEY, as its secret is
    // set; then env_from_secrets; then PREFECT_API_KEY from its secret), _populate_labels (job
    // and execution template), _configure_cloudsql_volumes, _populate_or_format_command (none →
    // `prefect flow-run execute` split), args as given, _populate_timeout (`<timeout>s`), vpcAccess kept.
    const expected = {
      client: 'prefect',
      launchStage: 'GA',
      labels,
      template: {
        labels,
        // the submitter states Cloud Run's default of one task; Prefect leaves it unset
        taskCount: 1,
        template: {
          serviceAccount: 'runner@my-project.iam.gserviceaccount.com',
          maxRetries: 2,
          timeout: '3600s',
          vpcAccess: { connector: 'projects/my-project/locations/europe-west1/connectors/flows' },
          containers: [
            {
              env: [
                // Prefect: str(flow_run.id); the submitter writes the same UUID as 32 hex digits
                { name: 'PREFECT__FLOW_RUN_ID', value: FLOW_RUN_HEX },
                { name: 'EXTRA_PIP_PACKAGES', value: 's3fs' },
                {
                  name: 'DB_PASSWORD',
                  valueSource: { secretKeyRef: { secret: 'db-password', version: '3' } },
                },
                {
                  name: 'PREFECT_API_KEY',
                  valueSource: { secretKeyRef: { secret: 'prefect-api-key', version: 'latest' } },
                },
              ],
              image: 'us-docker.pkg.dev/my-project/flows/etl:1.4.2',
              command: ['prefect', 'flow-run', 'execute'],
              args: ['--log-level', 'DEBUG'],
              resources: { limits: { cpu: '2000m', memory: '2Gi' } },
              volumeMounts: [{ name: 'cloudsql', mountPath: '/cloudsql' }],
            },
          ],
          volumes: [
            { name: 'cloudsql', cloudSqlInstance: { instances: ['my-project:europe-west1:flows-db'] } },
          ],
        },
      },
    };
    const [container] = request.job.template.template.containers;
    const [expectedContainer] = expected.template.template.containers;
    assert.ok(container && expectedContainer);
    assert.deepEqual(byName(container.env), byName(expectedContainer.env));
    assert.deepEqual(
      {
        ...request.job,
        template: {
          ...request.job.template,
          template: { ...request.job.template.template, containers: [{ ...container, env: [] }] },
        },
      },
      {
        ...expected,
        template: {
          ...expected.template,
          template: { ...expected.template.template, containers: [{ ...expectedContainer, env: [] }] },
        },
      },
    );
    // JobV2.create(project=credentials.project, location=region, job_id=…): the same parent
    assert.equal(request.parent, 'projects/my-project/locations/europe-west1');
    // Prefect's job id is `<slug>-<7 random hex>`; the submitter's is deterministic per flow run
    assert.match(request.jobId, /^nightly-etl-[0-9a-f]{12}$/);
  });

  it('the default template with only credentials renders and builds to the defaults prefect-gcp sends', async () => {
    const request = await requestOf(withCredentialsBlock(await template('cloud-run-v2')), {});
    const task = request.job.template.template;
    assert.equal(request.job.launchStage, 'BETA');
    assert.equal(request.parent, 'projects/my-project/locations/us-central1');
    // {{ service_account_name }} not set: removed; vpcAccess {} removed by _remove_vpc_access_if_unset
    assert.equal('serviceAccount' in task, false);
    assert.equal('vpcAccess' in task, false);
    assert.equal('volumes' in task, false);
    assert.equal(task.maxRetries, 0);
    assert.equal(task.timeout, '600s');
    const [container] = task.containers;
    assert.ok(container);
    assert.deepEqual(container.command, ['prefect', 'flow-run', 'execute']);
    assert.equal('args' in container, false, '{{ args }} not set: no args');
    assert.deepEqual(container.resources, { limits: { cpu: '1000m', memory: '512Mi' } });
    // the template's default image; the submitter names Docker Hub explicitly (the same image)
    assert.equal(container.image, 'docker.io/prefecthq/prefect:3-latest');
  });

  it('every launch stage of Google’s enum goes through; Prefect’s LAUNCH_TAG_UNSPECIFIED is LAUNCH_STAGE_UNSPECIFIED', async () => {
    const base = withCredentialsBlock(await template('cloud-run-v2'));
    const variables = (base.variables as { properties: { launch_stage: { enum: string[] } } }).properties;
    for (const stage of variables.launch_stage.enum) {
      const request = await requestOf(base, { launch_stage: stage });
      assert.equal(
        request.job.launchStage,
        stage === 'LAUNCH_TAG_UNSPECIFIED' ? 'LAUNCH_STAGE_UNSPECIFIED' : stage,
      );
    }
    const stages = new Set(variables.launch_stage.enum);
    for (const stage of ['EARLY_ACCESS', 'PRELAUNCH', 'UNIMPLEMENTED', 'DEPRECATED'])
      assert.ok(stages.has(stage));
  });

  it('a command string is split as shlex would; args as a string too', async () => {
    const base = withCredentialsBlock(await template('cloud-run-v2'));
    const request = await requestOf(base, { command: "python -m flows.etl --name 'a b'" });
    assert.deepEqual(request.job.template.template.containers[0]?.command, [
      'python',
      '-m',
      'flows.etl',
      '--name',
      'a b',
    ]);
    // a custom template writing args as one string: _format_args_if_present shlex-splits it
    const jobConfiguration = base.job_configuration as {
      job_body: { template: { template: { containers: Json[] } } };
    };
    const container = jobConfiguration.job_body.template.template.containers[0];
    assert.ok(container);
    container.args = "--day '2026-01-01 00:00'";
    const custom = await requestOf(base, {});
    assert.deepEqual(custom.job.template.template.containers[0]?.args, ['--day', '2026-01-01 00:00']);
  });

  it('a bad job variable is refused naming job_variables.<var>', async () => {
    const base = withCredentialsBlock(await template('cloud-run-v2'));
    const error = await rejects(
      requestOf(base, { launch_stage: 'NIGHTLY', memory: '2GB', cloudsql_instances: 'p:r:i' }),
    );
    const paths = error.problems.map((p) => p.path).sort();
    // cloudsql_instances: a list of connection names, not one string
    assert.deepEqual(paths, [
      'job_variables.cloudsql_instances',
      'job_variables.launch_stage',
      'job_variables.memory',
    ]);
  });

  it('what the block cannot express in a custom job body is refused naming its place', async () => {
    const base = withCredentialsBlock(await template('cloud-run-v2'));
    const jobConfiguration = base.job_configuration as {
      job_body: { template: { template: { containers: Json[] } } };
    };
    const container = jobConfiguration.job_body.template.template.containers[0];
    assert.ok(container);
    container.ports = [{ containerPort: 8080 }];
    const error = await rejects(requestOf(base, {}));
    assert.deepEqual(
      error.problems.map((p) => p.path),
      [`${POOL_PATH}.job_configuration.job_body.template.template.containers[0].ports`],
    );
  });

  it('prefect_api_key_secret and env_from_secrets.PREFECT_API_KEY together are refused (Prefect would send it twice)', async () => {
    const base = withCredentialsBlock(await template('cloud-run-v2'));
    const error = await rejects(
      requestOf(base, {
        env_from_secrets: { PREFECT_API_KEY: { secret: 'a', version: '1' } },
        prefect_api_key_secret: { secret: 'b', version: '1' },
      }),
    );
    assert.deepEqual(
      error.problems.map((p) => p.path),
      [`${POOL_PATH}.job_configuration.prefect_api_key_secret`],
    );
  });

  it('the service account key is redacted in the block shown and never in the previewed request', async () => {
    const block = await blockOf(withCredentialsBlock(await template('cloud-run-v2')), {});
    assert.deepEqual(block.credentials.service_account_info, SERVICE_ACCOUNT, 'the key reached the block');
    const shown = JSON.stringify(redact(block, CloudRunJobBlockSchema));
    assert.doesNotMatch(shown, /canary|PRIVATE KEY/);
    assert.match(shown, new RegExp(REDACTED.replaceAll('*', '\\*')));
    const preview = JSON.stringify(maskRequest(block, (b) => cloudRunJobSpec.build({ block: b, flowRun })));
    assert.doesNotMatch(preview, /canary|PRIVATE KEY/);
  });
});

describe('cloud-run (v1) work pool', () => {
  it('typical job variables: the v2 request carries what prefect-gcp’s v1 Job says', async () => {
    const base = withCredentialsBlock(await template('cloud-run'));
    const variables = {
      image: 'us-docker.pkg.dev/my-project/flows/etl:1.4.2',
      region: 'europe-west1',
      cpu: '2000m',
      memory: '2Gi',
      timeout: 1800,
      service_account_name: 'runner@my-project.iam.gserviceaccount.com',
      vpc_connector_name: 'projects/my-project/locations/europe-west1/connectors/flows',
      env: { EXTRA_PIP_PACKAGES: 's3fs' },
      labels: { team: 'Data' },
    };
    const request = await requestOf(base, variables);
    // The v1 Job prepare_for_flow_run makes (cloud_run.py): _populate_envs, _populate_labels on
    // metadata and the execution template's metadata, command populated, image as given.
    const labels = prefectLabels({ team: 'data' });
    const v1 = {
      metadata: { annotations: { 'run.googleapis.com/launch-stage': 'BETA' }, labels },
      spec: {
        template: {
          metadata: {
            annotations: { 'run.googleapis.com/vpc-access-connector': variables.vpc_connector_name },
            labels,
          },
          spec: {
            template: {
              spec: {
                containers: [
                  {
                    image: variables.image,
                    command: ['prefect', 'flow-run', 'execute'],
                    resources: {
                      limits: { cpu: '2000m', memory: '2Gi' },
                      requests: { cpu: '2000m', memory: '2Gi' },
                    },
                    env: [
                      { name: 'PREFECT__FLOW_RUN_ID', value: FLOW_RUN_HEX },
                      { name: 'EXTRA_PIP_PACKAGES', value: 's3fs' },
                    ],
                  },
                ],
                timeoutSeconds: 1800,
                serviceAccountName: variables.service_account_name,
              },
            },
          },
        },
      },
    };
    const task = v1.spec.template.spec.template.spec;
    const [v1Container] = task.containers;
    assert.ok(v1Container);
    // v1 → v2, field by field (the v2 API has limits only; requests equal them here)
    assert.deepEqual(request.job.labels, v1.metadata.labels);
    assert.deepEqual(request.job.template.labels, v1.spec.template.metadata.labels);
    assert.equal(request.job.launchStage, v1.metadata.annotations['run.googleapis.com/launch-stage']);
    const v2Task = request.job.template.template;
    assert.equal(v2Task.timeout, `${task.timeoutSeconds}s`);
    assert.equal(v2Task.serviceAccount, task.serviceAccountName);
    assert.deepEqual(v2Task.vpcAccess, {
      connector: v1.spec.template.metadata.annotations['run.googleapis.com/vpc-access-connector'],
    });
    // a v1 TaskSpec without maxRetries: Cloud Run retries 3 times
    assert.equal(v2Task.maxRetries, 3);
    const [container] = v2Task.containers;
    assert.ok(container);
    assert.equal(container.image, v1Container.image);
    assert.deepEqual(container.command, v1Container.command);
    assert.deepEqual(container.resources, { limits: v1Container.resources.limits });
    assert.deepEqual(byName(container.env), byName(v1Container.env));
    assert.equal(request.parent, 'projects/my-project/locations/europe-west1');
  });

  it('the default template renders and builds; a bad variable is refused naming job_variables.<var>', async () => {
    const base = withCredentialsBlock(await template('cloud-run'));
    const request = await requestOf(base, {});
    const [container] = request.job.template.template.containers;
    // no image in the v1 body: the worker's docker.io/<Prefect image>
    assert.equal(container?.image, 'docker.io/prefecthq/prefect:3-latest');
    assert.equal(request.job.template.template.timeout, '600s');
    const error = await rejects(requestOf(base, { cpu: '1500m', timeout: 7200 }));
    assert.deepEqual(error.problems.map((p) => p.path).sort(), [
      'job_variables.cpu',
      'job_variables.timeout',
    ]);
  });

  it('a v1 request different from its limit is refused naming the field', async () => {
    const base = withCredentialsBlock(await template('cloud-run'));
    const body = (base.job_configuration as Json).job_body as {
      spec: {
        template: { spec: { template: { spec: { containers: { resources: { requests: Json } }[] } } } };
      };
    };
    const container = body.spec.template.spec.template.spec.containers[0];
    assert.ok(container);
    container.resources.requests.cpu = '1000m';
    const error = await rejects(requestOf(base, { cpu: '2000m' }));
    assert.equal(
      error.problems[0]?.path,
      `${POOL_PATH}.job_configuration.job_body.spec.template.spec.template.spec.containers[0].resources.requests.cpu`,
    );
  });
});
