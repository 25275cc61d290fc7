// Lambda entry for the Kubernetes provider's submit/watch/cleanup: this bundle holds only the
// Kubernetes provider (its own client over node:https), and refuses a run of any other type.
import { kubernetesJobProvider } from '../../providers/kubernetes-job/index.js';
import { onlyProvider } from '../../providers/registry.js';
import { createInfrastructureHandler } from '../infrastructure.js';
import { depsFromEnv } from '../lib/deps.js';

export const handler = createInfrastructureHandler(() => depsFromEnv(onlyProvider(kubernetesJobProvider)));
