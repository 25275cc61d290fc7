// The provider manifests (providers/<type>/manifest.ts, registered in providers/manifests.ts):
// each table keyed by type reads them, and a block of one type never reaches another type's
// provider or spec: the loaders check what they loaded.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { NotImplementedError } from '../core/errors.js';
import { PROVIDER_EXTERNALS, providerFunction } from '../infra-cdk/bundling.js';
import { BLOCK_SCHEMAS, BLOCK_TYPES } from '../providers/blocks.js';
import { ProviderTypeMismatchError } from '../providers/manifest.js';
import { MANIFESTS } from '../providers/manifests.js';
import { applyOverrides } from '../providers/overrides.js';
import { processProvider } from '../providers/process/index.js';
import { processSpec } from '../providers/process/spec.js';
import {
  checkedProviderLoader,
  loadProvider,
  onlyProvider,
  type ProviderLoaders,
} from '../providers/registry.js';
import { checkedSpecLoader, loadSpec, type SpecLoaders } from '../providers/specs.js';
import { ROOT } from './helpers.js';

const DEPLOYABLE = [
  'process',
  'ecs-task',
  'docker-container',
  'kubernetes-job',
  'cloud-run-job',
  'container-instance-job',
];

describe('provider manifests', () => {
  it('registers each manifest under its own type, with its block schema', () => {
    assert.deepEqual(BLOCK_TYPES, Object.keys(MANIFESTS));
    for (const type of BLOCK_TYPES) {
      const manifest = MANIFESTS[type];
      assert.equal(manifest.type, type);
      assert.equal(BLOCK_SCHEMAS[type], manifest.schema, type);
      const typeField = manifest.schema.shape.type;
      assert.equal(typeField?.safeParse(type).success, true, type);
      assert.equal(typeField?.safeParse('another-type').success, false, type);
    }
  });

  it('names only fields its block has as name maps', () => {
    for (const type of BLOCK_TYPES) {
      const { nameMaps, schema } = MANIFESTS[type];
      for (const field of nameMaps) assert.ok(Object.hasOwn(schema.shape, field), `${type}.${field}`);
    }
  });

  it("gives each provider function its manifest's entry and externals; entries exist for the deployable types", () => {
    for (const type of BLOCK_TYPES) {
      const { entry, externals } = MANIFESTS[type].bundle;
      const spec = providerFunction(type);
      assert.equal(spec.entry, entry);
      assert.deepEqual(spec.external ?? [], externals);
      assert.deepEqual(PROVIDER_EXTERNALS[type] ?? [], externals);
      assert.equal(existsSync(join(ROOT, entry)), DEPLOYABLE.includes(type), entry);
    }
  });

  it('keeps dots in the keys of the block type’s own name maps only', () => {
    const ecs = applyOverrides({ type: 'ecs-task' }, { 'secrets.A.B': 'arn:aws:ssm:x', 'cpu.x': 1 }).block;
    assert.deepEqual(ecs.secrets, { 'A.B': 'arn:aws:ssm:x' });
    assert.deepEqual(ecs.cpu, { x: 1 });
    // Cloud Run has no `secrets` map (its is env_from_secrets): the dot key is a path there
    const cloudRun = applyOverrides(
      { type: 'cloud-run-job' },
      { 'secrets.A.B': 'x', 'env_from_secrets.A.B': { secret: 's' } },
    ).block;
    assert.deepEqual(cloudRun.secrets, { A: { B: 'x' } });
    assert.deepEqual(cloudRun.env_from_secrets, { 'A.B': { secret: 's' } });
  });
});

describe('provider and spec loaders', () => {
  it('load the spec of exactly the requested type, for every type', async () => {
    for (const type of BLOCK_TYPES) assert.equal((await loadSpec(type)).type, type);
  });

  it('load the provider of exactly the requested type, or say it is not implemented yet', async () => {
    for (const type of BLOCK_TYPES) {
      if (DEPLOYABLE.includes(type)) {
        const provider = await loadProvider(type);
        assert.equal(provider.type, type);
        assert.equal(typeof provider.submit, 'function');
      } else {
        await assert.rejects(loadProvider(type), (error) => error instanceof NotImplementedError);
      }
    }
  });

  it('refuse a loaded provider or spec of another type, by name (the types rule it out; this is the run-time check)', async () => {
    const wrongProviders = { 'ecs-task': async () => processProvider } as unknown as ProviderLoaders;
    await assert.rejects(
      checkedProviderLoader(wrongProviders)('ecs-task'),
      (error) =>
        error instanceof ProviderTypeMismatchError &&
        error.requested === 'ecs-task' &&
        error.loaded === 'process' &&
        /providers\/ecs-task\/manifest\.ts/.test(error.message),
    );
    const wrongSpecs = { 'docker-container': async () => processSpec } as unknown as SpecLoaders;
    await assert.rejects(
      checkedSpecLoader(wrongSpecs)('docker-container'),
      (error) => error instanceof ProviderTypeMismatchError && /docker-container spec/.test(error.message),
    );
  });

  it("a function's one provider refuses runs of any other type", async () => {
    const loader = onlyProvider(processProvider);
    assert.equal(await loader('process'), processProvider);
    await assert.rejects(loader('ecs-task'), ProviderTypeMismatchError);
  });
});
