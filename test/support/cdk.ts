// Synthesizes the submitter stack for tests, reads the synthesized template and assets,
// resolves CloudFormation tokens to local names, and normalises the template for a snapshot.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import type { SubmitterConfigInput } from '../../infra-cdk/config.js';
import { SubmitterStack } from '../../infra-cdk/stack.js';
import { tempDir } from '../helpers.js';

export const ACCOUNT = '123456789012';
export const REGION = 'us-east-1';

export type Resource = { Type: string; Properties?: Record<string, unknown>; [key: string]: unknown };
export type Resources = Record<string, Resource>;

export interface Synthesized {
  stack: SubmitterStack;
  template: Template;
  json: { Resources: Resources; Outputs?: Record<string, { Value: unknown }> };
  /** The cloud assembly folder (assets are staged there). */
  outdir: string;
}

/**
 * One synthesis. `bundle: false` skips esbuild (the template is the same but for asset hashes);
 * `validate: false` skips the CloudFormation schema check (≈10 s to load the first time).
 */
export async function synthesize(
  config: SubmitterConfigInput,
  options: { bundle: boolean; validate: boolean },
): Promise<Synthesized> {
  const outdir = await tempDir('submitter-cdk-');
  const app = new App({
    outdir,
    builtinCloudFormationValidation: options.validate,
    context: {
      // as in cdk.json: CloudFormation schema violations fail synthesis instead of a deploy
      '@aws-cdk/core:validateAgainstDefaultRules': true,
      ...(options.bundle ? {} : { 'aws:cdk:bundling-stacks': [] }),
    },
  });
  const stack = new SubmitterStack(app, 'SubmitterTest', {
    config,
    env: { account: ACCOUNT, region: REGION },
  });
  app.synth();
  const template = Template.fromStack(stack);
  return { stack, template, json: template.toJSON() as Synthesized['json'], outdir };
}

export function resourcesOfType(resources: Resources, type: string): [string, Resource][] {
  return Object.entries(resources).filter(([, resource]) => resource.Type === type);
}

export function props<T = Record<string, unknown>>(resource: Resource | undefined): T {
  return (resource?.Properties ?? {}) as T;
}

/** The staged file of an asset whose S3 key is `<hash>.<ext>`. */
export function assetPath(outdir: string, s3Key: string): string {
  const path = join(outdir, `asset.${s3Key}`);
  if (!existsSync(path)) throw new Error(`asset ${s3Key} is not in ${outdir}`);
  return path;
}

export function readAsset(outdir: string, s3Key: string): string {
  return readFileSync(assetPath(outdir, s3Key), 'utf8');
}

/** A local name for a resource (what the local runner's "Lambda service" knows it as). */
export const localName = (logicalId: string) => `local-${logicalId}`;
export const localArn = (logicalId: string) =>
  `arn:aws:lambda:${REGION}:${ACCOUNT}:function:${localName(logicalId)}`;

/**
 * Resolves the tokens CDK puts in a template — Ref, Fn::GetAtt, Fn::Join — as a deployment
 * would, except that functions resolve to local names / ARNs.
 */
export function resolveToken(value: unknown, resources: Resources): string {
  if (typeof value === 'string') return value;
  if (typeof value !== 'object' || value === null) throw new Error(`cannot resolve ${JSON.stringify(value)}`);
  const token = value as Record<string, unknown>;
  if (typeof token.Ref === 'string') {
    const id = token.Ref;
    if (resources[id]?.Type === 'AWS::Lambda::Function') return localName(id);
    if (id === 'AWS::Region') return REGION;
    if (id === 'AWS::AccountId') return ACCOUNT;
    if (id === 'AWS::Partition') return 'aws';
    return `ref-${id}`;
  }
  if (Array.isArray(token['Fn::GetAtt'])) {
    const [id, attribute] = token['Fn::GetAtt'] as [string, string];
    if (resources[id]?.Type === 'AWS::Lambda::Function' && attribute === 'Arn') return localArn(id);
    return `getatt-${id}-${attribute}`;
  }
  if (Array.isArray(token['Fn::Join'])) {
    const [separator, parts] = token['Fn::Join'] as [string, unknown[]];
    return parts.map((part) => resolveToken(part, resources)).join(separator);
  }
  throw new Error(`unsupported token ${JSON.stringify(value)}`);
}

/** A function's environment with its tokens resolved. */
export function resolvedEnvironment(resource: Resource, resources: Resources): Record<string, string> {
  const variables =
    props<{ Environment?: { Variables?: Record<string, unknown> } }>(resource).Environment?.Variables ?? {};
  return Object.fromEntries(
    Object.entries(variables).map(([name, value]) => [name, resolveToken(value, resources)]),
  );
}

