import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { InvalidInputError } from '../core/errors.js';
import { parseBlock } from '../providers/blocks.js';
import { applyOverrides, expandDotKeys } from '../providers/overrides.js';

describe('infra_overrides', () => {
  it('expands dot keys into nested fields; map fields keep dots in their keys', () => {
    assert.deepEqual(
      expandDotKeys({
        'env.EXTRA_PIP_PACKAGES': 's3fs',
        'network_configuration.assignPublicIp': 'DISABLED',
        'labels.prefect.io/team': 'data',
        cpu: 2048,
      }),
      {
        env: { EXTRA_PIP_PACKAGES: 's3fs' },
        network_configuration: { assignPublicIp: 'DISABLED' },
        labels: { 'prefect.io/team': 'data' },
        cpu: 2048,
      },
    );
  });

  it('merges env key by key (dot keys and nested dicts alike) and removes keys set to null', () => {
    const block = { type: 'process', env: { KEEP: '1', REPLACE: 'old', DROP: 'x' } };
    const { block: merged, touched } = applyOverrides(block, {
      'env.REPLACE': 'new',
      env: { ADDED: 'yes', DROP: null },
    });
    assert.deepEqual(merged.env, { KEEP: '1', REPLACE: 'new', ADDED: 'yes' });
    assert.deepEqual([...touched], ['env']);
    assert.deepEqual(block.env, { KEEP: '1', REPLACE: 'old', DROP: 'x' }, 'the block itself is not modified');
  });

  it('replaces lists and scalars, merges nested objects, and null returns a field to its default', () => {
    const block = {
      type: 'ecs-task',
      cpu: 512,
      command: ['a'],
      network_configuration: { subnets: ['s-1'], assignPublicIp: 'ENABLED' },
    };
    const { block: merged } = applyOverrides(block, {
      cpu: 2048,
      command: ['python', 'flow.py'],
      'network_configuration.subnets': ['s-2', 's-3'],
      memory: null,
    });
    const parsed = parseBlock(merged);
    assert.equal(parsed.type, 'ecs-task');
    if (parsed.type !== 'ecs-task') return;
    assert.equal(parsed.cpu, 2048);
    assert.equal(parsed.memory, 2048, 'default');
    assert.deepEqual(parsed.command, ['python', 'flow.py']);
    assert.deepEqual(parsed.network_configuration, { subnets: ['s-2', 's-3'], assignPublicIp: 'ENABLED' });
  });

  it('accepts customizations as a list or as a JSON string', () => {
    const patch = [{ op: 'add', path: '/spec/backoffLimit', value: 0 }];
    for (const customizations of [patch, JSON.stringify(patch)]) {
      const { block } = applyOverrides({ type: 'kubernetes-job' }, { customizations });
      const parsed = parseBlock(block);
      assert.ok(parsed.type === 'kubernetes-job' && parsed.customizations[0]?.path === '/spec/backoffLimit');
    }
  });

  it('is validated again: a bad overridden value names the field and says it came from the overrides', () => {
    const { block, touched } = applyOverrides(
      { type: 'process' },
      { command: 'python flow.py', stream_outptu: false },
    );
    assert.throws(
      () => parseBlock(block, { overridden: touched }),
      (error: unknown) =>
        error instanceof InvalidInputError &&
        error.problems.some(
          (p) => p.path === 'infrastructure.command' && /set by infra_overrides/.test(p.message),
        ) &&
        error.problems.some(
          (p) => p.path === 'infrastructure.stream_outptu' && /did you mean 'stream_output'/.test(p.message),
        ),
    );
  });

  it('refuses to change the infrastructure type and empty dot segments', () => {
    assert.throws(
      () => applyOverrides({ type: 'process' }, { type: 'ecs-task' }),
      /cannot change the infrastructure type/,
    );
    assert.throws(() => applyOverrides({ type: 'process' }, { 'env.': 'x' }), /empty segment/);
  });
});
