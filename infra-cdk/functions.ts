// One NodejsFunction per handler, bundled by the local esbuild with the settings in
// bundling.ts (the bench builds with the same ones), each with its own log group.
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as nodejs from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { InvalidInputError } from '../core/errors.js';
import {
  ESBUILD_OPTIONS,
  externalModules,
  type FunctionSpec,
  HANDLER_EXPORT,
  LAMBDA_ARCHITECTURE,
  LAMBDA_RUNTIME,
} from './bundling.js';

/** The repository root: entries in bundling.ts are relative to it. */
export const ROOT = resolve(import.meta.dirname, '..');

export const RUNTIME = new lambda.Runtime(LAMBDA_RUNTIME, lambda.RuntimeFamily.NODEJS, {
  supportsInlineCode: true,
});
export const ARCHITECTURE =
  LAMBDA_ARCHITECTURE === 'arm64' ? lambda.Architecture.ARM_64 : lambda.Architecture.X86_64;

/** ESBUILD_OPTIONS as NodejsFunction bundling options for one function; local esbuild only, never Docker. */
export function cdkBundling(spec: FunctionSpec): nodejs.BundlingOptions {
  return {
    forceDockerBundling: false,
    format: ESBUILD_OPTIONS.format === 'esm' ? nodejs.OutputFormat.ESM : nodejs.OutputFormat.CJS,
    minify: ESBUILD_OPTIONS.minify,
    keepNames: ESBUILD_OPTIONS.keepNames,
    sourceMap: ESBUILD_OPTIONS.sourcemap,
    target: ESBUILD_OPTIONS.target,
    mainFields: [...ESBUILD_OPTIONS.mainFields],
    banner: ESBUILD_OPTIONS.banner,
    externalModules: externalModules(spec),
    bundleAwsSDK: true,
    logLevel: nodejs.LogLevel.WARNING,
  };
}

export interface SubmitterFunctionProps {
  spec: FunctionSpec;
  environment: Record<string, string>;
  logRetention: logs.RetentionDays;
  memoryMb: number;
  tracing: boolean;
}

/** A handler as a Lambda function, with a log group that keeps logs for the configured time. */
export class SubmitterFunction extends Construct {
  readonly fn: nodejs.NodejsFunction;
  readonly logGroup: logs.LogGroup;
  readonly role: iam.Role;

  constructor(scope: Construct, id: string, props: SubmitterFunctionProps) {
    super(scope, id);
    const entry = join(ROOT, props.spec.entry);
    if (!existsSync(entry)) {
      throw new InvalidInputError('Cannot build the submitter functions', [
        {
          path: props.spec.provider ? `providers[${JSON.stringify(props.spec.provider)}]` : props.spec.entry,
          message: `the function entry ${props.spec.entry} does not exist${
            props.spec.provider ? ': this provider cannot be deployed in this version, remove it' : ''
          }`,
        },
      ]);
    }
    this.logGroup = new logs.LogGroup(this, 'Logs', {
      retention: props.logRetention,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    // Its own role: writes to its own log group only (not the managed policy's any log group).
    this.role = new iam.Role(this, 'Role', {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      // IAM descriptions take Latin-1 only
      description: `${props.spec.entry}: ${props.spec.description}`
        .replace(/→/g, '->')
        .replace(/[^\t\n\r\x20-\x7E\xA1-\xFF]/g, '?')
        .slice(0, 1000),
    });
    this.role.addToPolicy(
      new iam.PolicyStatement({
        actions: ['logs:CreateLogStream', 'logs:PutLogEvents'],
        resources: [this.logGroup.logGroupArn],
      }),
    );
    this.fn = new nodejs.NodejsFunction(this, 'Function', {
      role: this.role,
      entry,
      handler: HANDLER_EXPORT,
      runtime: RUNTIME,
      architecture: ARCHITECTURE,
      description: props.spec.description,
      memorySize: props.memoryMb,
      timeout: Duration.seconds(props.spec.timeoutSeconds),
      // stack traces point into the TypeScript sources (the bundles ship their .map)
      environment: { NODE_OPTIONS: '--enable-source-maps', ...props.environment },
      logGroup: this.logGroup,
      ...(props.tracing ? { tracing: lambda.Tracing.ACTIVE } : {}),
      projectRoot: ROOT,
      depsLockFilePath: join(ROOT, 'package-lock.json'),
      bundling: cdkBundling(props.spec),
    });
  }
}
