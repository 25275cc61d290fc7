// The synthesized stack (bundled by the local esbuild, once for this file): functions,
// workflow, triggers, dead letters, alarms, bucket and least-privilege IAM, plus one
// normalised snapshot of the whole template.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { pathToFileURL } from 'node:url';
import { Match } from 'aws-cdk-lib/assertions';
import type { Context } from 'aws-lambda';
import { unwrapCron } from '../events/envelopes.js';
import { PUSH_AUTH_ENV } from '../functions/lib/push-auth.js';
import { REPORT_SOURCE } from '../functions/lib/report-sink.js';
import { placeholders, workflowText } from '../functions/workflow.js';
import { ESBUILD_OPTIONS, FUNCTIONS, LAMBDA_RUNTIME, providerFunction } from '../infra-cdk/bundling.js';
import type { BlockType } from '../providers/blocks.js';
import { ROOT } from './helpers.js';
import {
  ACCOUNT,
  assetPath,
  normaliseTemplate,
  props,
  REGION,
  type Resource,
  type Resources,
  resolvedEnvironment,
  resolveToken,
  resourcesOfType,
  type Synthesized,
  synthesize,
  testConfig,
} from './support/cdk.js';

const SNAPSHOT = join(ROOT, 'test', 'snapshots', 'cdk-template.json');
const PROVIDERS: BlockType[] = ['process', 'ecs-task'];
const config = testConfig(PROVIDERS);

let synth: Synthesized;
let resources: Resources;

type Statement = {
  Effect: string;
  Action: string | string[];
  Resource: unknown;
  Condition?: Record<string, Record<string, unknown>>;
};

const actions = (statement: Statement) => [statement.Action].flat();

/** Every statement of every IAM policy, with the role it is attached to. */
function iamStatements(): { roles: string[]; statement: Statement }[] {
  const out: { roles: string[]; statement: Statement }[] = [];
  for (const [, policy] of resourcesOfType(resources, 'AWS::IAM::Policy')) {
    const p = props<{ Roles: { Ref: string }[]; PolicyDocument: { Statement: Statement[] } }>(policy);
    for (const statement of p.PolicyDocument.Statement)
      out.push({ roles: p.Roles.map((r) => r.Ref), statement });
  }
  for (const [id, role] of resourcesOfType(resources, 'AWS::IAM::Role')) {
    const inline =
      props<{ Policies?: { PolicyDocument: { Statement: Statement[] } }[] }>(role).Policies ?? [];
    for (const policy of inline)
      for (const statement of policy.PolicyDocument.Statement) out.push({ roles: [id], statement });
  }
  return out;
}

function functionByDescription(description: string): [string, Resource] {
  const found = resourcesOfType(resources, 'AWS::Lambda::Function').find(
    ([, fn]) => props(fn).Description === description,
  );
  assert.ok(found, `a function described '${description}'`);
  return found;
}

const fnId = (description: string) => functionByDescription(description)[0];
const roleOf = (description: string) =>
  props<{ Role: { 'Fn::GetAtt': [string, string] } }>(functionByDescription(description)[1]).Role[
    'Fn::GetAtt'
  ][0];

function statementsOf(roleId: string): Statement[] {
  return iamStatements()
    .filter(({ roles }) => roles.includes(roleId))
    .map(({ statement }) => statement);
}

before(async () => {
  // bundled and schema-checked, as `cdk synth` does
  synth = await synthesize(config, { bundle: true, validate: true });
  resources = synth.json.Resources;
});

