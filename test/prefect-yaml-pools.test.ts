// The prefect.yaml shapes of test/fixtures/prefect-yaml/ against saved work pools of their types:
// `validate` accepts every deployment of each file and `preview` prints the provider request its
// pool type runs on, through the one path (render → adapter → parseBlock → build).
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { main } from '../cli/main.js';
import { FolderStore } from '../core/store.js';
import { defaultTemplate, WorkPoolStore } from '../prefect3/work-pool.js';
import { BlockStore } from '../providers/block-store.js';
import { ROOT, tempDir } from './helpers.js';

const FIX = join(ROOT, 'test', 'fixtures', 'prefect-yaml');
let blocksDir: string;

async function cli(args: string[]) {
  let stdout = '';
  let stderr = '';
  const code = await main([...args, '--blocks', blocksDir], {
    out: (t) => (stdout += `${t}\n`),
    err: (t) => (stderr += `${t}\n`),
  });
  return { code, stdout, stderr };
}

const ENV = { GIT_SHA: 'abc123', PLATFORM_STAGE: 'staging', PLATFORM_TAG: '3.3.0-rc1' };

before(async () => {
  blocksDir = await tempDir();
  Object.assign(process.env, ENV);
  const blocks = new BlockStore(new FolderStore(blocksDir));
  const pools = new WorkPoolStore(blocks.store);
  await blocks.store.put(
    'variables.json',
    JSON.stringify({
      billing_db_url: 'postgresql://db.internal/billing',
      platform_image: 'ghcr.io/example/platform:3.3.0',
    }),
  );
  await blocks.put('aws-credentials/reporting', { type: 'aws-credentials', region_name: 'eu-west-1' });
  await blocks.put('gcp-credentials/exports', { type: 'gcp-credentials', project: 'example-exports' });
  for (const [name, type] of [
    ['local-process', 'process'],
    ['docker-pool', 'docker'],
    ['docker-ml', 'docker'],
    ['ecs-billing', 'ecs'],
    ['k8s-analytics', 'kubernetes'],
    ['k8s-platform', 'kubernetes'],
    ['k8s-staging', 'kubernetes'],
    ['ecs-push', 'ecs:push'],
  ] as const) {
    await pools.put(name, { type });
  }
  // pools whose required settings an operator filled in as the template's defaults (Prefect's UI does this)
  const aci = defaultTemplate('azure-container-instance', 'work_pool');
  const aciProperties = (aci.variables as { properties: Record<string, Record<string, unknown>> }).properties;
  for (const [key, value] of [
    ['resource_group_name', 'rg-exports'],
    ['subscription_id', '00000000-0000-4000-8000-00000000a2c1'],
  ] as const) {
    const property = aciProperties[key];
    assert.ok(property, key);
    property.default = value;
  }
  await pools.put('aci-pool', { type: 'azure-container-instance', base_job_template: aci });
  const run = defaultTemplate('cloud-run-v2', 'work_pool');
  (run.job_configuration as Record<string, unknown>).credentials =
    '{{ prefect.blocks.gcp-credentials.exports }}';
  await pools.put('cloud-run-pool', { type: 'cloud-run-v2', base_job_template: run });
});
after(() => {
  for (const key of Object.keys(ENV)) delete process.env[key];
});

const CASES: { file: string; deployments: Record<string, string>; extra?: string[] }[] = [
  {
    file: 'process-local.yaml',
    deployments: {
      'hello/hello-every-minute': 'process',
      'hello/hello-weekly': 'process',
      'say-goodbye/goodbye': 'process',
    },
  },
  {
    file: 'docker-build-push.yaml',
    deployments: { 'load-orders/nightly': 'docker-container' },
    extra: ['--job-variable', 'image=registry.example.com/shop/etl:2026.12.01'],
  },
  {
    file: 'merge-keys.yaml',
    deployments: { 'train-model/train': 'docker-container', 'score/score': 'docker-container' },
  },
  { file: 'ecs-env.yaml', deployments: { 'send-invoices/invoices': 'ecs-task' } },
  { file: 'ecs-push-credentials.yaml', deployments: { 'daily-kpis/daily-kpis': 'ecs-task' } },
  {
    file: 'monorepo-anchors.yaml',
    deployments: {
      'ingest/ingest': 'kubernetes-job',
      'build-report/report': 'kubernetes-job',
      'ingest/backfill': 'kubernetes-job',
    },
  },
  {
    file: 'kubernetes-placeholders.yaml',
    deployments: { 'sync-accounts/sync': 'kubernetes-job', 'sync-accounts/sync-staging': 'kubernetes-job' },
  },
  {
    file: 'aci-cloud-run.yaml',
    deployments: { 'export-azure/prod': 'container-instance-job', 'export-gcp/prod': 'cloud-run-job' },
  },
];

