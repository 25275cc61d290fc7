// Lambda entry for the process provider's submit/watch/cleanup (local use; not deployed by default).
import { createInfrastructureHandler } from '../infrastructure.js';
import { depsFromEnv } from '../lib/deps.js';

export const handler = createInfrastructureHandler(() =>
  depsFromEnv(async () => (await import('../../providers/process/index.js')).processProvider),
);
