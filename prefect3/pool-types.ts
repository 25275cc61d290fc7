// Which block type each Prefect 3 work-pool type runs on. Small on purpose: every function reads
// it (which providers are enabled), while the templates and adapters that render a pool are
// bundled only where pools are rendered (the trigger and the CLI; prefect3/pool-target.ts).
import type { BlockType } from '../providers/blocks.js';

export const POOL_BLOCK_TYPES: Readonly<Record<string, BlockType>> = {
  process: 'process',
  ecs: 'ecs-task',
  docker: 'docker-container',
  kubernetes: 'kubernetes-job',
  'cloud-run': 'cloud-run-job',
  'cloud-run-v2': 'cloud-run-job',
  'azure-container-instance': 'container-instance-job',
};

/**
 * The work-pool type the submitter runs it as: a push pool (`ecs:push`, `cloud-run-v2:push`) is
 * the same infrastructure without a worker, which is what the submitter is.
 */
export function poolTypeOf(type: string): string {
  return type.endsWith(':push') ? type.slice(0, -':push'.length) : type;
}

/** The block type a work-pool type runs on, or undefined for a type the submitter does not run. */
export function blockTypeOfPool(type: string): BlockType | undefined {
  const base = poolTypeOf(type);
  return Object.hasOwn(POOL_BLOCK_TYPES, base) ? POOL_BLOCK_TYPES[base] : undefined;
}