describe('CDK stack: functions', () => {
  it('deploys one function per handler and per enabled provider: Node 22+, ARM64, minified ESM with source maps', () => {
    const functions = resourcesOfType(resources, 'AWS::Lambda::Function');
    assert.equal(functions.length, 3 + PROVIDERS.length);
    const version = Number(/^nodejs(\d+)\.x$/.exec(LAMBDA_RUNTIME)?.[1]);
    assert.ok(version >= 22);
    for (const [id, fn] of functions) {
      const p = props<{ Runtime: string; Architectures: string[]; Handler: string; Code: { S3Key: string } }>(
        fn,
      );
      assert.equal(p.Runtime, LAMBDA_RUNTIME, id);
      assert.deepEqual(p.Architectures, ['arm64'], id);
      assert.equal(p.Handler, 'index.handler', id);
      const bundle = assetPath(synth.outdir, p.Code.S3Key.replace(/\.zip$/, ''));
      const code = readFileSync(join(bundle, 'index.mjs'), 'utf8');
      assert.ok(existsSync(join(bundle, 'index.mjs.map')), `${id} ships its source map`);
      assert.ok(code.startsWith(ESBUILD_OPTIONS.banner), `${id} is ESM with the require banner`);
      assert.match(code, /export\{[^}]*\bas handler\b[^}]*\}/, `${id} exports handler`);
      // minified: long lines (what newlines remain sit inside template literals and legal comments)
      assert.ok(code.length / code.split('\n').length > 500, `${id} is minified`);
    }
    for (const spec of [...Object.values(FUNCTIONS), ...PROVIDERS.map(providerFunction)]) {
      const [, fn] = functionByDescription(spec.description);
      assert.equal(props(fn).Timeout, spec.timeoutSeconds);
    }
  });

  it('gives every function its own log group with the configured retention, and source-mapped traces', () => {
    for (const [id, fn] of resourcesOfType(resources, 'AWS::Lambda::Function')) {
      const p = props<{
        LoggingConfig: { LogGroup: { Ref: string } };
        Environment: { Variables: Record<string, unknown> };
      }>(fn);
      const group = resources[p.LoggingConfig.LogGroup.Ref];
      assert.equal(group?.Type, 'AWS::Logs::LogGroup', id);
      assert.equal(props(group).RetentionInDays, 14, id);
      assert.equal(p.Environment.Variables.NODE_OPTIONS, '--enable-source-maps');
      assert.equal(
        (p.Environment.Variables.SUBMITTER_STORE as { 'Fn::Join': unknown })['Fn::Join'] !== undefined,
        true,
        `${id} knows the store`,
      );
    }
  });

  it('wires the environment: provider functions for Prepare, the bus for Report, the state machine for the trigger', () => {
    const provider = (type: BlockType) => ({ Ref: fnId(providerFunction(type).description) });
    const providerFunctions = {
      'Fn::Join': ['', ['{"process":"', provider('process'), '","ecs-task":"', provider('ecs-task'), '"}']],
    };
    synth.template.hasResourceProperties('AWS::Lambda::Function', {
      Description: FUNCTIONS.prepare.description,
      Environment: {
        Variables: Match.objectLike({ POLL_CAP_SECONDS: '60', PROVIDER_FUNCTIONS: providerFunctions }),
      },
    });
    const storeBucket = resourcesOfType(resources, 'AWS::S3::Bucket')[0]?.[0];
    synth.template.hasResourceProperties('AWS::Lambda::Function', {
      Description: FUNCTIONS.report.description,
      Environment: {
        Variables: Match.objectLike({
          SUBMITTER_STORE: { 'Fn::Join': ['', ['s3://', { Ref: storeBucket }]] },
          EVENT_BUS_NAME: { Ref: resourcesOfType(resources, 'AWS::Events::EventBus')[0]?.[0] },
          PREFECT_API_URL: 'https://prefect.example.com/api',
          PREFECT_API_KEY_SECRET_ARN: config.prefect?.apiKeySecretArn,
          // prefect.flowRunSecret reaches the functions as the settings flow-run-env.ts reads
          PREFECT_INTEGRATIONS_KUBERNETES_WORKER_API_KEY_SECRET_NAME: 'prefect-api-key',
          PREFECT_INTEGRATIONS_KUBERNETES_WORKER_API_KEY_SECRET_KEY: 'value',
        }),
      },
    });
    synth.template.hasResourceProperties('AWS::Lambda::Function', {
      Description: FUNCTIONS.trigger.description,
      Environment: {
        Variables: Match.objectLike({
          STATE_MACHINE_ARN: { Ref: resourcesOfType(resources, 'AWS::StepFunctions::StateMachine')[0]?.[0] },
          // the trigger refuses block types this deployment cannot run
          PROVIDER_FUNCTIONS: providerFunctions,
          [PUSH_AUTH_ENV.serviceAccounts]: 'push@project.iam.gserviceaccount.com',
          [PUSH_AUTH_ENV.jwksUrl]: 'https://www.googleapis.com/oauth2/v3/certs',
        }),
      },
    });
    synth.template.hasResourceProperties('AWS::Lambda::Function', {
      Description: providerFunction('ecs-task').description,
      Environment: {
        Variables: Match.objectLike({
          ECS_SUBNETS: 'subnet-0a1b2c3d',
          ECS_SECURITY_GROUPS: 'sg-0a1b2c3d',
        }),
      },
    });
    const ecsEnv = resolvedEnvironment(
      functionByDescription(providerFunction('ecs-task').description)[1],
      resources,
    );
    assert.equal(ecsEnv.ECS_CLUSTER, `arn:aws:ecs:${REGION}:${ACCOUNT}:cluster/prefect-runs`);
    // no secret value travels in a function's configuration
    for (const [id, fn] of resourcesOfType(resources, 'AWS::Lambda::Function')) {
      const names = Object.keys(props<{ Environment: { Variables: object } }>(fn).Environment.Variables);
      assert.ok(!names.includes('PREFECT_API_KEY'), id);
      // every function talks to Prefect, the key by reference (docs/prefect.md)
      const env = props<{ Environment: { Variables: Record<string, unknown> } }>(fn).Environment.Variables;
      assert.equal(env.PREFECT_API_URL, 'https://prefect.example.com/api', id);
      assert.equal(env.PREFECT_API_KEY_SECRET_ARN, config.prefect?.apiKeySecretArn, id);
    }
  });

  it("gives Prepare every enabled provider's deployment environment, as Submit sees it", () => {
    const prepareEnv = resolvedEnvironment(
      functionByDescription(FUNCTIONS.prepare.description)[1],
      resources,
    );
    // the ECS spec's build reads these when a block names no cluster or network
    assert.equal(prepareEnv.ECS_CLUSTER, `arn:aws:ecs:${REGION}:${ACCOUNT}:cluster/prefect-runs`);
    assert.equal(prepareEnv.ECS_SUBNETS, 'subnet-0a1b2c3d');
    assert.equal(prepareEnv.ECS_SECURITY_GROUPS, 'sg-0a1b2c3d');
    for (const type of PROVIDERS) {
      const {
        SUBMITTER_STORE: _store,
        NODE_OPTIONS: _options,
        ...own
      } = resolvedEnvironment(functionByDescription(providerFunction(type).description)[1], resources);
      assert.ok(Object.keys(own).length, `${type} has a deployment environment`);
      for (const [name, value] of Object.entries(own))
        assert.equal(prepareEnv[name], value, `${type}: ${name}`);
    }
  });

  it('ships bundles that load and run: the bundled Prepare handler rejects bad input by name', async () => {
    const [, fn] = functionByDescription(FUNCTIONS.prepare.description);
    const key = props<{ Code: { S3Key: string } }>(fn).Code.S3Key.replace(/\.zip$/, '');
    const bundled = (await import(pathToFileURL(join(assetPath(synth.outdir, key), 'index.mjs')).href)) as {
      handler: (event: unknown, context: Context) => Promise<unknown>;
    };
    await assert.rejects(
      () => bundled.handler({ flow_run_id: 'not-a-uuid' }, {} as Context),
      (error: Error) => error.name === 'InvalidInputError' && /flow_run_id/.test(error.message),
    );
  });
});

