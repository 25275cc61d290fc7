import type { ProviderSpec } from '../port.js';
import type { EcsTaskBlock } from './block.js';
import { buildEcsRequest, type EcsRequest } from './build.js';

export const ecsTaskSpec: ProviderSpec<EcsTaskBlock, EcsRequest> = {
  type: 'ecs-task',
  build: (target) => buildEcsRequest(target),
  watchDefaults: (block) => ({
    pollSeconds: block.task_watch_poll_interval,
    startTimeoutSeconds: block.task_start_timeout_seconds,
  }),
};
