// Lambda entry for the process provider's submit/watch/cleanup (local use; not deployed by default).
// It refuses a run of any other type (onlyProvider).
import { onlyProvider } from '../../providers/registry.js';
import { createInfrastructureHandler } from '../infrastructure.js';
import { depsFromEnv } from '../lib/deps.js';

export const handler = createInfrastructureHandler(() =>
  depsFromEnv(async (type) =>
    onlyProvider((await import('../../providers/process/index.js')).processProvider)(type),
  ),
);
