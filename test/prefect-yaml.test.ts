// Prefect 3 prefect.yaml → flow-run events on a work pool; the "ignored" listing for both
// Prefect 3 prefect.yaml and Prefect 2 deployment YAML. Fixtures: test/fixtures/prefect-yaml/.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { main } from '../cli/main.js';
import { InvalidInputError } from '../core/errors.js';
import { classify, readDocumentFile } from '../events/input.js';
import {
  applyMergeKeys,
  flowNameFromEntrypoint,
  type PrefectProject,
  type ProjectEntry,
  parseJobVariables,
  projectDeploymentToEvent,
  selectDeployment,
} from '../events/prefect-yaml.js';
import { ROOT } from './helpers.js';

const FIXTURES = join(ROOT, 'test', 'fixtures', 'prefect-yaml');
const ID = '00000000-0000-4000-8000-000000000000';

async function project(name: string): Promise<PrefectProject> {
  const doc = classify(await readDocumentFile(join(FIXTURES, name)));
  assert.equal(doc.kind, 'project');
  return (doc as { project: PrefectProject }).project;
}

async function translate(name: string, deployment?: string, jv: Record<string, unknown> = {}) {
  const p = await project(name);
  return projectDeploymentToEvent(selectDeployment(p, deployment), { id: ID }, jv);
}

function problemsOf(fn: () => unknown): string[] {
  try {
    fn();
  } catch (error) {
    assert.ok(error instanceof InvalidInputError, String(error));
    return error.problems.map((p) => `${p.path}: ${p.message}`);
  }
  assert.fail('expected an InvalidInputError');
}

async function cli(args: string[]) {
  let stdout = '';
  let stderr = '';
  const code = await main(args, { out: (t) => (stdout += `${t}\n`), err: (t) => (stderr += `${t}\n`) });
  return { code, stdout, stderr };
}

