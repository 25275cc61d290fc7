// Loads a provider's module only when its type is used, so one type's SDK never
// weighs on another's cold start.
import { NotImplementedError } from '../core/errors.js';
import type { BlockType } from './blocks.js';
import type { Provider } from './port.js';

export type ProviderLoader = (type: BlockType) => Promise<Provider>;

function notYet(type: BlockType): () => Promise<Provider> {
  return async () => {
    throw new NotImplementedError(
      `the ${type} provider is not implemented yet: its block validates, but it cannot be previewed or run in this version`,
    );
  };
}

const LOADERS: Record<BlockType, () => Promise<Provider>> = {
  process: async () => (await import('./process/index.js')).processProvider as Provider,
  'docker-container': notYet('docker-container'),
  'kubernetes-job': notYet('kubernetes-job'),
  'ecs-task': notYet('ecs-task'),
  'cloud-run-job': notYet('cloud-run-job'),
  'container-instance-job': notYet('container-instance-job'),
};

export const loadProvider: ProviderLoader = (type) => LOADERS[type]();
