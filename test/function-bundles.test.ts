// What each deployed function's bundle holds, built with the CDK app's esbuild settings: the
// manifests reach every function (schemas, spec loaders), but their provider loaders import
// index.ts out of esbuild's sight, so Prepare, Trigger and Report hold no provider and no
// provider SDK, and a provider function holds only its own provider.
import assert from 'node:assert/strict';
import { join, relative } from 'node:path';
import { before, describe, it } from 'node:test';
import { build } from 'esbuild';
import { familyOf, packageOf } from '../bench/lib/packages.js';
import { esbuildOptions, FUNCTIONS, type FunctionSpec, providerFunction } from '../infra-cdk/bundling.js';
import { ROOT, tempDir } from './helpers.js';

const SPECS: Record<string, FunctionSpec> = {
  ...FUNCTIONS,
  'infra-process': providerFunction('process'),
  'infra-ecs-task': providerFunction('ecs-task'),
};
const inputs = new Map<string, string[]>();

before(async () => {
  const dir = await tempDir('submitter-bundles-');
  await Promise.all(
    Object.entries(SPECS).map(async ([name, spec]) => {
      const file = join(dir, `${name}.mjs`);
      const { metafile } = await build(esbuildOptions(ROOT, spec, file));
      const output = metafile.outputs[relative(ROOT, file).replace(/\\/g, '/')];
      inputs.set(
        name,
        Object.entries(output?.inputs ?? {})
          .filter(([, input]) => input.bytesInOutput > 0)
          .map(([path]) => path),
      );
    }),
  );
});

const providerModules = (name: string) =>
  (inputs.get(name) ?? []).filter((path) => /^providers\/[^/]+\/index\.ts$/.test(path));
const providerSdks = (name: string) => [
  ...new Set(
    (inputs.get(name) ?? []).flatMap((path) => {
      const family = familyOf(packageOf(path) ?? '');
      return family && family !== 'aws-platform' ? [family] : [];
    }),
  ),
];

describe('function bundles', () => {
  it('Prepare, Trigger and Report hold the manifests, but no provider and no provider SDK', () => {
    for (const name of Object.keys(FUNCTIONS)) {
      assert.ok(inputs.get(name)?.includes('providers/manifests.ts'), `${name} reads the manifests`);
      assert.deepEqual(providerModules(name), [], name);
      assert.deepEqual(providerSdks(name), [], name);
    }
  });

  it('a provider function holds its own provider only', () => {
    assert.deepEqual(providerModules('infra-ecs-task'), ['providers/ecs-task/index.ts']);
    assert.deepEqual(providerSdks('infra-ecs-task'), ['aws-ecs']);
    assert.deepEqual(providerModules('infra-process'), ['providers/process/index.ts']);
    assert.deepEqual(providerSdks('infra-process'), []);
  });

  it('no deployed function holds the Prefect profile reader or its TOML parser (a function has only its environment)', () => {
    for (const [name, paths] of inputs) {
      assert.ok(paths.length > 0, name);
      assert.deepEqual(
        paths.filter((path) => path.includes('smol-toml') || path.endsWith('prefect/profiles.ts')),
        [],
        name,
      );
    }
  });

  it('only the trigger renders Prefect 3 work pools: templates and adapters are in no other function', () => {
    const rendering = (name: string) =>
      (inputs.get(name) ?? []).filter(
        (path) =>
          path.startsWith('prefect3/templates/') ||
          path.endsWith('/work-pool.ts') ||
          path === 'prefect3/render.ts',
      );
    assert.ok(
      rendering('trigger').includes('prefect3/templates/ecs.json'),
      'the trigger renders and pins pools',
    );
    assert.ok(rendering('trigger').includes('providers/ecs-task/work-pool.ts'));
    for (const name of ['prepare', 'report', 'infra-process', 'infra-ecs-task']) {
      assert.deepEqual(rendering(name), [], `${name} reads the pinned block`);
    }
  });
});
