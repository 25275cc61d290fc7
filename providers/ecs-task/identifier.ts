// The identifier of a started task: `cluster::taskArn` (ARNs hold single colons, never two).
import { ProviderPermanentError } from '../../core/errors.js';

const SEPARATOR = '::';
export const DEFAULT_CLUSTER = 'default';

export interface TaskRef {
  /** Cluster name or ARN, as the block gave it (`default` when it gave none). */
  cluster: string;
  taskArn: string;
}

export function formatIdentifier(ref: TaskRef): string {
  return `${ref.cluster}${SEPARATOR}${ref.taskArn}`;
}

export function parseIdentifier(identifier: string): TaskRef {
  const at = identifier.lastIndexOf(SEPARATOR);
  const cluster = at > 0 ? identifier.slice(0, at) : '';
  const taskArn = at > 0 ? identifier.slice(at + SEPARATOR.length) : '';
  if (!cluster || !/^arn:aws[a-z-]*:ecs:[^:]*:[^:]*:task\/.+/.test(taskArn)) {
    throw new ProviderPermanentError(
      `'${identifier}' is not an ECS task identifier: expected 'cluster::arn:aws:ecs:region:account:task/…'`,
    );
  }
  return { cluster, taskArn };
}

/** `arn:aws:ecs:us-east-1:123:task/cluster/abc` → `abc` */
export function taskId(taskArn: string): string {
  return taskArn.split('/').at(-1) ?? taskArn;
}

/** Region from a task ARN, for console links. */
export function regionOf(arn: string): string | undefined {
  return arn.split(':')[3] || undefined;
}

/** `arn:…:cluster/name` or `name` → `name` */
export function clusterName(cluster: string): string {
  return cluster.startsWith('arn:') ? (cluster.split('/').at(-1) ?? cluster) : cluster;
}
