// The deployment configuration (zod-validated, every problem named by its path) and the
// CDK app as `cdk synth` runs it: cdk.json's app command with the sample configuration.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { App, Stack } from 'aws-cdk-lib';
import { InvalidInputError } from '../core/errors.js';
import { keyReferencesFromEnv } from '../functions/lib/prefect/config.js';
import {
  EVENTS_PER_POLL,
  EXECUTION_HISTORY_LIMIT,
  HISTORY_RESERVE,
  loadConfig,
  MAX_POLLS,
  parseConfig,
  prefectFlowRunSecretEnv,
  type SubmitterConfigInput,
  watchPolls,
} from '../infra-cdk/config.js';
import { SubmitterFunction } from '../infra-cdk/functions.js';
import { ROOT, tempDir } from './helpers.js';
import { testConfig } from './support/cdk.js';

const SAMPLE = join(ROOT, 'infra-cdk', 'config.sample.json');

function problems(input: unknown): { path: string; message: string }[] {
  try {
    parseConfig(input);
  } catch (error) {
    assert.ok(error instanceof InvalidInputError, String(error));
    return error.problems;
  }
  assert.fail('the configuration was accepted');
}

function withChange(change: (config: Record<string, unknown>) => void): unknown {
  const config = structuredClone(testConfig()) as unknown as Record<string, unknown>;
  change(config);
  return config;
}

function scheduleOf(config: Record<string, unknown>, index: number): Record<string, unknown> {
  const schedule = (config.schedules as Record<string, unknown>[])[index];
  assert.ok(schedule);
  return schedule;
}
const inputOf = (config: Record<string, unknown>, index: number) =>
  scheduleOf(config, index).input as Record<string, unknown>;

