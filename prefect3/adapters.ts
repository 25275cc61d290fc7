// Work-pool type → its adapter (providers/<block-type>/work-pool.ts). Pure translation modules,
// no provider SDKs: every function may bundle them.
import { InvalidInputError } from '../core/errors.js';
import { shownValue } from '../core/zod-problems.js';
import { workPool as cloudRun } from '../providers/cloud-run-job/work-pool.js';
import { workPool as containerInstance } from '../providers/container-instance-job/work-pool.js';
import { workPool as docker } from '../providers/docker-container/work-pool.js';
import { workPool as ecs } from '../providers/ecs-task/work-pool.js';
import { workPool as kubernetes } from '../providers/kubernetes-job/work-pool.js';
import { workPool as process } from '../providers/process/work-pool.js';
import type { WorkPoolAdapter } from './adapter.js';
import { poolTypeOf } from './work-pool.js';

const ADAPTERS: readonly WorkPoolAdapter[] = [process, ecs, docker, kubernetes, cloudRun, containerInstance];

export function adapterFor(type: string, path: string): WorkPoolAdapter {
  const base = poolTypeOf(type);
  const adapter = ADAPTERS.find((a) => a.poolTypes.includes(base));
  if (adapter) return adapter;
  throw new InvalidInputError('Work-pool type not supported', [
    {
      path: `${path}.type`,
      message: `work pools of type ${shownValue(type)} cannot run here yet (supported: ${ADAPTERS.flatMap((a) => a.poolTypes).join(', ')})`,
    },
  ]);
}
