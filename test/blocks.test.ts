import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { InvalidInputError } from '../core/errors.js';
import { DEFAULT_COMMAND, DEFAULT_PREFECT_IMAGE } from '../providers/base.js';
import { BLOCK_TYPES, type Block, parseBlock } from '../providers/blocks.js';

function fails(doc: unknown, path: string, message: RegExp): void {
  assert.throws(
    () => parseBlock(doc),
    (error: unknown) => {
      assert.ok(error instanceof InvalidInputError, `expected InvalidInputError, got ${String(error)}`);
      const hit = error.problems.find((p) => p.path === path);
      assert.ok(hit, `no problem at ${path}: ${JSON.stringify(error.problems)}`);
      assert.match(hit.message, message);
      return true;
    },
  );
}

const MINIMAL: Record<string, Record<string, unknown>> = {
  process: { type: 'process' },
  'docker-container': { type: 'docker-container' },
  'kubernetes-job': { type: 'kubernetes-job' },
  'ecs-task': { type: 'ecs-task' },
  'cloud-run-job': { type: 'cloud-run-job' },
  'container-instance-job': {
    type: 'container-instance-job',
    subscription_id: 'sub',
    resource_group_name: 'rg',
  },
};

describe('block schemas', () => {
  it('covers the six Prefect infrastructure types', () => {
    assert.deepEqual([...BLOCK_TYPES].sort(), Object.keys(MINIMAL).sort());
  });

  for (const type of BLOCK_TYPES) {
    it(`${type}: shared base defaults, and unknown fields are refused with a hint`, () => {
      const block: Block = parseBlock(MINIMAL[type]);
      assert.deepEqual(block.command, DEFAULT_COMMAND);
      assert.deepEqual(block.env, {});
      assert.deepEqual(block.labels, {});
      assert.equal(block.name, null);
      fails({ ...MINIMAL[type], nmae: 'x' }, 'infrastructure.nmae', /did you mean 'name'/);
    });
  }

  it('process: stream_output true, no working dir', () => {
    const block = parseBlock({ type: 'process' });
    assert.ok(block.type === 'process');
    assert.equal(block.stream_output, true);
    assert.equal(block.working_dir, null);
  });

  it('docker-container: Prefect defaults; volumes and network settings are checked', () => {
    const block = parseBlock({ type: 'docker-container' });
    assert.ok(block.type === 'docker-container');
    assert.equal(block.image, DEFAULT_PREFECT_IMAGE);
    assert.equal(block.image_pull_policy, null);
    assert.equal(block.auto_remove, false);
    assert.equal(block.privileged, false);
    assert.deepEqual(block.volumes, []);
    fails(
      { type: 'docker-container', volumes: ['/data'] },
      'infrastructure.volumes[0]',
      /local_path:container_path/,
    );
    fails(
      { type: 'docker-container', networks: ['a'], network_mode: 'host' },
      'infrastructure.network_mode',
      /one or the other/,
    );
    fails(
      { type: 'docker-container', image_pull_policy: 'SOMETIMES' },
      'infrastructure.image_pull_policy',
      /ALWAYS/,
    );
  });

  it('kubernetes-job: namespace and image unset (build falls back to the base job, then the defaults), Prefect base job manifest, watch timeouts', () => {
    const block = parseBlock({ type: 'kubernetes-job' });
    assert.ok(block.type === 'kubernetes-job');
    assert.equal(block.namespace, null);
    assert.equal(block.image, null);
    assert.equal(block.pod_watch_timeout_seconds, 60);
    assert.equal(block.job_watch_timeout_seconds, null);
    assert.equal(block.finished_job_ttl, null);
    assert.deepEqual(block.customizations, []);
    assert.equal((block.job as { kind: string }).kind, 'Job');
    fails(
      { type: 'kubernetes-job', customizations: [{ op: 'merge', path: '/x' }] },
      'infrastructure.customizations[0].op',
      /add/,
    );
    fails(
      { type: 'kubernetes-job', customizations: '{not json' },
      'infrastructure.customizations',
      /RFC 6902/,
    );
  });

  it('ecs-task: anchors defaults; cloudwatch logs need an execution role', () => {
    const block = parseBlock({ type: 'ecs-task' });
    assert.ok(block.type === 'ecs-task');
    assert.equal(block.cpu, 1024);
    assert.equal(block.memory, 2048);
    assert.equal(block.launch_type, 'FARGATE');
    assert.equal(block.container_name, 'prefect');
    assert.equal(block.task_start_timeout_seconds, 120);
    assert.equal(block.task_watch_poll_interval, 5);
    fails(
      { type: 'ecs-task', configure_cloudwatch_logs: true },
      'infrastructure.execution_role_arn',
      /execution_role_arn must be provided/,
    );
    fails({ type: 'ecs-task', launch_type: 'LAMBDA' }, 'infrastructure.launch_type', /FARGATE/);
    fails({ type: 'ecs-task', task_role_arn: 'my-role' }, 'infrastructure.task_role_arn', /ARN/);
  });

  it('cloud-run-job: v2 defaults; timeout capped at 7 days', () => {
    const block = parseBlock({ type: 'cloud-run-job' });
    assert.ok(block.type === 'cloud-run-job');
    assert.equal(block.region, 'us-central1');
    assert.equal(block.cpu, '1000m');
    assert.equal(block.memory, '512Mi');
    assert.equal(block.timeout, 600);
    assert.equal(block.max_retries, 3, "prefect-gcp's default");
    assert.equal(block.keep_job, false);
    assert.equal(block.launch_stage, 'BETA');
    fails({ type: 'cloud-run-job', timeout: 700_000 }, 'infrastructure.timeout', /7 days/);
  });

  it('container-instance-job: defaults; subscription and resource group are required', () => {
    const block = parseBlock(MINIMAL['container-instance-job']);
    assert.ok(block.type === 'container-instance-job');
    assert.equal(block.cpu, 1);
    assert.equal(block.memory, 1);
    assert.equal(block.task_start_timeout_seconds, 240);
    assert.equal(block.keep_container_group, false);
    fails(
      { type: 'container-instance-job', resource_group_name: 'rg' },
      'infrastructure.subscription_id',
      /required/,
    );
  });

  it('accepts the fields Prefect writes into saved block documents, and coerces env values to strings', () => {
    const block = parseBlock({
      type: 'process',
      block_type_slug: 'process',
      _block_type_slug: 'process',
      _block_document_name: 'anonymous-x',
      _block_document_id: 'abc',
      _is_anonymous: true,
      env: { COUNT: 3, DEBUG: true, UNSET_ME: null },
    });
    assert.deepEqual(block.env, { COUNT: '3', DEBUG: 'true', UNSET_ME: null });
  });

  it('names an unknown type and lists the known ones', () => {
    fails({ type: 'lambda' }, 'infrastructure.type', /expected one of process, docker-container/);
  });
});