describe('prefect.yaml → work-pool events', () => {
  it('flow names come from the entrypoint as Prefect derives them (function, _ → -)', () => {
    assert.equal(flowNameFromEntrypoint('flows/orders.py:load_orders'), 'load-orders');
    assert.equal(flowNameFromEntrypoint('a/b/c.py:hello'), 'hello');
  });

  it('merge keys: merged mappings under explicit keys, earlier sources winning', () => {
    assert.deepEqual(
      applyMergeKeys({
        '<<': [
          { a: 1, b: 1 },
          { b: 2, c: 2 },
        ],
        c: 3,
      }),
      { a: 1, b: 1, c: 3 },
    );
    assert.throws(() => applyMergeKeys({ x: { '<<': 'text' } }), /x\.<<: a merge key \(<<\) takes a mapping/);
  });

  it('docker build/push: the step output image is a problem naming it, unless --job-variable gives it', async () => {
    const p = await project('docker-build-push.yaml');
    const entry = selectDeployment(p, undefined);
    const problems = problemsOf(() => projectDeploymentToEvent(entry, { id: ID }));
    assert.equal(problems.length, 1);
    assert.match(
      problems[0] as string,
      /^deployments\[0\]\.work_pool\.job_variables\.image: '\{\{ build-image\.image \}\}' is the output of a build\/push step.*--job-variable image=VALUE/,
    );
    const { event, ignored } = projectDeploymentToEvent(
      entry,
      { id: ID },
      parseJobVariables(['image=registry.example.com/shop/etl:2026.12.01']),
    );
    assert.deepEqual(event, {
      flow_run: {
        id: ID,
        name: 'nightly-run',
        flow_name: 'load-orders',
        deployment_name: 'load-orders/nightly',
        parameters: { day: 'yesterday' },
        tags: ['etl'],
      },
      work_pool: { name: 'docker-pool' },
      job_variables: { image: 'registry.example.com/shop/etl:2026.12.01' },
    });
    assert.deepEqual(ignored, ['version', 'description', 'schedule', 'work_pool.work_queue_name']);
    assert.deepEqual(p.ignored, ['name', 'prefect-version', 'build', 'push', 'pull']);
  });

  it('monorepo anchors: aliases resolve; a deployment name or flow/deployment picks one; several without a name is refused listing them', async () => {
    const p = await project('monorepo-anchors.yaml');
    assert.deepEqual(
      problemsOf(() => selectDeployment(p, undefined)),
      ['--deployment: pick one with --deployment NAME: ingest/ingest, build-report/report, ingest/backfill'],
    );
    const report = projectDeploymentToEvent(selectDeployment(p, 'build-report/report'), { id: ID });
    assert.deepEqual(report.event.work_pool, { name: 'k8s-analytics' });
    assert.deepEqual(report.event.job_variables, {
      image: 'ghcr.io/example/analytics:3.2.0',
      namespace: 'analytics',
    });
    assert.deepEqual(report.ignored, ['schedules', 'pull', 'work_pool.work_queue_name']);
    const backfill = projectDeploymentToEvent(selectDeployment(p, 'backfill'), { id: ID });
    assert.equal((backfill.event.flow_run as { flow_name: string }).flow_name, 'ingest');
    // Prefect's own matching: the entrypoint function, '-' read as '_'
    assert.equal(selectDeployment(p, 'build_report/report').name, 'report');
    assert.match(
      problemsOf(() => selectDeployment(p, 'nope'))[0] as string,
      /no deployment 'nope': the file has ingest\/ingest/,
    );
    assert.match(
      problemsOf(() => selectDeployment(p, 'other/report'))[0] as string,
      /no deployment 'other\/report'/,
    );
  });

  it('merge keys in a deployment: the shared pool merged, job variables overridden beside it', async () => {
    const train = await translate('merge-keys.yaml', 'train');
    assert.deepEqual(train.event.work_pool, { name: 'docker-ml' });
    assert.deepEqual(train.event.job_variables, {
      image: 'example/ml:1.4',
      env: { MLFLOW_TRACKING_URI: 'http://mlflow.internal:5000', EPOCHS: '20' },
    });
    const score = await translate('merge-keys.yaml', 'score');
    assert.deepEqual(score.event.job_variables, {
      image: 'example/ml:1.4',
      env: { MLFLOW_TRACKING_URI: 'http://mlflow.internal:5000' },
    });
    assert.deepEqual(score.ignored, []);
  });

  it('ECS: job variables kept (Prefect variables as text for the pool rendering); schedules, limits listed as ignored', async () => {
    const { event, ignored } = await translate('ecs-env.yaml');
    assert.deepEqual(event.job_variables, {
      image: '123456789012.dkr.ecr.us-east-1.amazonaws.com/billing:2.0.1',
      cpu: 1024,
      memory: 2048,
      task_role_arn: 'arn:aws:iam::123456789012:role/billing-flows',
      env: { STAGE: 'prod', DB_URL: '{{ prefect.variables.billing_db_url }}' },
    });
    assert.deepEqual(ignored, ['concurrency_limit', 'enforce_parameter_schema', 'schedules']);
  });

  it('process pool, several deployments of two flows; kubernetes placeholders; ACI + Cloud Run with a repeated deployment name', async () => {
    const p = await project('process-local.yaml');
    assert.equal(p.deployments.length, 3);
    const goodbye = projectDeploymentToEvent(selectDeployment(p, 'goodbye'), { id: ID });
    assert.deepEqual(goodbye.event.work_pool, { name: 'local-process' });
    assert.deepEqual(goodbye.event.job_variables, {});
    const k8s = await translate('kubernetes-placeholders.yaml', 'sync');
    assert.equal(
      (k8s.event.job_variables as { image: string }).image,
      '{{ prefect.variables.platform_image }}',
    );
    assert.deepEqual(k8s.ignored, ['version', 'triggers']);
    // {{ $NAME }}: the deployer's environment, as prefect deploy substitutes it; unset is a problem
    const k8sFile = await project('kubernetes-placeholders.yaml');
    const staging = selectDeployment(k8sFile, 'sync-staging');
    const env = { PLATFORM_STAGE: 'staging', PLATFORM_TAG: '3.3.0-rc1' };
    const resolved = projectDeploymentToEvent(staging, { id: ID }, {}, env);
    assert.deepEqual(resolved.event.work_pool, { name: 'k8s-staging' });
    assert.equal(
      (resolved.event.job_variables as { image: string }).image,
      'ghcr.io/example/platform:3.3.0-rc1',
    );
    assert.deepEqual(
      problemsOf(() => projectDeploymentToEvent(staging, { id: ID }, { image: 'x:1' }, {})),
      [
        "deployments[1].work_pool.name: '{{ $PLATFORM_STAGE }}' is the deployer's environment variable PLATFORM_STAGE, and it is not set here: set it (as for 'prefect deploy') or write the value",
      ],
    );
    const cross = await project('aci-cloud-run.yaml');
    assert.match(
      problemsOf(() => selectDeployment(cross, 'prod'))[0] as string,
      /'prod' names 2 deployments .*give flow-name\/deployment-name/,
    );
    const gcp = projectDeploymentToEvent(selectDeployment(cross, 'export-gcp/prod'), { id: ID });
    assert.deepEqual(gcp.event.work_pool, { name: 'cloud-run-pool' });
  });

  it('refusals name the deployment and the field', async () => {
    const p = await project('invalid.yaml');
    const [a, b, c] = p.deployments as [ProjectEntry, ProjectEntry, ProjectEntry];
    assert.match(
      problemsOf(() => projectDeploymentToEvent(a, { id: ID })).join('\n'),
      /deployments\[0\]\.entrypoint: /,
    );
    assert.deepEqual(
      problemsOf(() => projectDeploymentToEvent(b, { id: ID })),
      [
        "deployments[1].work_pool.name: required: the work pool's name (save it with 'submitter work-pools put FILE --name NAME')",
      ],
    );
    assert.match(
      problemsOf(() => projectDeploymentToEvent(c, { id: ID }))[0] as string,
      /'\{\{ build_image\.image \}\}'.*--job-variable image=VALUE/,
    );
    assert.match(problemsOf(() => parseJobVariables(['image']))[0] as string, /'image' must be key=value/);
    assert.throws(() => parseJobVariables(['__proto__={"x":1}']), /not allowed as a key/);
    assert.throws(() => parseJobVariables(['env={"__proto__":{"x":1}}']), /__proto__/);
    assert.deepEqual(
      problemsOf(() => classify({ name: 'x', 'prefect-version': '3.0.0', build: null })),
      ['deployments: lists no deployment: add one ({name, entrypoint, work_pool})'],
    );
    assert.deepEqual(parseJobVariables(['cpu=1024', 'env={"A":"1"}', 'image=a:b']), {
      cpu: 1024,
      env: { A: '1' },
      image: 'a:b',
    });
  });
});

