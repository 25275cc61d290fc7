import type { ProviderSpec } from '../port.js';
import type { ContainerInstanceJobBlock } from './block.js';
import { buildContainerInstanceRequest, type ContainerInstanceRequest } from './build.js';

export const containerInstanceJobSpec: ProviderSpec<ContainerInstanceJobBlock, ContainerInstanceRequest> = {
  type: 'container-instance-job',
  build: buildContainerInstanceRequest,
  watchDefaults: (block) => ({
    pollSeconds: block.task_watch_poll_interval,
    startTimeoutSeconds: block.task_start_timeout_seconds,
  }),
};
