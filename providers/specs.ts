// Loads a type's pure half (build + watch defaults) only when that type is used. Kept apart
// from the provider loader (registry.ts): a bundle that imports this module never holds
// any provider's SDK, because it names no provider module.
import type { BlockType } from './blocks.js';
import type { ProviderSpec } from './port.js';

export type SpecLoader = (type: BlockType) => Promise<ProviderSpec>;

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

export const loadSpec: SpecLoader = (type) => SPECS[type]();
