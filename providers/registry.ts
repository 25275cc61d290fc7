// Loads a provider's module (its SDK calls) only when its type is used. Only the CLI, the
// local runner and tests import this table of every provider; a deployed function imports
// its one provider directly (functions/infra/<type>.ts). Pure halves: specs.ts.
import { NotImplementedError } from '../core/errors.js';
import type { BlockType } from './blocks.js';
import type { Provider } from './port.js';

export type ProviderLoader = (type: BlockType) => Promise<Provider>;

function notYet(type: BlockType): () => Promise<never> {
  return async () => {
    throw new NotImplementedError(
      `the ${type} provider is not implemented yet: its block validates, but it cannot be previewed or run in this version`,
    );
  };
}

const PROVIDERS: Record<BlockType, () => Promise<Provider>> = {
  process: async () => (await import('./process/index.js')).processProvider as Provider,
  'docker-container': notYet('docker-container'),
  'kubernetes-job': notYet('kubernetes-job'),
  'ecs-task': async () => (await import('./ecs-task/index.js')).ecsTaskProvider as Provider,
  'cloud-run-job': notYet('cloud-run-job'),
  'container-instance-job': notYet('container-instance-job'),
};

export const loadProvider: ProviderLoader = (type) => PROVIDERS[type]();

export { loadSpec, type SpecLoader } from './specs.js';