describe('the CLI on prefect.yaml and Prefect 2 deployment YAML', () => {
  it('validate on a Prefect 2 deployment YAML lists what it does not act on', async () => {
    const out = await cli(['validate', join(FIXTURES, 'prefect2-deployment.yaml')]);
    assert.equal(out.code, 0, out.stderr);
    assert.match(out.stdout, /^valid: flow-run-event /);
    assert.match(
      out.stdout,
      /ignored \(accepted, not acted on\): description, version, work_queue_name, work_pool_name, schedule, is_schedule_active, manifest_path, storage, path, entrypoint, parameter_openapi_schema, timestamp, triggers, enforce_parameter_schema/,
    );
  });

  it('--deployment and --job-variable on a file that is not a prefect.yaml are usage errors', async () => {
    const out = await cli(['preview', join(FIXTURES, 'prefect2-deployment.yaml'), '--deployment', 'x']);
    assert.equal(out.code, 2);
    assert.match(out.stderr, /--deployment picks a deployment of a prefect.yaml/);
  });

  it('run/preview on a file with several deployments and no --deployment: exit 2 listing them', async () => {
    const out = await cli(['preview', join(FIXTURES, 'process-local.yaml')]);
    assert.equal(out.code, 2);
    assert.match(
      out.stderr,
      /pick one with --deployment NAME: hello\/hello-every-minute, hello\/hello-weekly, say-goodbye\/goodbye/,
    );
  });

  it('validate without --deployment reports every deployment of invalid.yaml and exits 2', async () => {
    const out = await cli(['validate', join(FIXTURES, 'invalid.yaml')]);
    assert.equal(out.code, 2);
    assert.match(out.stderr, /deployments\[0\]\.entrypoint/);
    assert.match(out.stderr, /deployments\[1\]\.work_pool\.name: required/);
    assert.match(out.stderr, /build_image\.image/);
    assert.match(out.stderr, /3 of 3 deployments invalid/);
  });
});