describe('prefect.yaml shapes on saved work pools', () => {
  for (const { file, deployments, extra = [] } of CASES) {
    it(`${file}: every deployment validates and previews on its pool's provider`, async () => {
      const checked = await cli(['validate', join(FIX, file), ...extra]);
      assert.equal(checked.code, 0, checked.stderr);
      for (const [label, type] of Object.entries(deployments)) {
        assert.match(
          checked.stdout,
          new RegExp(`valid: ${label.replace('/', '\\/')} on a ${type} block \\(work-pool/`),
        );
        const shown = await cli(['preview', join(FIX, file), '--deployment', label, ...extra]);
        assert.equal(shown.code, 0, `${label}: ${shown.stderr}`);
        const { provider, request } = JSON.parse(shown.stdout) as { provider: string; request: unknown };
        assert.equal(provider, type, label);
        // Prefect 3's worker command reaches every request, not Prefect 2's engine module
        const text = JSON.stringify(request);
        assert.doesNotMatch(text, /prefect\.engine/, label);
      }
    });
  }

  it('values from the file reach the request: images, Prefect variables, $ENV and anchors', async () => {
    const ecs = JSON.parse((await cli(['preview', join(FIX, 'ecs-env.yaml')])).stdout);
    const override = ecs.request.runTask.overrides.containerOverrides[0];
    assert.ok(
      override.environment.some(
        (e: { name: string; value: string }) =>
          e.name === 'DB_URL' && e.value === 'postgresql://db.internal/billing',
      ),
    );
    assert.equal(
      ecs.request.taskDefinition.containerDefinitions[0].image,
      '123456789012.dkr.ecr.us-east-1.amazonaws.com/billing:2.0.1',
    );
    const staging = JSON.parse(
      (await cli(['preview', join(FIX, 'kubernetes-placeholders.yaml'), '--deployment', 'sync-staging']))
        .stdout,
    );
    const job = staging.request.job ?? staging.request;
    assert.match(JSON.stringify(job), /ghcr\.io\/example\/platform:3\.3\.0-rc1/);
    assert.match(JSON.stringify(job), /"namespace":"platform-staging"/);
    const aci = JSON.parse(
      (await cli(['preview', join(FIX, 'aci-cloud-run.yaml'), '--deployment', 'export-azure/prod'])).stdout,
    );
    assert.match(JSON.stringify(aci.request), /example\.azurecr\.io\/exports:1\.0/);
    assert.doesNotMatch(
      JSON.stringify(aci.request),
      /00000000-0000-4000-8000-00000000a2c1/,
      'the subscription id is a secret',
    );
  });

  it('invalid.yaml: each refusal is a real problem with a message naming it', async () => {
    const checked = await cli(['validate', join(FIX, 'invalid.yaml')]);
    assert.equal(checked.code, 2);
    assert.match(checked.stderr, /deployments\[0\]\.entrypoint/);
    assert.match(checked.stderr, /deployments\[1\]\.work_pool\.name/);
    assert.match(checked.stderr, /build_image\.image/);
    assert.match(checked.stderr, /3 of 3 deployments invalid/);
  });

  it('a pool that is not saved is named with how to save it', async () => {
    const checked = await cli(['validate', join(FIX, 'kubernetes-placeholders.yaml')]);
    assert.equal(checked.code, 0, checked.stderr);
    process.env.PLATFORM_STAGE = 'nowhere';
    try {
      const missing = await cli(['validate', join(FIX, 'kubernetes-placeholders.yaml')]);
      assert.equal(missing.code, 2);
      assert.match(
        missing.stderr,
        /work pool 'k8s-nowhere'.*submitter work-pools put FILE --name k8s-nowhere/,
      );
    } finally {
      process.env.PLATFORM_STAGE = ENV.PLATFORM_STAGE;
    }
  });
});