describe('CDK stack: workflow', () => {
  it('is the ASL file itself, Standard, with its placeholders bound to the Prepare and Report functions', () => {
    const [[, machine] = []] = resourcesOfType(resources, 'AWS::StepFunctions::StateMachine');
    const p = props<{
      StateMachineType: string;
      DefinitionS3Location: { Key: string };
      DefinitionSubstitutions: Record<string, unknown>;
      LoggingConfiguration: { Level: string };
      TracingConfiguration: { Enabled: boolean };
    }>(machine);
    assert.equal(p.StateMachineType, 'STANDARD');
    const deployed = readFileSync(assetPath(synth.outdir, p.DefinitionS3Location.Key), 'utf8');
    assert.equal(deployed, workflowText(), 'the deployed definition is byte for byte the tested file');
    assert.ok((JSON.parse(deployed) as { TimeoutSeconds: number }).TimeoutSeconds > 0, 'executions time out');
    assert.deepEqual(Object.keys(p.DefinitionSubstitutions).sort(), placeholders());
    assert.deepEqual(p.DefinitionSubstitutions, {
      PrepareFunction: { 'Fn::GetAtt': [fnId(FUNCTIONS.prepare.description), 'Arn'] },
      ReportFunction: { 'Fn::GetAtt': [fnId(FUNCTIONS.report.description), 'Arn'] },
    });
    assert.equal(p.LoggingConfiguration.Level, 'ERROR');
    assert.equal(p.TracingConfiguration.Enabled, false);
  });

  it('may invoke exactly the deployed task functions (the dynamic $.run.function included), not the trigger', () => {
    const [[, machine] = []] = resourcesOfType(resources, 'AWS::StepFunctions::StateMachine');
    const role = props<{ RoleArn: { 'Fn::GetAtt': [string, string] } }>(machine).RoleArn['Fn::GetAtt'][0];
    const invoked = statementsOf(role)
      .filter((s) => actions(s).includes('lambda:InvokeFunction'))
      .flatMap((s) => [s.Resource].flat())
      .map((r) => JSON.stringify(r));
    const expected = [FUNCTIONS.prepare, FUNCTIONS.report, ...PROVIDERS.map(providerFunction)].flatMap(
      (spec) => {
        const arn = { 'Fn::GetAtt': [fnId(spec.description), 'Arn'] };
        return [JSON.stringify(arn), JSON.stringify({ 'Fn::Join': ['', [arn, ':*']] })];
      },
    );
    assert.deepEqual(invoked.sort(), expected.sort());
  });
});

