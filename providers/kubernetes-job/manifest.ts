// The Kubernetes provider: a Job on a cluster. Its I/O half has not landed yet.
import { BASE_NAME_MAPS, notImplementedYet, type ProviderManifest } from '../manifest.js';
import { type KubernetesJobBlock, KubernetesJobBlockSchema } from './block.js';

export const kubernetesJobManifest: ProviderManifest<'kubernetes-job', KubernetesJobBlock> = {
  type: 'kubernetes-job',
  schema: KubernetesJobBlockSchema,
  loadSpec: async () => (await import('./spec.js')).kubernetesJobSpec,
  loadProvider: () => notImplementedYet('kubernetes-job'),
  nameMaps: BASE_NAME_MAPS,
  bundle: { entry: 'functions/infra/kubernetes-job.ts', externals: [] },
  environment: () => ({}),
  statements: () => [],
};
