// Least-privilege IAM: each function gets the actions its code calls, on the resources
// this deployment owns or was configured with. No action is a wildcard. What a provider's
// function may do, and the environment it gets, come from its manifest (as data).
import { ArnFormat, type Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import { SubmitterError } from '../core/errors.js';
import type { BlockType } from '../providers/blocks.js';
import { type AnyManifest, type ArnFormatter, type PolicyData, secretRead } from '../providers/manifest.js';
import { MANIFESTS } from '../providers/manifests.js';
import type { SubmitterConfig } from './config.js';

/** Store areas, as key prefixes under the store prefix. */
export const STORE_AREAS = {
  blocks: 'blocks/',
  /** Prefect 3 work pools (prefect3/work-pool.ts), rendered only by the trigger. */
  workPools: 'work-pools/',
  /** Prefect variables, one document (`{{ prefect.variables.NAME }}`). */
  variables: 'variables.json',
  runs: 'runs/',
  rejected: 'rejected/',
} as const;
export type StoreArea = keyof typeof STORE_AREAS;

/** A folder area is every key under it; a document area is that one key. */
function objects(bucket: s3.IBucket, prefix: string, areas: readonly StoreArea[]): string[] {
  const base = prefix ? `${prefix}/` : '';
  return areas.map((area) => {
    const key = STORE_AREAS[area];
    return bucket.arnForObjects(`${base}${key}${key.endsWith('/') ? '*' : ''}`);
  });
}

/**
 * Read (and optionally write) parts of the store. ListBucket lets a missing key answer
 * 404 instead of 403, which the store reads as "absent".
 */
export function storeStatements(
  bucket: s3.IBucket,
  prefix: string,
  access: { read: readonly StoreArea[]; write?: readonly StoreArea[] },
): iam.PolicyStatement[] {
  const statements = [
    new iam.PolicyStatement({ actions: ['s3:ListBucket'], resources: [bucket.bucketArn] }),
    new iam.PolicyStatement({ actions: ['s3:GetObject'], resources: objects(bucket, prefix, access.read) }),
  ];
  if (access.write?.length) {
    statements.push(
      new iam.PolicyStatement({
        actions: ['s3:PutObject'],
        resources: objects(bucket, prefix, access.write),
      }),
    );
  }
  return statements;
}

/** A provider manifest's statement (plain data) as an IAM statement. */
export function policyStatement(data: PolicyData): iam.PolicyStatement {
  return new iam.PolicyStatement({
    ...(data.sid ? { sid: data.sid } : {}),
    actions: [...data.actions],
    resources: [...data.resources],
    ...(data.conditions ? { conditions: { ...data.conditions } } : {}),
  });
}

/** A secret given by complete ARN (`…-AbC123`) or partial ARN (without the random suffix). */
export function secretStatement(secretArn: string): iam.PolicyStatement {
  return policyStatement(secretRead(secretArn));
}

/** The stack's ARNs, for manifests (which know no CDK). */
export function arnFormatter(scope: Stack): ArnFormatter {
  return (service, resource, name, separator = '/') =>
    scope.formatArn({
      service,
      resource,
      resourceName: name,
      arnFormat: separator === ':' ? ArnFormat.COLON_RESOURCE_NAME : ArnFormat.SLASH_RESOURCE_NAME,
    });
}

/**
 * A provider's manifest and its parsed section of the configuration (undefined for a provider
 * without one; the configuration's validation requires it when the provider is enabled).
 */
function deploymentOf(type: BlockType, config: SubmitterConfig): { manifest: AnyManifest; section: unknown } {
  const manifest: AnyManifest = MANIFESTS[type];
  const sections: Readonly<Record<string, unknown>> = config;
  return { manifest, section: manifest.config ? sections[manifest.config.key] : undefined };
}

/** What a provider's function may do in AWS, beyond reading the store (its manifest's statements). */
export function providerStatements(
  scope: Stack,
  type: BlockType,
  config: SubmitterConfig,
): iam.PolicyStatement[] {
  const { manifest, section } = deploymentOf(type, config);
  if (manifest.config && section === undefined) return [];
  return manifest.statements(section, arnFormatter(scope)).map(policyStatement);
}

/** Environment a provider's function needs beyond the store (its manifest's deployment environment). */
export function providerEnvironment(
  scope: Stack,
  type: BlockType,
  config: SubmitterConfig,
): Record<string, string> {
  const { manifest, section } = deploymentOf(type, config);
  if (manifest.config && section === undefined) return {};
  return manifest.environment(section, arnFormatter(scope));
}

/** Two enabled providers set one environment variable to different values. */
export class EnvironmentConflictError extends SubmitterError {}

/**
 * Every enabled provider's deployment environment, for Prepare: it runs each type's build to
 * validate a block, and must see the settings (ECS_CLUSTER, …) that Submit will see.
 */
export function providersEnvironment(scope: Stack, config: SubmitterConfig): Record<string, string> {
  const environment: Record<string, string> = {};
  const setBy: Record<string, BlockType> = {};
  for (const type of config.providers) {
    for (const [name, value] of Object.entries(providerEnvironment(scope, type, config))) {
      const other = setBy[name];
      if (other !== undefined && environment[name] !== value) {
        throw new EnvironmentConflictError(
          `providers '${other}' and '${type}' both set ${name} for Prepare, to different values: ` +
            `rename the variable in one of their manifests (providers/<type>/manifest.ts)`,
        );
      }
      environment[name] = value;
      setBy[name] = type;
    }
  }
  return environment;
}