describe('deployment configuration', () => {
  it('accepts the sample configuration and fills in defaults', () => {
    const config = loadConfig(SAMPLE);
    assert.deepEqual(config.providers, ['ecs-task']);
    assert.equal(config.eventBus.detailTypes[0], 'Flow Run Requested');
    assert.equal(config.pubsub?.jwksUrl, 'https://www.googleapis.com/oauth2/v3/certs');
    assert.equal(config.storePrefix, '');
    assert.equal(config.retainBucket, true);
  });

  it('names each problem by its path and says what to put there', () => {
    const cases: [unknown, string, RegExp][] = [
      [withChange((c) => delete c.ecs), 'ecs', /required when 'ecs-task' is enabled/],
      [withChange((c) => (c.providers = ['cloud-run-job'])), 'google', /credentialsSecretArn/],
      [withChange((c) => (c.providers = ['container-instance-job'])), 'azure', /tenant_id, client_id/],
      [withChange((c) => (c.providers = ['ecs-task', 'ecs-task'])), 'providers', /twice/],
      [withChange((c) => (c.providers = ['lambda'])), 'providers[0]', /ecs-task/],
      [withChange((c) => (c.logRetentionDays = 10)), 'logRetentionDays', /must be one of 1, 3, 5, 7, 14/],
      [withChange((c) => (c.pollCapSeconds = 0)), 'pollCapSeconds', /./],
      [
        withChange((c) => ((c.prefect as Record<string, unknown>).apiKeySecretArn = 'prefect-key')),
        'prefect.apiKeySecretArn',
        /Secrets Manager secret ARN/,
      ],
      [
        withChange((c) => ((c.ecs as Record<string, unknown>).taskRoleArns = ['flow-task'])),
        'ecs.taskRoleArns[0]',
        /IAM role ARN/,
      ],
      [
        withChange((c) => (scheduleOf(c, 0).expression = '0 2 * * *')),
        'schedules[0].expression',
        /cron\(MIN HOUR DOM MONTH DOW YEAR\)/,
      ],
      [withChange((c) => (scheduleOf(c, 1).name = 'nightly')), 'schedules[1].name', /used twice/],
      [
        withChange((c) => {
          const input = inputOf(c, 0);
          input.infrastructure_blok = input.infrastructure_block;
        }),
        'schedules[0].input.infrastructure_blok',
        /unknown/i,
      ],
      [
        withChange((c) => (inputOf(c, 0).scheduled_time = '2026-01-01T00:00:00Z')),
        'schedules[0].input.scheduled_time',
        /unknown/i,
      ],
      [
        withChange((c) => (c.eventBus = { name: 'default', create: true })),
        'eventBus.create',
        /always exists/,
      ],
      [
        withChange((c) => (c.pubsub = { serviceAccountEmails: [] })),
        'pubsub.serviceAccountEmails',
        /at least one/,
      ],
      [withChange((c) => (c.memoryMb = 64)), 'memoryMb', /./],
      [
        withChange(
          (c) =>
            ((c.prefect as Record<string, unknown>).flowRunSecret = {
              kubernetes: { name: 'Prefect_Key', key: 'value' },
            }),
        ),
        'prefect.flowRunSecret',
        /must be a Kubernetes Secret name.*'Prefect_Key'/,
      ],
    ];
    for (const [input, path, message] of cases) {
      const found = problems(input);
      const problem = found.find((p) => p.path === path);
      assert.ok(problem, `expected a problem at ${path}, got ${JSON.stringify(found)}`);
      assert.match(problem.message, message, path);
    }
  });

  it("prefect.flowRunSecret becomes the settings every function reads for the configured credential's kind", () => {
    const flowRunSecret = {
      cloudRun: { secret: 'projects/p/secrets/prefect-key', version: '2' },
      kubernetes: { name: 'prefect-api-key', key: 'value' },
    };
    const config = parseConfig(
      withChange((c) => ((c.prefect as Record<string, unknown>).flowRunSecret = flowRunSecret)),
    );
    assert.ok(config.prefect);
    assert.deepEqual(keyReferencesFromEnv(prefectFlowRunSecretEnv(config.prefect)), {
      cloudRun: { PREFECT_API_KEY: { secret: 'projects/p/secrets/prefect-key', version: '2' } },
      kubernetes: { PREFECT_API_KEY: { name: 'prefect-api-key', key: 'value' } },
    });
    const auth = parseConfig(
      withChange((c) => {
        const prefect = c.prefect as Record<string, unknown>;
        delete prefect.apiKeySecretArn;
        prefect.apiAuthStringSecretArn = 'arn:aws:secretsmanager:us-east-1:123456789012:secret:prefect-auth';
        prefect.flowRunSecret = { kubernetes: flowRunSecret.kubernetes };
      }),
    );
    assert.ok(auth.prefect);
    assert.deepEqual(keyReferencesFromEnv(prefectFlowRunSecretEnv(auth.prefect)), {
      kubernetes: { PREFECT_API_AUTH_STRING: { name: 'prefect-api-key', key: 'value' } },
    });
  });

  it('says which file could not be read or parsed', async () => {
    const dir = await tempDir();
    assert.throws(() => loadConfig(join(dir, 'missing.json')), /file not found: pass -c config=PATH/);
    writeFileSync(join(dir, 'broken.json'), '{ "providers": [');
    assert.throws(() => loadConfig(join(dir, 'broken.json')), /not valid JSON/);
  });

  it('refuses a provider whose function entry does not exist, naming the provider', () => {
    const stack = new Stack(new App(), 'Refuse');
    assert.throws(
      () =>
        new SubmitterFunction(stack, 'Nope', {
          spec: {
            entry: 'functions/infra/no-such-provider.ts',
            description: 'x',
            provider: 'kubernetes-job',
            timeoutSeconds: 60,
          },
          environment: {},
          logRetention: 30,
          memoryMb: 512,
          tracing: false,
        }),
      (error: Error) =>
        error instanceof InvalidInputError &&
        error.problems[0]?.path === 'providers["kubernetes-job"]' &&
        /cannot be deployed in this version/.test(error.problems[0].message),
    );
  });
  it('refuses a poll cap and run timeout whose polls overflow one execution’s 25,000 history events', () => {
    assert.equal(MAX_POLLS * EVENTS_PER_POLL + HISTORY_RESERVE <= EXECUTION_HISTORY_LIMIT, true);
    // the defaults (cap 120 s, a day's timeout, 30 s grace) use about a tenth of the budget
    const defaults = watchPolls(120, 86_400, 30).polls;
    assert.ok(defaults > 700 && defaults < 1_000, `${defaults} polls`);
    const found = problems(
      withChange((c) => Object.assign(c, { pollCapSeconds: 5, runTimeoutSeconds: 86_400 })),
    );
    const problem = found.find((p) => p.path === 'pollCapSeconds');
    assert.ok(problem, JSON.stringify(found));
    assert.match(problem.message, /pollCapSeconds 5 and runTimeoutSeconds 86400/);
    assert.match(problem.message, /25000 events/);
    const cap = Number(/raise pollCapSeconds to at least (\d+)/.exec(problem.message)?.[1]);
    const longest = Number(/lower runTimeoutSeconds to at most (\d+)/.exec(problem.message)?.[1]);
    // each suggestion is accepted; one step past the longest timeout is not
    parseConfig(withChange((c) => Object.assign(c, { pollCapSeconds: cap, runTimeoutSeconds: 86_400 })));
    parseConfig(withChange((c) => Object.assign(c, { pollCapSeconds: 5, runTimeoutSeconds: longest })));
    assert.ok(watchPolls(5, longest, 30).polls <= MAX_POLLS);
    assert.ok(watchPolls(5, longest + 10, 30).polls > MAX_POLLS);
    // the default run timeout counts when none is set
    const unset = problems(withChange((c) => Object.assign(c, { pollCapSeconds: 1 })));
    assert.match(unset.find((p) => p.path === 'pollCapSeconds')?.message ?? '', /86400 \(the default\)/);
  });
});