describe('CDK stack: triggers', () => {
  const triggerArn = () => ({ 'Fn::GetAtt': [fnId(FUNCTIONS.trigger.description), 'Arn'] });
  const dlq = () => {
    const queues = resourcesOfType(resources, 'AWS::SQS::Queue');
    assert.equal(queues.length, 1);
    return queues[0]?.[0] ?? '';
  };

  it('routes flow-run events on the configured bus to the trigger, never the submitter’s own reports', () => {
    synth.template.hasResourceProperties('AWS::Events::EventBus', { Name: 'flow-runs-test' });
    synth.template.hasResourceProperties('AWS::Events::Rule', {
      EventBusName: { Ref: resourcesOfType(resources, 'AWS::Events::EventBus')[0]?.[0] },
      EventPattern: { 'detail-type': ['Flow Run Requested'], source: [{ 'anything-but': [REPORT_SOURCE] }] },
      Targets: [
        Match.objectLike({
          Arn: triggerArn(),
          DeadLetterConfig: { Arn: { 'Fn::GetAtt': [dlq(), 'Arn'] } },
          RetryPolicy: { MaximumRetryAttempts: 8, MaximumEventAgeInSeconds: 86_400 },
        }),
      ],
    });
  });

  it('runs each cron schedule with its deployment and block, the tick’s time naming the flow run', () => {
    const schedules = resourcesOfType(resources, 'AWS::Scheduler::Schedule').map(([, s]) =>
      props<{
        ScheduleExpression: string;
        ScheduleExpressionTimezone: string;
        State: string;
        Target: { Arn: unknown; Input: string; DeadLetterConfig: { Arn: unknown } };
      }>(s),
    );
    assert.equal(schedules.length, 2);
    const nightly = schedules.find((s) => s.ScheduleExpression === 'cron(0 2 * * ? *)');
    const hourly = schedules.find((s) => s.ScheduleExpression === 'rate(1 hour)');
    assert.equal(nightly?.ScheduleExpressionTimezone, 'Europe/Berlin');
    assert.equal(nightly?.State, 'ENABLED');
    assert.equal(hourly?.State, 'DISABLED');
    assert.deepEqual(nightly?.Target.Arn, triggerArn());
    assert.deepEqual(nightly?.Target.DeadLetterConfig.Arn, { 'Fn::GetAtt': [dlq(), 'Arn'] });
    const input = JSON.parse(nightly?.Target.Input ?? '{}') as Record<string, unknown>;
    assert.equal(input.scheduled_time, '<aws.scheduler.scheduled-time>');
    // what the scheduler sends at a tick is a valid cron input, and a redelivered tick is the same run
    const tick = JSON.stringify(input).replace('<aws.scheduler.scheduled-time>', '2026-11-24T01:00:00Z');
    const first = unwrapCron(JSON.parse(tick));
    const again = unwrapCron(JSON.parse(tick));
    assert.deepEqual(first.event, again.event);
    assert.equal((first.event as { infrastructure_block: string }).infrastructure_block, 'process/hello');
  });

  it('exposes the trigger as a function URL for Pub/Sub push (authenticated in the handler)', () => {
    synth.template.hasResourceProperties('AWS::Lambda::Url', {
      AuthType: 'NONE',
      TargetFunctionArn: triggerArn(),
    });
    // anyone may call the URL (Google cannot sign AWS requests), only through the URL
    synth.template.hasResourceProperties('AWS::Lambda::Permission', {
      Action: 'lambda:InvokeFunctionUrl',
      FunctionUrlAuthType: 'NONE',
      FunctionName: triggerArn(),
    });
    synth.template.hasResourceProperties('AWS::Lambda::Permission', {
      Action: 'lambda:InvokeFunction',
      InvokedViaFunctionUrl: true,
      FunctionName: triggerArn(),
    });
    const open = resourcesOfType(resources, 'AWS::Lambda::Permission').filter(
      ([, p]) => props(p).Principal === '*',
    );
    assert.equal(open.length, 2, 'no other public permission');
    assert.ok(synth.json.Outputs?.PubSubPushUrl, 'the push URL is an output');
  });

  it('keeps failed deliveries of every trigger in an encrypted dead-letter queue that raises an alarm', () => {
    const queue = dlq();
    synth.template.hasResourceProperties('AWS::SQS::Queue', {
      SqsManagedSseEnabled: true,
      MessageRetentionPeriod: 1_209_600,
    });
    synth.template.hasResourceProperties('AWS::Lambda::EventInvokeConfig', {
      FunctionName: { Ref: fnId(FUNCTIONS.trigger.description) },
      MaximumRetryAttempts: 2,
      DestinationConfig: { OnFailure: { Destination: { 'Fn::GetAtt': [queue, 'Arn'] } } },
    });
    synth.template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: 'ApproximateNumberOfMessagesVisible',
      Namespace: 'AWS/SQS',
      Dimensions: [{ Name: 'QueueName', Value: { 'Fn::GetAtt': [queue, 'QueueName'] } }],
      Threshold: 0,
      ComparisonOperator: 'GreaterThanThreshold',
      AlarmActions: [`arn:aws:sns:${REGION}:${ACCOUNT}:alarms`],
    });
    // the scheduler's role may put dead letters there
    const sends = iamStatements().filter(({ statement }) => actions(statement).includes('sqs:SendMessage'));
    assert.ok(sends.every(({ statement }) => JSON.stringify(statement.Resource).includes(queue)));
  });
});

