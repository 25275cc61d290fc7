// Which SDK family a bundled file belongs to, from its path in the esbuild metafile.
import type { BlockType } from '../../providers/blocks.js';

export type Family = 'aws-ecs' | 'aws-platform' | 'google' | 'azure' | 'kubernetes' | 'docker';

/** The provider SDKs: a provider function may hold its own family and no other. */
export const PROVIDER_FAMILY: Record<BlockType, Family | undefined> = {
  'ecs-task': 'aws-ecs',
  'cloud-run-job': 'google',
  'container-instance-job': 'azure',
  'kubernetes-job': 'kubernetes',
  'docker-container': 'docker',
  process: undefined,
};

export const PROVIDER_FAMILIES: readonly Family[] = ['aws-ecs', 'google', 'azure', 'kubernetes', 'docker'];

/** `node_modules/@scope/name/…` → `@scope/name`; project files → undefined. */
export function packageOf(path: string): string | undefined {
  const all = [...path.replace(/\\/g, '/').matchAll(/node_modules\/((?:@[^/]+\/)?[^/]+)/g)];
  return all.at(-1)?.[1];
}

/** The family a package belongs to; undefined for everything that is not a cloud SDK. */
export function familyOf(pkg: string): Family | undefined {
  if (/^@aws-sdk\/client-(ecs|ec2|cloudwatch-logs)$/.test(pkg)) return 'aws-ecs';
  if (/^@(aws-sdk|smithy|aws-crypto|aws)\//.test(pkg)) return 'aws-platform';
  if (
    /^(@google-cloud\/|@googleapis\/|google-gax$|google-auth-library$|gaxios$|gcp-metadata$|gtoken$|@grpc\/)/.test(
      pkg,
    )
  )
    return 'google';
  if (/^@azure(-rest)?\//.test(pkg)) return 'azure';
  if (/^(@kubernetes\/|kubernetes-models$|@kubernetes-models\/)/.test(pkg)) return 'kubernetes';
  if (/^(dockerode|docker-modem)$/.test(pkg)) return 'docker';
  return undefined;
}