/** Asset hashes and CDK bookkeeping out, so the snapshot changes only when the infrastructure does. */
export function normaliseTemplate(template: unknown): unknown {
  const json = JSON.parse(JSON.stringify(template)) as {
    Resources: Resources;
    Parameters?: Record<string, unknown>;
    Rules?: Record<string, unknown>;
  };
  for (const [id, resource] of Object.entries(json.Resources)) {
    if (resource.Type === 'AWS::CDK::Metadata') delete json.Resources[id];
    delete resource.Metadata;
  }
  delete json.Parameters?.BootstrapVersion;
  if (json.Parameters && !Object.keys(json.Parameters).length) delete json.Parameters;
  delete json.Rules?.CheckBootstrapVersion;
  if (json.Rules && !Object.keys(json.Rules).length) delete json.Rules;
  return JSON.parse(
    JSON.stringify(json).replace(/[0-9a-f]{64}(\.zip|\.json)?/g, (_, ext = '') => `<asset-hash>${ext}`),
  );
}

/** The configuration the CDK tests deploy: every kind of trigger, ECS access, a Prefect key by reference. */
export function testConfig(
  providers: SubmitterConfigInput['providers'] = ['process', 'ecs-task'],
): SubmitterConfigInput {
  return {
    providers,
    ecs: {
      cluster: 'prefect-runs',
      taskRoleArns: [`arn:aws:iam::${ACCOUNT}:role/flow-task`],
      executionRoleArns: [`arn:aws:iam::${ACCOUNT}:role/flow-execution`],
      subnetIds: ['subnet-0a1b2c3d'],
      securityGroupIds: ['sg-0a1b2c3d'],
      taskDefinitionFamilies: ['prefect*'],
    },
    eventBus: { name: 'flow-runs-test', create: true },
    pubsub: { serviceAccountEmails: ['push@project.iam.gserviceaccount.com'] },
    schedules: [
      {
        name: 'nightly',
        expression: 'cron(0 2 * * ? *)',
        timezone: 'Europe/Berlin',
        input: {
          deployment: { id: 'dep-nightly', name: 'etl/nightly', parameters: { full: false } },
          infrastructure_block: 'process/hello',
        },
      },
      {
        name: 'hourly-paused',
        expression: 'rate(1 hour)',
        enabled: false,
        input: { deployment: { id: 'dep-hourly' }, infrastructure_block: 'process/hello' },
      },
    ],
    prefect: {
      apiUrl: 'https://prefect.example.com/api',
      apiKeySecretArn: `arn:aws:secretsmanager:${REGION}:${ACCOUNT}:secret:prefect-api-key`,
      // where Kubernetes flow runs read the key (a Secret in the Job's namespace)
      flowRunSecret: { kubernetes: { name: 'prefect-api-key', key: 'value' } },
    },
    logRetentionDays: 14,
    pollCapSeconds: 60,
    alarmTopicArn: `arn:aws:sns:${REGION}:${ACCOUNT}:alarms`,
  };
}

export interface PolicyStatementJson {
  Action: unknown;
  Resource: unknown;
}

/** A provider's function in a synthesized template: its environment and its role's statements. */
export function providerFunctionIn(
  resources: Resources,
  description: string,
): { environment: Record<string, unknown>; statements: PolicyStatementJson[] } | undefined {
  const fn = resourcesOfType(resources, 'AWS::Lambda::Function').find(
    ([, resource]) => props<{ Description?: string }>(resource).Description === description,
  );
  if (!fn) return undefined;
  const { Environment, Role } = props<{
    Environment: { Variables: Record<string, unknown> };
    Role: { 'Fn::GetAtt': [string, string] };
  }>(fn[1]);
  const role = Role['Fn::GetAtt'][0];
  const statements = resourcesOfType(resources, 'AWS::IAM::Policy')
    .map(([, policy]) =>
      props<{ Roles: { Ref: string }[]; PolicyDocument: { Statement: PolicyStatementJson[] } }>(policy),
    )
    .filter((policy) => policy.Roles.some((r) => r.Ref === role))
    .flatMap((policy) => policy.PolicyDocument.Statement);
  return { environment: Environment.Variables, statements };
}

/** The statements that read Secrets Manager secrets. */
export function secretReads(statements: PolicyStatementJson[]): PolicyStatementJson[] {
  return statements.filter((s) => [s.Action].flat().includes('secretsmanager:GetSecretValue'));
}

/** True when no statement grants an ECS action (a provider function other than ECS's). */
export function grantsNoEcs(statements: PolicyStatementJson[]): boolean {
  return statements.every((s) =>
    [s.Action].flat().every((a) => typeof a === 'string' && !a.startsWith('ecs:')),
  );
}

/**
 * True when some statement reads `secretArn` and every other secret read is of it (the
 * Prefect API key, which every function of a deployment with `prefect` reads, aside).
 */
export function readsOnlySecret(statements: PolicyStatementJson[], secretArn: string): boolean {
  const prefectKey = testConfig().prefect?.apiKeySecretArn;
  const reads = secretReads(statements).filter(
    (s) => !prefectKey || !JSON.stringify(s.Resource).includes(prefectKey),
  );
  return reads.length > 0 && reads.every((s) => JSON.stringify(s.Resource).includes(secretArn));
}
