import type { ProviderSpec } from '../port.js';
import type { KubernetesJobBlock } from './block.js';
import { buildKubernetesJob, type KubernetesJobRequest } from './build.js';

export const kubernetesJobSpec: ProviderSpec<KubernetesJobBlock, KubernetesJobRequest> = {
  type: 'kubernetes-job',
  build: buildKubernetesJob,
  // The block has no poll interval (Prefect watches); 5 s is one cheap GET of the Job.
  // Pending ends when the pod leaves Pending: Prefect gives it pod_watch_timeout_seconds.
  watchDefaults: (block) => ({ pollSeconds: 5, startTimeoutSeconds: block.pod_watch_timeout_seconds }),
};
