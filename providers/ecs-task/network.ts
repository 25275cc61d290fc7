// Fills what neither the block nor the deployment gave (build.ts applies both): the VPC's
// subnets and its default security group. Made explicit in the request (and the log),
// never left to ECS's defaults.

import type { AwsVpcConfiguration, RunTaskCommandInput } from '@aws-sdk/client-ecs';
import { ProviderPermanentError } from '../../core/errors.js';
import { awsErrorName, type Ec2Access, type RetryPolicy, withRetry } from './aws.js';

export interface NetworkContext {
  vpcId: string | null;
  /** Called only when something must be looked up (it may load the EC2 SDK, and fail to). */
  ec2: () => Ec2Access;
  retry: RetryPolicy;
  region: string | undefined;
}

const explainNetwork = (error: unknown): string | undefined => {
  const name = awsErrorName(error);
  const text = error instanceof Error ? error.message : String(error);
  if (name.startsWith('InvalidVpcID')) return `${text}: fix 'vpc_id'`;
  if (name.startsWith('InvalidSubnetID') || name.startsWith('InvalidSubnet'))
    return `${text}: fix 'network_configuration.subnets'`;
  return undefined;
};

async function defaultVpc(ec2: Ec2Access, context: NetworkContext): Promise<string> {
  const { DescribeVpcsCommand } = ec2.sdk;
  const out = await withRetry(
    'DescribeVpcs',
    () => ec2.client.send(new DescribeVpcsCommand({ Filters: [{ Name: 'is-default', Values: ['true'] }] })),
    context.retry,
    explainNetwork,
  );
  const id = out.Vpcs?.[0]?.VpcId;
  if (!id) {
    throw new ProviderPermanentError(
      `there is no default VPC in region ${context.region ?? '(unknown)'}: set 'vpc_id' or 'network_configuration.subnets'`,
    );
  }
  return id;
}

async function subnetsOf(ec2: Ec2Access, vpcId: string, context: NetworkContext): Promise<string[]> {
  const { DescribeSubnetsCommand } = ec2.sdk;
  const out = await withRetry(
    'DescribeSubnets',
    () => ec2.client.send(new DescribeSubnetsCommand({ Filters: [{ Name: 'vpc-id', Values: [vpcId] }] })),
    context.retry,
    explainNetwork,
  );
  const ids = (out.Subnets ?? []).map((subnet) => subnet.SubnetId).filter((id): id is string => Boolean(id));
  if (!ids.length) {
    throw new ProviderPermanentError(
      `VPC ${vpcId} has no subnets: give 'network_configuration.subnets' or another 'vpc_id'`,
    );
  }
  return ids.sort();
}

async function vpcOfSubnet(ec2: Ec2Access, subnet: string, context: NetworkContext): Promise<string> {
  const { DescribeSubnetsCommand } = ec2.sdk;
  const out = await withRetry(
    'DescribeSubnets',
    () => ec2.client.send(new DescribeSubnetsCommand({ SubnetIds: [subnet] })),
    context.retry,
    explainNetwork,
  );
  const id = out.Subnets?.[0]?.VpcId;
  if (!id)
    throw new ProviderPermanentError(`subnet ${subnet} was not found: fix 'network_configuration.subnets'`);
  return id;
}

async function defaultSecurityGroup(ec2: Ec2Access, vpcId: string, context: NetworkContext): Promise<string> {
  const { DescribeSecurityGroupsCommand } = ec2.sdk;
  const out = await withRetry(
    'DescribeSecurityGroups',
    () =>
      ec2.client.send(
        new DescribeSecurityGroupsCommand({
          Filters: [
            { Name: 'vpc-id', Values: [vpcId] },
            { Name: 'group-name', Values: ['default'] },
          ],
        }),
      ),
    context.retry,
    explainNetwork,
  );
  const id = out.SecurityGroups?.[0]?.GroupId;
  if (!id) {
    throw new ProviderPermanentError(
      `VPC ${vpcId} has no default security group: give 'network_configuration.securityGroups'`,
    );
  }
  return id;
}

/** The RunTask input with empty subnets / securityGroups filled from the VPC. */
export async function resolveNetwork(
  runTask: RunTaskCommandInput,
  context: NetworkContext,
): Promise<RunTaskCommandInput> {
  const given = runTask.networkConfiguration?.awsvpcConfiguration;
  if (!given) return runTask;
  const needSubnets = !given.subnets?.length;
  const needGroups = !given.securityGroups?.length;
  if (!needSubnets && !needGroups) return runTask;
  const ec2 = context.ec2();
  let vpcId = context.vpcId ?? undefined;
  const resolved: AwsVpcConfiguration = { ...given };
  if (needSubnets) {
    vpcId ??= await defaultVpc(ec2, context);
    resolved.subnets = await subnetsOf(ec2, vpcId, context);
  }
  if (needGroups) {
    vpcId ??= await vpcOfSubnet(ec2, resolved.subnets?.[0] ?? '', context);
    resolved.securityGroups = [await defaultSecurityGroup(ec2, vpcId, context)];
  }
  return {
    ...runTask,
    networkConfiguration: { ...runTask.networkConfiguration, awsvpcConfiguration: resolved },
  };
}
