// Lambda entry for the Docker provider's submit/watch/cleanup: this bundle holds only the
// Docker provider (the Engine API over node:http/https, no SDK), and refuses a run of any
// other type (onlyProvider).
import { dockerContainerProvider } from '../../providers/docker-container/index.js';
import { onlyProvider } from '../../providers/registry.js';
import { createInfrastructureHandler } from '../infrastructure.js';
import { depsFromEnv } from '../lib/deps.js';

export const handler = createInfrastructureHandler(() => depsFromEnv(onlyProvider(dockerContainerProvider)));
