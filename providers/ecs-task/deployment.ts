// What a deployment decides for the blocks that leave it open: the ECS function's
// environment (the CDK app sets it from `ecs.cluster`, `ecs.subnetIds`, `ecs.securityGroupIds`).
// Precedence, field by field: the block > these defaults > a lookup at submit (default cluster,
// default VPC). Read wherever the provider runs, so the CLI honours them when they are exported;
// read only when the block leaves the field open (reading process.env is not free).

export const DEPLOYMENT_ENV = {
  cluster: 'ECS_CLUSTER',
  subnets: 'ECS_SUBNETS',
  securityGroups: 'ECS_SECURITY_GROUPS',
} as const;

/** Cluster name or ARN for blocks that name none. */
export function deploymentCluster(env: NodeJS.ProcessEnv): string | undefined {
  return env[DEPLOYMENT_ENV.cluster]?.trim() || undefined;
}

export interface DeploymentNetwork {
  /** Subnets for awsvpc tasks whose block names no subnets and no VPC. */
  subnets: readonly string[];
  /** Security groups for awsvpc tasks whose block names no subnets, no VPC and no groups. */
  securityGroups: readonly string[];
}

const NO_IDS: readonly string[] = Object.freeze([]);
const NO_NETWORK: DeploymentNetwork = Object.freeze({ subnets: NO_IDS, securityGroups: NO_IDS });

/** `"subnet-a, subnet-b"` → `["subnet-a", "subnet-b"]` */
function idList(text: string | undefined): readonly string[] {
  if (!text) return NO_IDS;
  return Object.freeze(
    text
      .split(',')
      .map((id) => id.trim())
      .filter(Boolean),
  );
}

let last: { subnets: string | undefined; groups: string | undefined; network: DeploymentNetwork } | undefined;

/** The network in `env` (frozen; parsed again only when the variables change). */
export function deploymentNetwork(env: NodeJS.ProcessEnv): DeploymentNetwork {
  const subnets = env[DEPLOYMENT_ENV.subnets];
  const groups = env[DEPLOYMENT_ENV.securityGroups];
  if (!subnets && !groups) return NO_NETWORK;
  if (last && last.subnets === subnets && last.groups === groups) return last.network;
  const network = Object.freeze({ subnets: idList(subnets), securityGroups: idList(groups) });
  last = { subnets, groups, network };
  return network;
}
