// The Prefect 3 `kubernetes` work pool: template + job variables → renderJobConfiguration →
// workPool.toBlock → parseBlock → the kubernetes-job build. Expected manifests are what Prefect's
// Kubernetes worker creates for the same input, derived step by step from
// src/integrations/prefect-kubernetes/prefect_kubernetes/worker.py
// (KubernetesWorkerJobConfiguration._validate_job_manifest and prepare_for_flow_run) and
// src/prefect/workers/base.py (BaseJobConfiguration.prepare_for_flow_run) at PrefectHQ/prefect
// ce79dd3d6cfa2b7337265498210dbc4d25bcdc98. Left out of them, as the submitter cannot know them:
// the worker's own settings in env (PREFECT_API_URL…) and the labels naming Prefect's version,
// the work pool, the worker, the flow and the deployment. `asSubmitted` applies the submitter's
// two deliberate differences. Every manifest is checked against the Kubernetes schema
// (kubernetes-models), as test/build-kubernetes-job.test.ts does.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { InvalidInputError } from '../core/errors.js';
import { FolderStore } from '../core/store.js';
import { type FlowRun, parseFlowRunEvent } from '../events/schema.js';
import { renderJobConfiguration } from '../prefect3/render.js';
import { defaultTemplate } from '../prefect3/work-pool.js';
import { BlockStore } from '../providers/block-store.js';
import { parseBlock } from '../providers/blocks.js';
import type { KubernetesJobBlock } from '../providers/kubernetes-job/block.js';
import type { JobManifest, KubernetesJobRequest } from '../providers/kubernetes-job/build.js';
import { kubernetesJobSpec } from '../providers/kubernetes-job/spec.js';
import { workPool } from '../providers/kubernetes-job/work-pool.js';
import { runSuffix } from '../providers/naming.js';
import { invalidInput as refused, tempDir } from './helpers.js';
import { FLOW_RUN_ID } from './support/build.js';
import { assertValidJob } from './support/kubernetes-job.js';
import { poolBlock } from './support/pools.js';

type Json = Record<string, unknown>;

const POOL = 'work_pool(k8s)';
const CONFIG_PATH = `${POOL}.job_configuration`;
const FLOW_RUN = { id: FLOW_RUN_ID, name: 'nightly-etl' };
const FLOW_RUN_HEX = FLOW_RUN_ID.replaceAll('-', '');

async function stockTemplate(): Promise<Json> {
  return defaultTemplate('kubernetes', 'work_pool');
}

function flowRun(run: { id: string; name: string }): FlowRun {
  return parseFlowRunEvent({
    flow_run: run,
    infrastructure: { type: 'kubernetes-job' },
    infra_overrides: {},
  }).flow_run;
}

interface Built {
  block: KubernetesJobBlock;
  request: KubernetesJobRequest;
}

/** The trigger's one path (render, adapter, parseBlock), then the build, checked as the API server would. */
async function submit(
  template: Json,
  jobVariables: Json,
  options: { blocks?: BlockStore; flowRun?: { id: string; name: string } } = {},
): Promise<Built> {
  const blocks = options.blocks ?? new BlockStore(new FolderStore(await tempDir()));
  const run = options.flowRun ?? FLOW_RUN;
  const pool = { name: 'k8s', type: 'kubernetes', base_job_template: template };
  const block = await poolBlock(blocks, pool, jobVariables, run);
  assert.ok(block.type === 'kubernetes-job');
  const request = kubernetesJobSpec.build({ block, flowRun: flowRun(run) });
  assertValidJob(request.job);
  return { block, request };
}

/**
 * The submitter's differences from the worker's manifest: `metadata.name` is set (one Job per
 * flow run, see build.ts), and PREFECT__FLOW_RUN_ID is the id's hex form (the build's, which
 * Prefect's engine reads with UUID() as it reads str(flow_run.id)).
 */
