// kubernetes-job's pure half: block + flow run → the batch/v1 Job. Values marked "Prefect:"
// were produced by running Prefect's KubernetesJob code (from the seeds) with python-slugify
// 9.0.0 and jsonpatch 1.33. Every manifest is checked against the Kubernetes schema
// (kubernetes-models) and the API server's name and label rules, which the schema leaves out.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { buildKubernetesJob, type JobManifest } from '../providers/kubernetes-job/build.js';
import { slugifyLabelKey, slugifyLabelValue, slugifyName } from '../providers/kubernetes-job/names.js';
import { kubernetesJobSpec } from '../providers/kubernetes-job/spec.js';
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
import { assertValidJob } from './support/kubernetes-job.js';

const FLOW_RUN_HEX = '0b3b3c3e00004000800000000000abcd';

async function build(fields: Record<string, unknown> = {}, input: TargetInput = {}): Promise<JobManifest> {
  const { job } = buildKubernetesJob(await targetOf('kubernetes-job', fields, input));
  assertValidJob(job);
  return job;
}

/** The seed's KubernetesJob example (000_…): resources through customizations. */
const SEED_CUSTOMIZATIONS = [
  {
    op: 'add',
    path: '/spec/template/spec/containers/0/resources',
    value: {
      requests: { cpu: '2000m', memory: '4gi' },
      limits: { cpu: '4000m', memory: '8Gi', 'nvidia.com/gpu': '1' },
    },
  },
];

/** The seed's example as Kubernetes accepts it: a quantity's suffix is `Gi`, not `gi`. */
const RESOURCES_FIXED = [
  {
    ...SEED_CUSTOMIZATIONS[0],
    value: {
      requests: { cpu: '2000m', memory: '4Gi' },
      limits: { cpu: '4000m', memory: '8Gi', 'nvidia.com/gpu': '1' },
    },
  },
];

/** Prefect's build_job for the seed example with flow run 'Nightly ETL' and env EXTRA_PIP_PACKAGES=s3fs. */
const PREFECT_SEED_MANIFEST = {
  apiVersion: 'batch/v1',
  kind: 'Job',
  metadata: {
    labels: { 'prefect.io/flow-run-id': FLOW_RUN_ID, 'prefect.io/flow-run-name': 'nightly-etl' },
    namespace: 'dev',
    generateName: 'nightly-etl-',
  },
  spec: {
    template: {
      spec: {
        parallelism: 1,
        completions: 1,
        restartPolicy: 'Never',
        containers: [
          {
            name: 'prefect-job',
            env: [
              { name: 'PREFECT__FLOW_RUN_ID', value: FLOW_RUN_HEX },
              { name: 'EXTRA_PIP_PACKAGES', value: 's3fs' },
            ],
            image: 'prefecthq/prefect:2.0.0-python3.9',
            imagePullPolicy: 'Always',
            args: ['python', '-m', 'prefect.engine'],
            resources: SEED_CUSTOMIZATIONS[0]?.value,
          },
        ],
        serviceAccountName: 'prefect-server',
      },
    },
  },
};

