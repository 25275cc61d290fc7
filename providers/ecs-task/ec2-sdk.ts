// The EC2 SDK, for the default-network lookups only. The deployed ECS function does not
// bundle it (1.2 MB, for a lookup the deployment's ECS_SUBNETS / ECS_SECURITY_GROUPS make
// unnecessary): there it comes from the Lambda runtime's own AWS SDK, locally from node_modules.
// Loaded with require(), which searches NODE_PATH (Lambda: /var/runtime/node_modules); an ESM
// import() of a bare name would not.
import { createRequire } from 'node:module';
import { ProviderPermanentError } from '../../core/errors.js';

export const EC2_SDK_PACKAGE = '@aws-sdk/client-ec2';

/** What the lookups use of the EC2 SDK. */
export type Ec2Sdk = Pick<
  typeof import('@aws-sdk/client-ec2'),
  'EC2Client' | 'DescribeVpcsCommand' | 'DescribeSubnetsCommand' | 'DescribeSecurityGroupsCommand'
>;

export type Ec2SdkLoader = () => Ec2Sdk;

export const requireEc2Sdk: Ec2SdkLoader = () => createRequire(import.meta.url)(EC2_SDK_PACKAGE) as Ec2Sdk;

/** The SDK from `load`, or a permanent error that says how to do without it. */
export function loadEc2Sdk(load: Ec2SdkLoader = requireEc2Sdk): Ec2Sdk {
  try {
    return load();
  } catch (error) {
    const why = error instanceof Error ? (error.message.split('\n')[0] ?? error.message) : String(error);
    throw new ProviderPermanentError(
      `the task's subnets / security group would have to be looked up in EC2, but ${EC2_SDK_PACKAGE} cannot be loaded here (${why}): ` +
        "give 'network_configuration.subnets' and 'network_configuration.securityGroups' in the block, " +
        'or deploy the submitter with ecs.subnetIds and ecs.securityGroupIds in its config (the ECS function then gets ECS_SUBNETS / ECS_SECURITY_GROUPS)',
      { cause: error },
    );
  }
}
