// Lambda entry for the Azure Container Instances provider's submit/watch/cleanup: this bundle
// holds only that provider (@azure/arm-containerinstance and @azure/identity: the only function
// that loads the Azure SDK), and refuses a run of any other type (onlyProvider).
import { containerInstanceJobProvider } from '../../providers/container-instance-job/index.js';
import { onlyProvider } from '../../providers/registry.js';
import { createInfrastructureHandler } from '../infrastructure.js';
import { depsFromEnv } from '../lib/deps.js';

export const handler = createInfrastructureHandler(() =>
  depsFromEnv(onlyProvider(containerInstanceJobProvider)),
);
