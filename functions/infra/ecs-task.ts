// Lambda entry for the ECS provider's submit/watch/cleanup: this bundle holds only the ECS provider.
import { createInfrastructureHandler } from '../infrastructure.js';
import { depsFromEnv } from '../lib/deps.js';

export const handler = createInfrastructureHandler(() =>
  depsFromEnv(async () => (await import('../../providers/ecs-task/index.js')).ecsTaskProvider),
);
