// Lambda entry for the ECS provider's submit/watch/cleanup: this bundle holds only the ECS provider,
// and refuses a run of any other type (onlyProvider).
// Imported statically: esbuild keeps every export of a package reached through import(), so a
// lazy import here would bundle all of the ECS SDK's commands instead of the few used.
import { ecsTaskProvider } from '../../providers/ecs-task/index.js';
import { onlyProvider } from '../../providers/registry.js';
import { createInfrastructureHandler } from '../infrastructure.js';
import { depsFromEnv } from '../lib/deps.js';

export const handler = createInfrastructureHandler(() => depsFromEnv(onlyProvider(ecsTaskProvider)));