function asSubmitted(worker: Json): JobManifest {
  const job = structuredClone(worker) as unknown as JobManifest;
  job.metadata.name = `${String(job.metadata.generateName).slice(0, -1)}-${runSuffix(FLOW_RUN_ID)}`;
  for (const entry of containerEnv(job)) {
    if (entry.name === 'PREFECT__FLOW_RUN_ID') entry.value = FLOW_RUN_HEX;
  }
  return job;
}

function containerEnv(job: JobManifest | Json): Json[] {
  const spec = job.spec as { template: { spec: { containers: Json[] } } };
  const env = spec.template.spec.containers[0]?.env;
  assert.ok(Array.isArray(env));
  return env as Json[];
}

/** `_base_flow_run_labels` (without the version ones), then the configuration's, slugified. */
const WORKER_LABELS = {
  'prefect.io/flow-run-id': FLOW_RUN_ID,
  'prefect.io/flow-run-name': 'nightly-etl',
  'app.kubernetes.io/managed-by': 'prefect',
  'app.kubernetes.io/part-of': 'prefect',
};

const SECRET_REF = { secretKeyRef: { name: 'warehouse', key: 'password' } };

function problemAt(error: InvalidInputError, path: string, message: RegExp): void {
  const hit = error.problems.find((p) => p.path === path);
  assert.ok(hit, `no problem at ${path}: ${JSON.stringify(error.problems)}`);
  assert.match(hit.message, message);
}

