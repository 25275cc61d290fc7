import type { ProviderSpec } from '../port.js';
import type { ProcessBlock } from './block.js';
import { buildProcessRequest, type ProcessRequest } from './build.js';

export const processSpec: ProviderSpec<ProcessBlock, ProcessRequest> = {
  type: 'process',
  build: buildProcessRequest,
  watchDefaults: () => ({ pollSeconds: 1, startTimeoutSeconds: 30 }),
};