describe('the CDK app (cdk.json)', () => {
  function runApp(context: Record<string, unknown>, outdir: string) {
    const { app } = JSON.parse(readFileSync(join(ROOT, 'cdk.json'), 'utf8')) as { app: string };
    const [command = 'node', ...args] = app.split(' ');
    return spawnSync(command, args, {
      cwd: ROOT,
      encoding: 'utf8',
      env: {
        ...process.env,
        CDK_OUTDIR: outdir,
        // the schema check runs in cdk-stack.test.ts on a superset of this configuration
        CDK_VALIDATION: 'false',
        // as `cdk synth -c …` passes context; bundling is covered by cdk-stack.test.ts
        CDK_CONTEXT_JSON: JSON.stringify({ ...context, 'aws:cdk:bundling-stacks': [] }),
      },
    });
  }

  it('synthesizes the sample configuration into a named stack with the outputs users need', async () => {
    const outdir = await tempDir('submitter-app-');
    const run = runApp({ stackName: 'SubmitterSample' }, outdir);
    assert.equal(run.status, 0, run.stderr);
    const template = JSON.parse(readFileSync(join(outdir, 'SubmitterSample.template.json'), 'utf8')) as {
      Outputs: Record<string, unknown>;
      Resources: Record<string, { Type: string }>;
    };
    for (const name of ['EventBusName', 'PubSubPushUrl', 'StateMachineArn', 'StoreBucketName'])
      assert.ok(template.Outputs[name], name);
    const types = Object.values(template.Resources).map((r) => r.Type);
    assert.equal(types.filter((t) => t === 'AWS::Scheduler::Schedule').length, 1);
  });

  it('exits 2 with every problem of a bad configuration file, before building anything', async () => {
    const outdir = await tempDir('submitter-app-');
    const bad: SubmitterConfigInput = { ...testConfig(), pollCapSeconds: 0, logRetentionDays: 2 };
    const file = join(outdir, 'bad.json');
    writeFileSync(file, JSON.stringify(bad));
    const run = runApp({ config: file }, outdir);
    assert.equal(run.status, 2);
    assert.match(run.stderr, /pollCapSeconds/);
    assert.match(run.stderr, /logRetentionDays: must be one of/);
    assert.equal(existsSync(join(outdir, 'manifest.json')), false);
  });
});