describe('kubernetes work pool → kubernetes-job', () => {
  it("typical job variables: the Job Prefect's worker creates", async () => {
    const { request, block } = await submit(await stockTemplate(), {
      image: 'ghcr.io/acme/flows:1.4.2',
      namespace: 'data-flows',
      env: { EXTRA_PIP_PACKAGES: 's3fs', LOG_LEVEL: 'DEBUG' },
      labels: { team: 'Data Eng' },
      service_account_name: 'prefect-flows',
      finished_job_ttl: 600,
      command: 'python -m flows.etl --date "2026-12-02"',
      image_pull_policy: 'Always',
      cpu_request: '500m',
      memory_limit: '1Gi',
      job_watch_timeout_seconds: 900,
    });
    const labels = { ...WORKER_LABELS, team: 'Data-Eng' }; // _slugify_label_value keeps case
    const worker = {
      apiVersion: 'batch/v1',
      kind: 'Job',
      metadata: {
        annotations: {}, // _validate_job_manifest, then _slugify_annotations
        labels, // _slugify_labels
        namespace: 'data-flows',
        generateName: 'nightly-etl-', // '-' after rendering: _slugify_name(flow_run.name)
      },
      spec: {
        backoffLimit: 0,
        ttlSecondsAfterFinished: 600,
        template: {
          metadata: { labels }, // _propagate_labels_to_pod
          spec: {
            parallelism: 1,
            completions: 1,
            restartPolicy: 'Never',
            serviceAccountName: 'prefect-flows',
            containers: [
              {
                name: 'prefect-job',
                // base env, the configuration's, then _configure_eviction_handling (backoffLimit 0)
                env: [
                  { name: 'PREFECT__FLOW_RUN_ID', value: FLOW_RUN_ID },
                  { name: 'EXTRA_PIP_PACKAGES', value: 's3fs' },
                  { name: 'LOG_LEVEL', value: 'DEBUG' },
                  { name: 'PREFECT_FLOW_RUN_EXECUTE_SIGTERM_BEHAVIOR', value: 'reschedule' },
                ],
                image: 'ghcr.io/acme/flows:1.4.2',
                imagePullPolicy: 'Always',
                args: ['python', '-m', 'flows.etl', '--date', '2026-12-02'], // command_from_string
                resources: { limits: { memory: '1Gi' }, requests: { cpu: '500m' } },
              },
            ],
          },
        },
      },
    };
    assert.deepEqual(request.job, asSubmitted(worker));
    assert.equal(request.namespace, 'data-flows'); // create_namespaced_job(configuration.namespace, …)
    assert.equal(block.job_watch_timeout_seconds, 900);
    assert.equal(block.pod_watch_timeout_seconds, 60);
    assert.equal(block.stream_output, true);
  });

  it("Prefect 3's env as a list: valueFrom entries reach the container unchanged, after the plain ones", async () => {
    // A pool whose template lets env be a list of Kubernetes entries (the stock schema says object)
    const template = await stockTemplate();
    const variables = template.variables as { properties: Json };
    variables.properties.env = { type: 'array', items: { type: 'object' } };
    const { request, block } = await submit(template, {
      image: 'ghcr.io/acme/flows:1.4.2',
      env: [
        { name: 'LOG_LEVEL', value: 'DEBUG' },
        { name: 'DB_PASSWORD', valueFrom: SECRET_REF },
      ],
    });
    // prepare_for_flow_run: valueFrom entries set aside, the rest merged into the base env, the
    // set-aside entries appended back, then the eviction setting appended (none in the list);
    // _populate_env_in_manifest drops the rendered list's entries, all of them named already
    assert.deepEqual(containerEnv(request.job), [
      { name: 'PREFECT__FLOW_RUN_ID', value: FLOW_RUN_HEX },
      { name: 'LOG_LEVEL', value: 'DEBUG' },
      { name: 'DB_PASSWORD', valueFrom: SECRET_REF },
      { name: 'PREFECT_FLOW_RUN_EXECUTE_SIGTERM_BEHAVIOR', value: 'reschedule' },
    ]);
    assert.deepEqual(block.env, { LOG_LEVEL: 'DEBUG' });
  });

  it("a template's own env list (Prefect's documented way to add secrets) comes after the configuration's env", async () => {
    const template = await stockTemplate();
    const config = template.job_configuration as {
      job_manifest: { spec: { template: { spec: { containers: Json[] } } } };
    };
    const container = config.job_manifest.spec.template.spec.containers[0];
    assert.ok(container);
    container.env = [
      { name: 'DB_PASSWORD', valueFrom: SECRET_REF },
      { name: 'LOG_LEVEL', value: 'INFO' },
    ];
    const { request } = await submit(template, { env: { LOG_LEVEL: 'DEBUG' } });
    // _populate_env_in_manifest: [*configuration env, *template entries it does not name]
    assert.deepEqual(containerEnv(request.job), [
      { name: 'PREFECT__FLOW_RUN_ID', value: FLOW_RUN_HEX },
      { name: 'LOG_LEVEL', value: 'DEBUG' },
      { name: 'PREFECT_FLOW_RUN_EXECUTE_SIGTERM_BEHAVIOR', value: 'reschedule' },
      { name: 'DB_PASSWORD', valueFrom: SECRET_REF },
    ]);
  });

  it("env with a default in the pool's schema: the default and the job variables' env, as the worker merges them", async () => {
    const template = await stockTemplate();
    const properties = (template.variables as { properties: { env: Json } }).properties;
    properties.env.default = { PREFECT_LOGGING_LEVEL: 'INFO', LOG_LEVEL: 'INFO' };
    const { request } = await submit(template, { env: { LOG_LEVEL: 'DEBUG' } });
    // from_template_and_values: the default merged into env, the job variables' env over it
    assert.deepEqual(containerEnv(request.job), [
      { name: 'PREFECT__FLOW_RUN_ID', value: FLOW_RUN_HEX },
      { name: 'PREFECT_LOGGING_LEVEL', value: 'INFO' },
      { name: 'LOG_LEVEL', value: 'DEBUG' },
      { name: 'PREFECT_FLOW_RUN_EXECUTE_SIGTERM_BEHAVIOR', value: 'reschedule' },
    ]);
  });

  it('no job variables: the defaults render and build', async () => {
    const { request } = await submit(await stockTemplate(), {});
    const worker = {
      apiVersion: 'batch/v1',
      kind: 'Job',
      metadata: {
        annotations: {},
        labels: WORKER_LABELS,
        namespace: 'default', // the variable's default
        generateName: 'nightly-etl-',
      },
      spec: {
        backoffLimit: 0,
        template: {
          metadata: { labels: WORKER_LABELS },
          spec: {
            parallelism: 1,
            completions: 1,
            restartPolicy: 'Never',
            containers: [
              {
                name: 'prefect-job',
                env: [
                  { name: 'PREFECT__FLOW_RUN_ID', value: FLOW_RUN_ID },
                  { name: 'PREFECT_FLOW_RUN_EXECUTE_SIGTERM_BEHAVIOR', value: 'reschedule' },
                ],
                // _populate_image_if_not_present: get_prefect_image_name(), the 3 tag here
                image: 'prefecthq/prefect:3-latest',
                imagePullPolicy: 'IfNotPresent', // the variable's default
                args: ['prefect', 'flow-run', 'execute'], // _populate_command_if_not_present
                resources: { limits: {}, requests: {} },
              },
            ],
          },
        },
      },
    };
    assert.deepEqual(request.job, asSubmitted(worker));
  });

  it("a newer worker's variables (annotations, backoff_limit) in a user's template pass through as the worker uses them", async () => {
    // worker.py at ce79dd3 has them (_get_default_job_manifest_template, KubernetesWorkerVariables);
    // the pool template from aggregate-worker-metadata.json at the same commit does not yet
    const template = await stockTemplate();
    const config = template.job_configuration as Json & {
      job_manifest: Json & { metadata: Json; spec: Json };
    };
    config.annotations = '{{ annotations }}';
    config.job_manifest.metadata.annotations = '{{ annotations }}';
    config.job_manifest.spec.backoffLimit = '{{ backoff_limit }}';
    const properties = (template.variables as { properties: Json }).properties;
    properties.annotations = { type: 'object', additionalProperties: { type: 'string' } };
    properties.backoff_limit = { type: 'integer', minimum: 0, default: 0 };
    const { request } = await submit(template, {
      annotations: { 'example.com/owner': 'data team' },
      backoff_limit: 2,
      memory_request: '256Mi',
    });
    const annotations = { 'example.com/owner': 'data team' }; // keys slugified, values kept
    assert.deepEqual(request.job.metadata.annotations, annotations);
    const podTemplate = request.job.spec.template as { metadata: Json; spec: { containers: Json[] } };
    assert.deepEqual(podTemplate.metadata.annotations, annotations); // _propagate_annotations_to_pod
    assert.equal(request.job.spec.backoffLimit, 2);
    assert.deepEqual(podTemplate.spec.containers[0]?.resources, {
      limits: {},
      requests: { memory: '256Mi' },
    });
    // backoffLimit ≠ 0: Kubernetes retries the Job, the run is relinquished on SIGTERM
    assert.deepEqual(containerEnv(request.job).at(-1), {
      name: 'PREFECT_FLOW_RUN_EXECUTE_SIGTERM_BEHAVIOR',
      value: 'relinquish',
    });
  });

  it('a template without backoffLimit: relinquish, and the 6 the API server would default it to (not the build’s 0)', async () => {
    const template = await stockTemplate();
    const config = template.job_configuration as { job_manifest: { spec: Json } };
    delete config.job_manifest.spec.backoffLimit;
    const { request } = await submit(template, {});
    assert.equal(request.job.spec.backoffLimit, 6);
    assert.deepEqual(containerEnv(request.job).at(-1), {
      name: 'PREFECT_FLOW_RUN_EXECUTE_SIGTERM_BEHAVIOR',
      value: 'relinquish',
    });
  });

  it('a name with {{ ctx.flow_run.name }}: rendered by the worker, then slugified into generateName', async () => {
    const { request } = await submit(await stockTemplate(), { name: 'ETL {{ ctx.flow_run.name }}' });
    assert.equal(request.job.metadata.generateName, 'etl-nightly-etl-');
    assert.equal(request.job.metadata.name, `etl-nightly-etl-${runSuffix(FLOW_RUN_ID)}`);
  });

  it('a plain name: "{{ name }}-" is sent as it is; one the API server would refuse is refused', async () => {
    const { request } = await submit(await stockTemplate(), { name: 'nightly' });
    assert.equal(request.job.metadata.generateName, 'nightly-');
    const error = await refused(submit(await stockTemplate(), { name: 'Nightly ETL' }));
    problemAt(
      error,
      `${CONFIG_PATH}.job_manifest.metadata.generateName`,
      /sends as it is and the API server refuses/,
    );
  });

  it("label case kept, as the worker's slugs keep it: the flow-run-name label too", async () => {
    const { request } = await submit(
      await stockTemplate(),
      { labels: { 'example.com/Owner': 'Data Eng' } },
      { flowRun: { id: FLOW_RUN_ID, name: 'Nightly ETL' } },
    );
    // _slugify_label_key/_slugify_label_value with lowercase=False; _slugify_name lowercases
    const labels = {
      ...WORKER_LABELS,
      'prefect.io/flow-run-name': 'Nightly-ETL',
      'example.com/Owner': 'Data-Eng',
    };
    assert.deepEqual(request.job.metadata.labels, labels);
    assert.deepEqual((request.job.spec.template as { metadata: Json }).metadata.labels, labels);
    assert.equal(request.job.metadata.generateName, 'nightly-etl-');
    // a prefix keeps its capitals too, which the API server refuses (a prefix is a DNS name)
    const error = await refused(submit(await stockTemplate(), { labels: { 'Team/Owner': 'x' } }));
    problemAt(error, `${CONFIG_PATH}.labels["Team/Owner"]`, /prefix 'Team' must be a DNS subdomain/);
  });

  it('cluster_config from a kubernetes-cluster-config block placeholder becomes the block’s cluster_config', async () => {
    const blocks = new BlockStore(new FolderStore(await tempDir()));
    const kubeconfig = {
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{ name: 'dev', cluster: { server: 'https://k8s.example.com' } }],
      contexts: [{ name: 'dev', context: { cluster: 'dev', user: 'ci' } }],
      users: [{ name: 'ci', user: { token: 't0ken' } }],
      'current-context': 'dev',
    };
    await blocks.put('kubernetes-cluster-config/dev', {
      type: 'kubernetes-cluster-config',
      config: kubeconfig,
      context_name: 'dev',
    });
    const template = await stockTemplate();
    (template.job_configuration as Json).cluster_config =
      '{{ prefect.blocks.kubernetes-cluster-config.dev }}';
    const { block } = await submit(template, {}, { blocks });
    assert.deepEqual(block.cluster_config, { config: kubeconfig, context_name: 'dev' });
  });

  it('a bad job variable is refused naming job_variables.<var>', async () => {
    const template = await stockTemplate();
    const blocks = new BlockStore(new FolderStore(await tempDir()));
    const badPolicy = await refused(
      renderJobConfiguration(template, { image_pull_policy: 'Sometimes' }, { blocks, path: POOL }),
    );
    assert.ok(badPolicy.problems.some((p) => p.path === 'job_variables.image_pull_policy'));
    // The stock schema's env is an object of strings: Prefect's server refuses a list there too
    const listEnv = await refused(
      renderJobConfiguration(
        template,
        { env: [{ name: 'DB_PASSWORD', valueFrom: SECRET_REF }] },
        { blocks, path: POOL },
      ),
    );
    assert.ok(listEnv.problems.some((p) => p.path === 'job_variables.env'));
  });

  it('what the worker would not do as written is refused, naming the field', async () => {
    const base = await stockTemplate();
    const config = await renderJobConfiguration(
      base,
      {},
      {
        blocks: new BlockStore(new FolderStore(await tempDir())),
        path: POOL,
      },
    );
    const toBlock = (edit: (c: Json & { job_manifest: Json & { metadata: Json; spec: Json } }) => void) => {
      const copy = structuredClone(config) as Json & { job_manifest: Json & { metadata: Json; spec: Json } };
      edit(copy);
      return () => workPool.toBlock(copy, { flowRun: FLOW_RUN, path: CONFIG_PATH });
    };
    const sync = async (fn: () => unknown) => refused(Promise.resolve().then(fn));
    problemAt(
      await sync(toBlock((c) => Object.assign(c, { node_selector: { disk: 'ssd' } }))),
      `${CONFIG_PATH}.node_selector`,
      /does not act on 'node_selector'/,
    );
    problemAt(
      await sync(toBlock((c) => Object.assign(c.job_manifest.metadata, { namespace: 'other' }))),
      `${CONFIG_PATH}.job_manifest.metadata.namespace`,
      /refuses a Job naming another namespace/,
    );
    problemAt(
      await sync(toBlock((c) => Object.assign(c.job_manifest.metadata, { name: 'fixed' }))),
      `${CONFIG_PATH}.job_manifest.metadata.name`,
      /names each flow run's Job itself/,
    );
    problemAt(
      await sync(toBlock((c) => Object.assign(c, { command: 'python other.py' }))),
      `${CONFIG_PATH}.command`,
      /runs the first container's 'args'/,
    );
    problemAt(
      await sync(toBlock((c) => Object.assign(c.job_manifest, { kind: 'CronJob' }))),
      `${CONFIG_PATH}.job_manifest`,
      /\/kind must have value 'Job'/,
    );
    problemAt(
      await sync(toBlock((c) => Object.assign(c, { env: [{ name: 'EMPTY' }] }))),
      `${CONFIG_PATH}.env[0]`,
      /neither 'value' nor 'valueFrom'/,
    );
    problemAt(
      await sync(toBlock((c) => Object.assign(c, { cluster_config: 'dev' }))),
      `${CONFIG_PATH}.cluster_config`,
      /KubernetesClusterConfig/,
    );
    problemAt(
      await sync(toBlock((c) => Object.assign(c, { name: '{{ ctx.flow.name }}' }))),
      `${CONFIG_PATH}.name`,
      /knows only/,
    );
    problemAt(
      await sync(toBlock((c) => Object.assign(c.job_manifest.metadata, { generateName: 'Fixed' }))),
      `${CONFIG_PATH}.job_manifest.metadata.generateName`,
      /cannot be kept/,
    );
  });

  it('null env values and labels are "not set", as BaseJobConfiguration.prepare_for_flow_run drops them', async () => {
    const config = await renderJobConfiguration(
      await stockTemplate(),
      {},
      {
        blocks: new BlockStore(new FolderStore(await tempDir())),
        path: POOL,
      },
    );
    Object.assign(config, { env: { UNSET: null, KEPT: 'yes' }, labels: { gone: null, team: 'data' } });
    const doc = workPool.toBlock(config, { flowRun: FLOW_RUN, path: CONFIG_PATH });
    const block = parseBlock(doc) as KubernetesJobBlock;
    const { job } = kubernetesJobSpec.build({ block, flowRun: flowRun(FLOW_RUN) });
    assert.deepEqual(containerEnv(job), [
      { name: 'PREFECT__FLOW_RUN_ID', value: FLOW_RUN_HEX },
      { name: 'KEPT', value: 'yes' },
      { name: 'PREFECT_FLOW_RUN_EXECUTE_SIGTERM_BEHAVIOR', value: 'reschedule' },
    ]);
    assert.deepEqual(job.metadata.labels, { ...WORKER_LABELS, team: 'data' });
  });

  it("a template's own generateName stays, as the worker keeps it; a name it would ignore is refused", async () => {
    const template = await stockTemplate();
    const config = template.job_configuration as { job_manifest: { metadata: Json } };
    config.job_manifest.metadata.generateName = 'etl-job-';
    const { request } = await submit(template, {});
    assert.equal(request.job.metadata.generateName, 'etl-job-');
    assert.equal(request.job.metadata.name, `etl-job-${runSuffix(FLOW_RUN_ID)}`);
    // …and ignores `name` then: refused rather than dropped
    const error = await refused(submit(template, { name: 'nightly' }));
    problemAt(error, `${CONFIG_PATH}.name`, /names the Job from the manifest's generateName "etl-job-"/);
  });
});
