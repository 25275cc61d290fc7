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
