// The CDK app: `npx cdk synth|deploy [-c config=PATH] [-c stackName=NAME]`.
// The configuration file is validated before anything is built; see docs/deploy.md.
import { join } from 'node:path';
import { App } from 'aws-cdk-lib';
import { SubmitterError } from '../core/errors.js';
import { loadConfig } from './config.js';
import { ROOT } from './functions.js';
import { SubmitterStack } from './stack.js';

export const SAMPLE_CONFIG = join(ROOT, 'infra-cdk', 'config.sample.json');

function main(): void {
  const app = new App();
  const path = String(app.node.tryGetContext('config') ?? process.env.SUBMITTER_CONFIG ?? SAMPLE_CONFIG);
  const stackName = String(app.node.tryGetContext('stackName') ?? 'FlowRunSubmitter');
  const config = loadConfig(path);
  new SubmitterStack(app, stackName, {
    config,
    description:
      'Flow-run submitter: event-triggered flow runs on ECS, Cloud Run, ACI… watched by one workflow',
    env: { account: process.env.CDK_DEFAULT_ACCOUNT, region: process.env.CDK_DEFAULT_REGION },
  });
  app.synth();
}

try {
  main();
} catch (error) {
  if (error instanceof SubmitterError) {
    process.stderr.write(`${error.message}\n`);
    process.exit(2);
  }
  throw error;
}