describe('CDK stack: store bucket', () => {
  it('is encrypted, versioned, private, retained, and refuses plain HTTP and TLS < 1.2', () => {
    const [[id, bucket] = []] = resourcesOfType(resources, 'AWS::S3::Bucket');
    assert.equal(bucket?.DeletionPolicy, 'Retain');
    synth.template.hasResourceProperties('AWS::S3::Bucket', {
      BucketEncryption: {
        ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }],
      },
      VersioningConfiguration: { Status: 'Enabled' },
      PublicAccessBlockConfiguration: {
        BlockPublicAcls: true,
        BlockPublicPolicy: true,
        IgnorePublicAcls: true,
        RestrictPublicBuckets: true,
      },
    });
    const policy = resourcesOfType(resources, 'AWS::S3::BucketPolicy')[0]?.[1];
    const statements = props<{ Bucket: unknown; PolicyDocument: { Statement: Statement[] } }>(policy);
    assert.deepEqual(statements.Bucket, { Ref: id });
    const denies = statements.PolicyDocument.Statement;
    assert.ok(
      denies.every((s) => s.Effect === 'Deny'),
      'the bucket policy only denies',
    );
    assert.ok(denies.some((s) => s.Condition?.Bool?.['aws:SecureTransport'] === 'false'));
    assert.ok(denies.some((s) => s.Condition?.NumericLessThan?.['s3:TlsVersion'] === 1.2));
  });
});

