// Prefect 2 exports as Prefect writes them (issue 14 part 4).
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { promisify } from 'node:util';
import { InvalidInputError } from '../core/errors.js';
import { loadRun } from '../functions/lib/context.js';
import { accept } from '../functions/lib/intake.js';
import { parseBlock } from '../providers/blocks.js';
import { resolveNestedBlocks } from '../providers/prefect2.js';
import { ROOT, tempDir, testDeps } from './helpers.js';

const run = promisify(execFile);
const BIN = join(ROOT, 'bin', 'submitter.js');
const FIX = join('test', 'fixtures', 'prefect2');

async function submitter(args: string[]) {
  try {
    const { stdout, stderr } = await run(process.execPath, [BIN, ...args], { cwd: ROOT });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

describe('Prefect 2 exports', () => {
  it('an ECS deployment YAML with nested metadata and cpu/memory null previews', async () => {
    const out = await submitter(['preview', join(FIX, 'ecs-deployment.yaml')]);
    assert.equal(out.code, 0, out.stderr);
    const preview = JSON.parse(out.stdout);
    assert.equal(preview.provider, 'ecs-task');
    assert.doesNotMatch(out.stdout, /SECRETEXAMPLEVALUE123/);
  });

  it('its masked ********** secret is refused naming the field', async () => {
    const out = await submitter(['preview', join(FIX, 'ecs-deployment-masked.yaml')]);
    assert.equal(out.code, 2);
    assert.match(out.stderr, /aws_credentials\.aws_secret_access_key/);
  });

  it('metadata at depth 3 is dropped; numeric strings are numbers; non-numeric ones are refused by field', () => {
    const block = parseBlock({
      type: 'ecs-task',
      cpu: '256',
      memory: '512',
      task_start_timeout_seconds: '120',
      aws_credentials: { aws_client_parameters: { config: { _block_document_id: 'x', retries: 3 } } },
    });
    assert.equal(block.type, 'ecs-task');
    if (block.type !== 'ecs-task') return;
    assert.equal(block.cpu, 256);
    assert.equal(block.memory, 512);
    assert.equal(block.task_start_timeout_seconds, 120);
    assert.deepEqual(block.aws_credentials.aws_client_parameters?.config, { retries: 3 });
    assert.throws(
      () => parseBlock({ type: 'ecs-task', cpu: 'lots' }),
      (e: unknown) =>
        e instanceof InvalidInputError && e.problems.some((p) => p.path === 'infrastructure.cpu'),
    );
  });

  it('aws_client_parameters: boto3 settings with no counterpart are refused with what to do, never dropped', () => {
    const paths = (params: Record<string, unknown>) => {
      try {
        parseBlock({ type: 'ecs-task', aws_credentials: { aws_client_parameters: params } });
        return [];
      } catch (error) {
        assert.ok(error instanceof InvalidInputError);
        return error.problems.map((p) => `${p.path}: ${p.message}`);
      }
    };
    assert.deepEqual(
      paths({
        endpoint_url: 'http://localhost:4566',
        use_ssl: false,
        config: { retries: { max_attempts: 3 } },
      }),
      [],
    );
    const refused = paths({ verify: false, api_version: '2014-11-13', config: { signature_version: 'v2' } });
    assert.equal(refused.length, 3);
    assert.match(refused.join('\n'), /aws_client_parameters\.verify: .*NODE_EXTRA_CA_CERTS/);
    assert.match(refused.join('\n'), /aws_client_parameters\.api_version/);
    assert.match(refused.join('\n'), /aws_client_parameters\.config: botocore setting 'signature_version'/);
    assert.match(paths({ use_ssl: false }).join(''), /use_ssl: .*http:\/\//);
  });

  it('numeric strings where pydantic coerces them: Cloud Run and ACI numbers too', () => {
    const run = parseBlock({ type: 'cloud-run-job', timeout: '900', max_retries: '1', poll_interval: '2.5' });
    assert.ok(run.type === 'cloud-run-job');
    assert.deepEqual([run.timeout, run.max_retries, run.poll_interval], [900, 1, 2.5]);
    const aci = parseBlock({
      type: 'container-instance-job',
      subscription_id: 'sub',
      resource_group_name: 'rg',
      cpu: '2',
      memory: '3.5',
      gpu_count: null,
      task_start_timeout_seconds: '300',
    });
    assert.ok(aci.type === 'container-instance-job');
    assert.deepEqual(
      [aci.cpu, aci.memory, aci.gpu_count, aci.task_start_timeout_seconds],
      [2, 3.5, null, 300],
    );
    assert.throws(
      () => parseBlock({ type: 'cloud-run-job', max_retries: '1.5' }),
      (e: unknown) =>
        e instanceof InvalidInputError && e.problems.some((p) => p.path === 'infrastructure.max_retries'),
    );
  });

  it('a nested block by slug resolves from the store; a missing one names the field', async () => {
    const store = {
      async get(slug: string) {
        if (slug === 'aws-credentials/prod') return { type: 'aws-credentials', region_name: 'eu-west-1' };
        const { BlockNotFoundError } = await import('../core/errors.js');
        throw new BlockNotFoundError(slug, 'test store');
      },
    };
    const fields = { aws_credentials: 'aws-credentials' };
    const doc = await resolveNestedBlocks(
      { type: 'ecs-task', aws_credentials: 'aws-credentials/prod' },
      fields,
      store,
      'infrastructure',
    );
    const block = parseBlock(doc);
    assert.ok(block.type === 'ecs-task' && block.aws_credentials.region_name === 'eu-west-1');
    await assert.rejects(
      resolveNestedBlocks(
        { type: 'ecs-task', aws_credentials: 'aws-credentials/gone' },
        fields,
        store,
        'infrastructure',
      ),
      (e: unknown) =>
        e instanceof InvalidInputError && e.problems.some((p) => p.path === 'infrastructure.aws_credentials'),
    );
  });

  it('a nested block slug set by infra_overrides is that block in every step, not the pinned one', async () => {
    const { deps } = await testDeps();
    await deps.blocks.put('ecs-task/prod', {
      type: 'ecs-task',
      image: 'example/etl:1',
      aws_credentials: 'aws-credentials/prod',
    });
    await deps.blocks.put('aws-credentials/prod', { type: 'aws-credentials', region_name: 'eu-west-1' });
    await deps.blocks.put('aws-credentials/other', { type: 'aws-credentials', region_name: 'us-west-2' });
    const accepted = await accept(deps, {
      kind: 'flow-run-event',
      event: {
        flow_run: { id: randomUUID() },
        infrastructure_block: 'ecs-task/prod',
        infra_overrides: { aws_credentials: 'aws-credentials/other' },
      },
    });
    assert.ok(accepted.target.block.type === 'ecs-task');
    assert.equal(accepted.target.block.aws_credentials.region_name, 'us-west-2');
    const loaded = await loadRun(deps, accepted.input.event_ref);
    assert.ok(loaded.block.type === 'ecs-task');
    assert.equal(
      loaded.block.aws_credentials.region_name,
      'us-west-2',
      'Prepare and Submit see the same credentials',
    );
  });

  it('cloud-run-job-v2 previews as a cloud-run-job', async () => {
    const dir = await tempDir();
    await mkdir(dir, { recursive: true });
    const file = join(dir, 'v2.json');
    await writeFile(
      file,
      JSON.stringify({
        type: 'cloud-run-job-v2',
        project: 'p',
        region: 'us-central1',
        cpu: '1000m',
        memory: '512Mi',
      }),
    );
    const out = await submitter(['preview', file]);
    assert.equal(out.code, 0, out.stderr);
    assert.equal(JSON.parse(out.stdout).provider, 'cloud-run-job');
  });
});

describe('a block type alias in a deployment', () => {
  it('runs on the provider it names: cloud-run-job-v2 is enabled where cloud-run-job is, refused where it is not', async () => {
    const { checkEnabled } = await import('../functions/lib/context.js');
    const { parseFlowRunEvent } = await import('../events/schema.js');
    const event = parseFlowRunEvent({
      flow_run: { id: '0b3b3c3e-0000-4000-8000-000000000001' },
      infrastructure_block: 'cloud-run-job-v2/prod',
    });
    const google = await testDeps({ env: { PROVIDER_FUNCTIONS: '{"cloud-run-job":"fn-google"}' } });
    assert.doesNotThrow(() => checkEnabled(google.deps, event));
    const local = await testDeps({ env: { PROVIDER_FUNCTIONS: '{"process":"fn-process"}' } });
    assert.throws(
      () => checkEnabled(local.deps, event),
      (error: unknown) =>
        error instanceof InvalidInputError &&
        error.problems.some(
          (p) => p.path === 'infrastructure_block' && /'cloud-run-job' is not enabled/.test(p.message),
        ),
    );
  });
});
