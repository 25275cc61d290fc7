import type { ProviderSpec } from '../port.js';
import type { DockerContainerBlock } from './block.js';
import { buildDockerRequest, type DockerContainerRequest } from './build.js';

export const dockerContainerSpec: ProviderSpec<DockerContainerBlock, DockerContainerRequest> = {
  type: 'docker-container',
  build: buildDockerRequest,
  // A local engine answers fast: poll every 2 s. Pending covers pulling the image when the
  // pull runs on the engine after submit; 300 s lets a multi-GB image arrive on a slow link.
  watchDefaults: () => ({ pollSeconds: 2, startTimeoutSeconds: 300 }),
};
