import type { ProviderSpec } from '../port.js';
import type { CloudRunJobBlock } from './block.js';
import { buildCloudRunRequest, type CloudRunJobRequest } from './build.js';

export const cloudRunJobSpec: ProviderSpec<CloudRunJobBlock, CloudRunJobRequest> = {
  type: 'cloud-run-job',
  build: buildCloudRunRequest,
  // Pending covers the execution's task being scheduled and its image pulled: usually under a
  // minute, minutes for a multi-GB image from another region. Five minutes before Crashed.
  watchDefaults: (block) => ({ pollSeconds: block.poll_interval, startTimeoutSeconds: 300 }),
};
