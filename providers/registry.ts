// Loads a provider's module only when its type is used, so one type's SDK never weighs
// on another's cold start. Specs (pure: build + defaults) and providers (I/O) load apart.
import { NotImplementedError } from '../core/errors.js';
import type { BlockType } from './blocks.js';
import type { Provider, ProviderSpec } from './port.js';

export type ProviderLoader = (type: BlockType) => Promise<Provider>;
export type SpecLoader = (type: BlockType) => Promise<ProviderSpec>;

function notYet(type: BlockType): () => Promise<never> {
  return async () => {
    throw new NotImplementedError(
      `the ${type} provider is not implemented yet: its block validates, but it cannot be previewed or run in this version`,
    );
  };
}

const SPECS: Record<BlockType, () => Promise<ProviderSpec>> = {
  process: async () => (await import('./process/spec.js')).processSpec as ProviderSpec,
  'docker-container': async () =>
    (await import('./docker-container/spec.js')).dockerContainerSpec as ProviderSpec,
  'kubernetes-job': async () => (await import('./kubernetes-job/spec.js')).kubernetesJobSpec as ProviderSpec,
  'ecs-task': async () => (await import('./ecs-task/spec.js')).ecsTaskSpec as ProviderSpec,
  'cloud-run-job': async () => (await import('./cloud-run-job/spec.js')).cloudRunJobSpec as ProviderSpec,
  'container-instance-job': async () =>
    (await import('./container-instance-job/spec.js')).containerInstanceJobSpec as ProviderSpec,
};

const PROVIDERS: Record<BlockType, () => Promise<Provider>> = {
  process: async () => (await import('./process/index.js')).processProvider as Provider,
  'docker-container': notYet('docker-container'),
  'kubernetes-job': notYet('kubernetes-job'),
  'ecs-task': async () => (await import('./ecs-task/index.js')).ecsTaskProvider as Provider,
  'cloud-run-job': notYet('cloud-run-job'),
  'container-instance-job': notYet('container-instance-job'),
};

export const loadSpec: SpecLoader = (type) => SPECS[type]();
export const loadProvider: ProviderLoader = (type) => PROVIDERS[type]();