describe('kubernetes-job build', () => {
  it("the seed's example: Prefect's manifest, plus finished-job TTL, backoffLimit 0 and a deterministic name", async () => {
    const request = buildKubernetesJob(
      await targetOf(
        'kubernetes-job',
        {
          namespace: 'dev',
          image: 'prefecthq/prefect:2.0.0-python3.9',
          image_pull_policy: 'Always',
          finished_job_ttl: 300,
          job_watch_timeout_seconds: 600,
          pod_watch_timeout_seconds: 600,
          service_account_name: 'prefect-server',
          customizations: SEED_CUSTOMIZATIONS,
          env: { EXTRA_PIP_PACKAGES: 's3fs' },
        },
        { flow_run: { name: 'Nightly ETL' } },
      ),
    );
    const expected = structuredClone(PREFECT_SEED_MANIFEST) as unknown as JobManifest;
    expected.metadata.name = `nightly-etl-${runSuffix(FLOW_RUN_ID)}`;
    Object.assign(expected.spec, { ttlSecondsAfterFinished: 300, backoffLimit: 0 });
    assert.deepEqual(request.job, expected);
    assert.equal(request.namespace, 'dev');
    assert.equal(request.idempotency_key, `prefect-${FLOW_RUN_HEX}`);
    // The seed's own example asks for memory '4gi', which the API server refuses
    assert.throws(() => assertValidJob(request.job), /requests\/memory must match format "quantity"/);
    const fixed = structuredClone(request.job);
    Object.assign(fixed.spec, { template: structuredClone(fixed.spec.template) });
    const container = (fixed.spec.template as { spec: { containers: Record<string, unknown>[] } }).spec
      .containers[0];
    if (container) container.resources = RESOURCES_FIXED[0]?.value;
    assertValidJob(fixed);
  });

  it("no name anywhere: Prefect's generateName prefect-job-<stable hash>, and the name prefect-job-<run suffix>", async () => {
    const target = await targetOf('kubernetes-job', { env: { A: '1' } });
    delete target.flowRun.name;
    const { job } = buildKubernetesJob(target);
    // Prefect: md5 of the command, then the env's keys, then its values
    assert.equal(job.metadata.generateName, 'prefect-job-7f1994c68e2d57b2704fd96908ba38a5-');
    assert.equal(job.metadata.name, `prefect-job-${runSuffix(FLOW_RUN_ID)}`);
    assert.deepEqual(job.metadata.labels, { 'prefect.io/flow-run-id': FLOW_RUN_ID });
    assertValidJob(job);
  });

  it('defaults: namespace default, the Prefect image, no pull policy or service account, no TTL, backoffLimit 0', async () => {
    const job = await build();
    const pod = (job.spec.template as { spec: Record<string, unknown> }).spec;
    const container = (pod.containers as Record<string, unknown>[])[0] ?? {};
    assert.equal(job.metadata.namespace, 'default');
    assert.equal(container.image, 'prefecthq/prefect:2-latest');
    assert.deepEqual(container.args, ['python', '-m', 'prefect.engine']);
    assert.equal(
      container.command,
      undefined,
      "the image's entrypoint runs (it installs EXTRA_PIP_PACKAGES)",
    );
    assert.equal(container.imagePullPolicy, undefined);
    assert.equal(pod.serviceAccountName, undefined);
    assert.equal(job.spec.ttlSecondsAfterFinished, undefined);
    assert.equal(job.spec.backoffLimit, 0);
    assert.equal(pod.restartPolicy, 'Never');
  });

  it("label keys and values: Prefect's slugs, finished so they start and end with a letter or digit", () => {
    // Prefect: keys and values as its _slugify_label_key / _slugify_label_value return them
    const prefectKeys: Record<string, string> = {
      'io.prefect/team': 'io.prefect/team',
      'App Name': 'app-name',
      'a/b/c': 'a/b-c',
      'Example.COM/Some Key': 'example.com/some-key',
      ['x'.repeat(70)]: 'x'.repeat(63),
    };
    for (const [key, slug] of Object.entries(prefectKeys)) assert.equal(slugifyLabelKey(key), slug, key);
    const prefectValues: Record<string, string> = {
      data: 'data',
      'Some Value!': 'some-value',
      'v.1.2': 'v.1.2',
      '': '',
      'a b c': 'a-b-c',
      ünï: 'uni',
      ['x'.repeat(70)]: 'x'.repeat(63),
    };
    for (const [value, slug] of Object.entries(prefectValues))
      assert.equal(slugifyLabelValue(value), slug, value);
    // Prefect leaves these as they are ("my_key.", "_x_", "_under_"), which Kubernetes refuses
    assert.equal(slugifyLabelKey('my_key.'), 'my_key');
    assert.equal(slugifyLabelKey('_x_'), 'x');
    assert.equal(slugifyLabelValue('_under_'), 'under');
    assert.equal(slugifyLabelValue(`${'y'.repeat(62)}_z`), 'y'.repeat(62), 'cut, then trimmed');
  });

  it('labels on the Job: slugified, flow-run labels included; one that cannot be fixed is refused by name', async () => {
    const job = await build({ labels: { 'App Name': 'Data Team', 'example.com/tier': 'Gold!' } });
    assert.deepEqual(job.metadata.labels, {
      'app-name': 'data-team',
      'example.com/tier': 'gold',
      'prefect.io/flow-run-id': FLOW_RUN_ID,
      'prefect.io/flow-run-name': 'nightly-etl',
    });
    const bad = await targetOf('kubernetes-job', { labels: { ok: 'fine', team: '!!!' } });
    assertProblem(() => buildKubernetesJob(bad), 'infrastructure.labels["team"]', /'!!!'.*letter or digit/);
  });

  it("names: generateName is Prefect's ≤ 45 slug; metadata.name is that + the run suffix, always RFC 1123 and ≤ 63", async () => {
    // Prefect: "My Flow Run!" → "my-flow-run", "x..y__z" → "x-y-z", 80 × "a" → 45 × "a"
    assert.equal(slugifyName('My Flow Run!'), 'my-flow-run');
    assert.equal(slugifyName('x..y__z'), 'x-y-z');
    assert.equal(slugifyName('a'.repeat(80)), 'a'.repeat(45));
    const suffix = runSuffix(FLOW_RUN_ID);
    for (const [name, expected] of [
      ['My Flow Run!', `my-flow-run-${suffix}`],
      ['a'.repeat(80), `${'a'.repeat(45)}-${suffix}`],
      ['日本語', `prefect-job-${suffix}`],
      ['-- 2024 run --', `2024-run-${suffix}`],
    ]) {
      const job = await build({ name });
      assert.equal(job.metadata.name, expected, name);
    }
  });

  it('is deterministic per flow run: same run → same manifest; another run → another name', async () => {
    const first = await build({ name: 'etl' });
    assert.deepEqual(await build({ name: 'etl' }), first);
    const other = await build({ name: 'etl' }, { flow_run: { id: OTHER_FLOW_RUN_ID } });
    assert.notEqual(other.metadata.name, first.metadata.name);
    assert.equal(
      other.metadata.generateName,
      first.metadata.generateName,
      "Prefect's generateName is per name",
    );
  });

  it("the base job is checked as Prefect checks it, with Prefect's messages", async () => {
    const missing = await targetOf('kubernetes-job', {
      job: {
        apiVersion: 'batch/v1',
        kind: 'Job',
        metadata: {},
        spec: {
          template: {
            spec: {
              parallelism: 1,
              completions: 1,
              restartPolicy: 'Never',
              containers: [{ name: 'prefect-job' }],
            },
          },
        },
      },
    });
    // Prefect: missing /metadata/labels, /spec/template/spec/containers/0/env
    assertProblem(
      () => buildKubernetesJob(missing),
      'infrastructure.job',
      /missing required attributes at \/metadata\/labels, \/spec\/template\/spec\/containers\/0\/env:/,
    );
    const incompatible = await targetOf('kubernetes-job', {
      job: {
        apiVersion: 'batch/v1',
        kind: 'Job',
        metadata: { labels: {} },
        spec: {
          template: {
            spec: {
              parallelism: 2,
              completions: 1,
              restartPolicy: 'OnFailure',
              containers: [{ name: 'flow', env: [] }],
            },
          },
        },
      },
    });
    // Prefect: the three "must have value" lines, sorted
    assertProblem(
      () => buildKubernetesJob(incompatible),
      'infrastructure.job',
      /\/spec\/template\/spec\/containers\/0\/name must have value 'prefect-job', \/spec\/template\/spec\/parallelism must have value 1, \/spec\/template\/spec\/restartPolicy must have value 'Never'/,
    );
  });

  it('a richer base job is kept: extra fields, a sidecar, its own backoffLimit', async () => {
    const job = await build({
      job: {
        apiVersion: 'batch/v1',
        kind: 'Job',
        metadata: { labels: { team: 'a' }, annotations: { owner: 'data' } },
        spec: {
          backoffLimit: 3,
          activeDeadlineSeconds: 3600,
          template: {
            spec: {
              parallelism: 1,
              completions: 1,
              restartPolicy: 'Never',
              nodeSelector: { pool: 'flows' },
              containers: [
                { name: 'prefect-job', env: [{ name: 'FROM_BASE', value: '1' }] },
                { name: 'sidecar', image: 'busybox' },
              ],
            },
          },
        },
      },
    });
    assert.equal(job.spec.backoffLimit, 3, 'a base job that sets backoffLimit keeps it');
    assert.equal(job.spec.activeDeadlineSeconds, 3600);
    assert.deepEqual(job.metadata.annotations, { owner: 'data' });
    assert.equal(job.metadata.labels?.team, 'a');
    const containers = (
      job.spec.template as { spec: { containers: { name: string; env?: { name: string }[] }[] } }
    ).spec.containers;
    assert.deepEqual(
      containers[0]?.env?.map((e) => e.name),
      ['FROM_BASE', 'PREFECT__FLOW_RUN_ID'],
    );
    assert.equal(containers[1]?.name, 'sidecar');
  });

  it("the flow command is the container's args: a customization can wrap it or prefix it with a command", async () => {
    const FLOW = ['python', '-m', 'prefect.engine'];
    const containerOf = (job: JobManifest) =>
      (job.spec.template as { spec: { containers: Record<string, unknown>[] } }).spec.containers[0] ?? {};
    const wrapped = await build({
      customizations: [
        { op: 'add', path: '/spec/template/spec/containers/0/args/0', value: 'opentelemetry-instrument' },
      ],
    });
    assert.deepEqual(containerOf(wrapped).args, ['opentelemetry-instrument', ...FLOW]);
    assert.equal(containerOf(wrapped).command, undefined);
    const conda = await build({
      customizations: [
        { op: 'add', path: '/spec/template/spec/containers/0/command', value: ['conda', 'run', '-n', 'env'] },
      ],
    });
    // Kubernetes runs command + args: conda run -n env python -m prefect.engine
    assert.deepEqual(containerOf(conda).command, ['conda', 'run', '-n', 'env']);
    assert.deepEqual(containerOf(conda).args, FLOW);
    const custom = await build({ command: ['python', 'flow.py'] });
    assert.deepEqual(containerOf(custom).args, ['python', 'flow.py']);
  });

  it("a base job's own image and namespace are kept when the block sets neither; the block's win when set", async () => {
    const job = {
      apiVersion: 'batch/v1',
      kind: 'Job',
      metadata: { labels: {}, namespace: 'flows' },
      spec: {
        template: {
          spec: {
            parallelism: 1,
            completions: 1,
            restartPolicy: 'Never',
            containers: [{ name: 'prefect-job', env: [], image: 'registry.example.com/flows:7' }],
          },
        },
      },
    };
    const imageOf = (manifest: JobManifest) =>
      (manifest.spec.template as { spec: { containers: { image?: string }[] } }).spec.containers[0]?.image;
    const kept = buildKubernetesJob(await targetOf('kubernetes-job', { job }));
    assertValidJob(kept.job);
    assert.equal(kept.namespace, 'flows');
    assert.equal(kept.job.metadata.namespace, 'flows');
    assert.equal(imageOf(kept.job), 'registry.example.com/flows:7');
    const set = buildKubernetesJob(
      await targetOf('kubernetes-job', { job, namespace: 'dev', image: 'prefecthq/prefect:2-python3.11' }),
    );
    assert.equal(set.namespace, 'dev');
    assert.equal(imageOf(set.job), 'prefecthq/prefect:2-python3.11');
  });

  it('customizations come last: they can override shortcuts and defaults; a failing one names its index', async () => {
    const job = await build({
      customizations: [
        { op: 'replace', path: '/spec/template/spec/containers/0/image', value: 'custom:1' },
        { op: 'replace', path: '/spec/backoffLimit', value: 2 },
        { op: 'add', path: '/spec/template/spec/containers/0/env/-', value: { name: 'LATE', value: 'x' } },
      ],
    });
    const container = (job.spec.template as { spec: { containers: Record<string, unknown>[] } }).spec
      .containers[0];
    assert.equal(container?.image, 'custom:1');
    assert.equal(job.spec.backoffLimit, 2);
    assert.deepEqual((container?.env as { name: string }[] | undefined)?.at(-1), {
      name: 'LATE',
      value: 'x',
    });

    const broken = await targetOf('kubernetes-job', {
      customizations: [
        { op: 'add', path: '/metadata/annotations', value: {} },
        { op: 'replace', path: '/spec/template/spec/volumes/0', value: {} },
      ],
    });
    assertProblem(() => buildKubernetesJob(broken), 'infrastructure.customizations[1]', /cannot be applied/);
    const guarded = await targetOf('kubernetes-job', {
      customizations: [{ op: 'test', path: '/metadata/namespace', value: 'prod' }],
    });
    assertProblem(
      () => buildKubernetesJob(guarded),
      'infrastructure.customizations[0]',
      /Test operation failed/,
    );
    const badName = await targetOf('kubernetes-job', {
      customizations: [{ op: 'replace', path: '/metadata/name', value: 'Not_Valid' }],
    });
    assertProblem(() => buildKubernetesJob(badName), 'infrastructure.customizations', /'Not_Valid'/);
  });

  it("overrides: env.X and the seed's customizations (fixed) given through infra_overrides", async () => {
    const job = await build(
      { env: { KEEP: '1' } },
      { infra_overrides: { 'env.EXTRA_PIP_PACKAGES': 's3fs', customizations: RESOURCES_FIXED } },
    );
    const container = (job.spec.template as { spec: { containers: Record<string, unknown>[] } }).spec
      .containers[0];
    assert.deepEqual(container?.env, [
      { name: 'PREFECT__FLOW_RUN_ID', value: FLOW_RUN_HEX },
      { name: 'KEEP', value: '1' },
      { name: 'EXTRA_PIP_PACKAGES', value: 's3fs' },
    ]);
    assert.deepEqual(container?.resources, RESOURCES_FIXED[0]?.value);
  });

  it('a namespace Kubernetes would refuse is refused here, by field', async () => {
    const target = await targetOf('kubernetes-job', { namespace: 'Data_Flows' });
    assertProblem(
      () => buildKubernetesJob(target),
      'infrastructure.namespace',
      /'Data_Flows' is not a namespace/,
    );
  });

  it('watch defaults: start timeout is pod_watch_timeout_seconds', async () => {
    const { block } = await targetOf('kubernetes-job', { pod_watch_timeout_seconds: 300 });
    assert.deepEqual(kubernetesJobSpec.watchDefaults(block), { pollSeconds: 5, startTimeoutSeconds: 300 });
  });

  it('the sample previews with the real CLI as a valid Job; the API key and cluster token never appear', async () => {
    const { code, stdout, stderr } = await previewCli(join(SAMPLES, 'kubernetes-job.json'));
    assert.equal(code, 0, stderr);
    assert.doesNotMatch(stdout, /canary/);
    const shown = JSON.parse(stdout);
    assert.equal(shown.provider, 'kubernetes-job');
    assertValidJob(shown.request.job);
    assert.equal(shown.request.job.metadata.labels['example.com/team'], 'data-team');
    assert.deepEqual(shown.request.job.spec.template.spec.containers[0].env[1], {
      name: 'PREFECT_API_KEY',
      value: '**********',
    });
  });
});