describe('CDK stack: IAM', () => {
  it('grants no wildcard action anywhere, and no managed policy', () => {
    for (const { roles, statement } of iamStatements()) {
      if (statement.Effect !== 'Allow') continue;
      for (const action of actions(statement))
        assert.ok(!action.includes('*'), `${action} (role ${roles.join(',')})`);
    }
    for (const [id, role] of resourcesOfType(resources, 'AWS::IAM::Role'))
      assert.equal(props(role).ManagedPolicyArns, undefined, `${id} has no managed policy`);
  });

  it("uses '*' resources only for actions AWS cannot scope to a resource", () => {
    const unscopable = new Set([
      'ecs:RegisterTaskDefinition',
      'ecs:DescribeTaskDefinition',
      'ecs:DeregisterTaskDefinition',
      'ecs:ListTaskDefinitions',
      'ecs:ListTasks', // with the cluster condition
      'ec2:DescribeSubnets',
      'ec2:DescribeVpcs',
      'ec2:DescribeSecurityGroups',
      // Step Functions log delivery
      'logs:CreateLogDelivery',
      'logs:GetLogDelivery',
      'logs:UpdateLogDelivery',
      'logs:DeleteLogDelivery',
      'logs:ListLogDeliveries',
      'logs:PutResourcePolicy',
      'logs:DescribeResourcePolicies',
      'logs:DescribeLogGroups',
    ]);
    for (const { statement } of iamStatements()) {
      if ([statement.Resource].flat().includes('*'))
        for (const action of actions(statement)) assert.ok(unscopable.has(action), `${action} on '*'`);
    }
  });

  it('scopes ECS to the configured cluster and PassRole to the configured roles, for the ECS function only', () => {
    const ecsRole = roleOf(providerFunction('ecs-task').description);
    const cluster = `arn:aws:ecs:${REGION}:${ACCOUNT}:cluster/prefect-runs`;
    const ecs = statementsOf(ecsRole);
    const run = ecs.find((s) => actions(s).includes('ecs:RunTask'));
    assert.equal(
      resolveToken(run?.Resource, resources),
      `arn:aws:ecs:${REGION}:${ACCOUNT}:task-definition/prefect*:*`,
    );
    assert.equal(resolveToken(run?.Condition?.ArnEquals?.['ecs:cluster'], resources), cluster);
    const stop = ecs.find((s) => actions(s).includes('ecs:StopTask'));
    assert.equal(
      resolveToken(stop?.Resource, resources),
      `arn:aws:ecs:${REGION}:${ACCOUNT}:task/prefect-runs/*`,
    );
    const passes = iamStatements().filter(({ statement }) => actions(statement).includes('iam:PassRole'));
    assert.equal(passes.length, 1);
    assert.deepEqual(passes[0]?.roles, [ecsRole]);
    assert.deepEqual(passes[0]?.statement.Resource, [
      `arn:aws:iam::${ACCOUNT}:role/flow-task`,
      `arn:aws:iam::${ACCOUNT}:role/flow-execution`,
    ]);
    assert.deepEqual(passes[0]?.statement.Condition, {
      StringEquals: { 'iam:PassedToService': 'ecs-tasks.amazonaws.com' },
    });
    const process = statementsOf(roleOf(providerFunction('process').description));
    assert.ok(
      process.every((s) => actions(s).every((a) => !a.startsWith('ecs:'))),
      'no ECS for the process function',
    );
  });

  it('reads only the configured secrets, starts only this state machine, touches only its own bucket', () => {
    const secretReads = iamStatements().filter(({ statement }) =>
      actions(statement).some((a) => a.startsWith('secretsmanager:')),
    );
    // the Prefect key: read by every step that talks to Prefect (trigger, prepare, providers, report), nothing else
    const arn = config.prefect?.apiKeySecretArn;
    const readers = [
      FUNCTIONS.trigger.description,
      FUNCTIONS.prepare.description,
      FUNCTIONS.report.description,
      providerFunction('process').description,
      providerFunction('ecs-task').description,
    ].map(roleOf);
    assert.deepEqual(secretReads.flatMap(({ roles }) => roles).sort(), [...readers].sort());
    for (const read of secretReads) {
      assert.deepEqual(read.statement.Resource, [arn, `${arn}-??????`]);
      assert.deepEqual(actions(read.statement), ['secretsmanager:GetSecretValue']);
    }

    const machine = resourcesOfType(resources, 'AWS::StepFunctions::StateMachine')[0]?.[0];
    const starts = iamStatements().filter(({ statement }) =>
      actions(statement).includes('states:StartExecution'),
    );
    assert.equal(starts.length, 1);
    assert.deepEqual(starts[0]?.roles, [roleOf(FUNCTIONS.trigger.description)]);
    assert.deepEqual(starts[0]?.statement.Resource, { Ref: machine });

    const bucket = resourcesOfType(resources, 'AWS::S3::Bucket')[0]?.[0] ?? '';
    for (const { statement } of iamStatements()) {
      if (!actions(statement).some((a) => a.startsWith('s3:'))) continue;
      for (const resource of [statement.Resource].flat())
        assert.ok(JSON.stringify(resource).includes(bucket), `S3 on ${JSON.stringify(resource)}`);
    }
    // readers of Prefect 3 pools and variables: the trigger only (it renders and pins; later steps read the pin)
    const poolReaders = iamStatements().filter(
      ({ statement }) =>
        actions(statement).includes('s3:GetObject') &&
        /work-pools\/\*/.test(JSON.stringify(statement.Resource)),
    );
    assert.deepEqual(
      poolReaders.flatMap(({ roles }) => roles),
      [roleOf(FUNCTIONS.trigger.description)],
    );
    assert.match(JSON.stringify(poolReaders[0]?.statement.Resource), /variables\.json"/);
    // writers: the trigger (parked events, rejected deliveries), Prepare and the providers under runs/ only (claims, stop records, Prefect markers)
    const writers = iamStatements().filter(({ statement }) => actions(statement).includes('s3:PutObject'));
    assert.deepEqual(
      writers.flatMap(({ roles }) => roles).sort(),
      [
        FUNCTIONS.trigger.description,
        FUNCTIONS.prepare.description,
        providerFunction('process').description,
        providerFunction('ecs-task').description,
      ]
        .map(roleOf)
        .sort(),
    );
    for (const { roles, statement } of writers) {
      if (roles.includes(roleOf(FUNCTIONS.trigger.description))) continue;
      for (const resource of [statement.Resource].flat())
        assert.match(
          JSON.stringify(resource),
          /runs\/\*/,
          `writes only under runs/: ${JSON.stringify(resource)}`,
        );
    }
  });
});

describe('CDK stack: outputs and snapshot', () => {
  it('outputs what users wire to: bus, push URL, state machine, bucket', () => {
    for (const name of [
      'EventBusName',
      'PubSubPushUrl',
      'StateMachineArn',
      'StoreBucketName',
      'StoreLocation',
    ])
      assert.ok(synth.json.Outputs?.[name], name);
  });

  it('matches the committed snapshot (asset hashes normalised; UPDATE_SNAPSHOTS=1 rewrites it)', () => {
    const actual = normaliseTemplate(synth.json);
    if (process.env.UPDATE_SNAPSHOTS === '1') {
      writeFileSync(SNAPSHOT, `${JSON.stringify(actual, null, 2)}\n`);
      // committed as the formatter prints it
      spawnSync(join(ROOT, 'node_modules', '.bin', 'biome'), ['format', '--write', SNAPSHOT], {
        stdio: 'ignore',
      });
    }
    assert.ok(existsSync(SNAPSHOT), 'no snapshot yet: run with UPDATE_SNAPSHOTS=1 and commit it');
    assert.deepEqual(actual, JSON.parse(readFileSync(SNAPSHOT, 'utf8')));
  });
});
