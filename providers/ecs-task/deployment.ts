// What a deployment decides for the blocks that leave it open: the ECS function's
// environment (the CDK app sets it from `ecs.cluster`, `ecs.subnetIds`, `ecs.securityGroupIds`).
// Precedence, field by field: the block > these defaults > a lookup at submit (default cluster,
// default VPC). Read wherever the provider runs, so the CLI honours them when they are exported.

export const DEPLOYMENT_ENV = {
  cluster: 'ECS_CLUSTER',
  subnets: 'ECS_SUBNETS',
  securityGroups: 'ECS_SECURITY_GROUPS',
} as const;

export interface DeploymentDefaults {
  /** Cluster name or ARN for blocks that name none. */
  cluster: string | undefined;
  /** Subnets for awsvpc tasks whose block names no subnets and no VPC. */
  subnets: readonly string[];
  /** Security groups for awsvpc tasks whose block names no subnets, no VPC and no groups. */
  securityGroups: readonly string[];
}

const NONE: DeploymentDefaults = Object.freeze({
  cluster: undefined,
  subnets: Object.freeze([]),
  securityGroups: Object.freeze([]),
});

/** `"subnet-a, subnet-b"` → `["subnet-a", "subnet-b"]` */
function idList(text: string | undefined): readonly string[] {
  if (!text) return NONE.subnets;
  return Object.freeze(
    text
      .split(',')
      .map((id) => id.trim())
      .filter(Boolean),
  );
}

let last: { key: string; defaults: DeploymentDefaults } | undefined;

/** The defaults in `env` (frozen; parsed again only when the variables change). */
export function deploymentDefaults(env: NodeJS.ProcessEnv): DeploymentDefaults {
  const cluster = env[DEPLOYMENT_ENV.cluster];
  const subnets = env[DEPLOYMENT_ENV.subnets];
  const securityGroups = env[DEPLOYMENT_ENV.securityGroups];
  if (!cluster && !subnets && !securityGroups) return NONE;
  const key = `${cluster ?? ''}\n${subnets ?? ''}\n${securityGroups ?? ''}`;
  if (last?.key !== key) {
    last = {
      key,
      defaults: Object.freeze({
        cluster: cluster?.trim() || undefined,
        subnets: idList(subnets),
        securityGroups: idList(securityGroups),
      }),
    };
  }
  return last.defaults;
}
