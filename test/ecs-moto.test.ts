// The ECS provider end to end against moto server: the real workflow (ASL interpreter,
// middy handlers), real SDK clients over HTTP, a fault-injecting proxy in front of moto.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, beforeEach, describe, it } from 'node:test';
import { promisify } from 'node:util';
import {
  CloudWatchLogsClient,
  CreateLogStreamCommand,
  PutLogEventsCommand,
} from '@aws-sdk/client-cloudwatch-logs';
import {
  DescribeSecurityGroupsCommand,
  DescribeSubnetsCommand,
  DescribeVpcsCommand,
  EC2Client,
} from '@aws-sdk/client-ec2';
import {
  CreateClusterCommand,
  DescribeTaskDefinitionCommand,
  DescribeTasksCommand,
  ECSClient,
  ListTaskDefinitionsCommand,
  ListTasksCommand,
  RegisterTaskDefinitionCommand,
  type RunTaskCommandInput,
} from '@aws-sdk/client-ecs';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { main } from '../cli/main.js';
import { ProviderPermanentError, ProviderTransientError } from '../core/errors.js';
import { createLogger } from '../core/logger.js';
import { S3Store } from '../core/s3-store.js';
import { FolderStore } from '../core/store.js';
import { unwrap } from '../events/envelopes.js';
import type { Deps } from '../functions/lib/deps.js';
import { accept } from '../functions/lib/intake.js';
import { startExecution } from '../functions/local/runner.js';
import { BlockStore } from '../providers/block-store.js';
import { parseBlock } from '../providers/blocks.js';
import { DEFAULT_RETRY } from '../providers/ecs-task/aws.js';
import type { EcsTaskBlock } from '../providers/ecs-task/block.js';
import type { EcsRequest } from '../providers/ecs-task/build.js';
import { createEcsTaskProvider } from '../providers/ecs-task/index.js';
import { TaskDefinitions } from '../providers/ecs-task/task-definitions.js';
import { idempotencyKey } from '../providers/identity.js';
import type { Provider, Target } from '../providers/port.js';
import { ROOT, SAMPLES, sample, tempDir, testDeps } from './helpers.js';
import { type FaultProxy, startFaultProxy } from './support/fault-proxy.js';
import { flakyStore } from './support/flaky-store.js';
import { type Moto, startMoto } from './support/moto.js';
import { cancelMidRun } from './support/workflow.js';

const CLUSTER = 'submitter-moto';
const SAMPLE = 'ecs-task-moto.json';

let moto: Moto;
let proxy: FaultProxy;
/** Where direct submits keep their claims (the workflow uses the run's store). */
let claims: FolderStore;
let ecs: ECSClient;
let ec2: EC2Client;

before(async () => {
  moto = await startMoto();
  // the standard AWS configuration (region, credentials, endpoint) now points at moto
  Object.assign(process.env, moto.env());
  proxy = await startFaultProxy(moto.endpoint);
  claims = new FolderStore(await tempDir('submitter-claims-'));
  ecs = new ECSClient(moto.clientConfig());
  ec2 = new EC2Client(moto.clientConfig());
});
after(async () => {
  ecs.destroy();
  ec2.destroy();
  await proxy.close();
  await moto.stop();
});
beforeEach(async () => {
  await moto.reset();
  await moto.setTransition('ecs::task', { progression: 'manual', times: 1 });
  proxy.clear();
  await ecs.send(new CreateClusterCommand({ clusterName: CLUSTER }));
});

/** A provider whose AWS calls go through the fault proxy; short backoffs. A new one = a cold start. */
function ecsProvider(retry: { attempts?: number } = {}) {
  return createEcsTaskProvider({
    clientConfig: { endpoint: proxy.endpoint },
    retry: { baseMs: 1, capMs: 5, ...retry },
  });
}

async function sampleEvent(edit: (infrastructure: Record<string, unknown>) => void = () => undefined) {
  const event = await sample(SAMPLE);
  (event.flow_run as Record<string, unknown>).id = randomUUID();
  edit(event.infrastructure as Record<string, unknown>);
  return event;
}

async function runWorkflow(event: Record<string, unknown>, provider: Provider<EcsTaskBlock, EcsRequest>) {
  const {
    deps: base,
    reports,
    home,
  } = await testDeps({ loadProvider: async () => provider as unknown as Provider });
  const lines: string[] = [];
  const deps: Deps = { ...base, log: createLogger({ level: 'debug', write: (line) => lines.push(line) }) };
  const accepted = await accept(deps, unwrap(event));
  const causes: string[] = [];
  const outcome = await startExecution(accepted.input, {
    deps,
    retryIntervalOverrides: { Watch: 0, Submit: 0 },
    onEvent: (e) => {
      if (e.type === 'StateFailed' && typeof e.Cause === 'string') causes.push(e.Cause);
    },
  });
  return { outcome, reports, lines, deps, home, causes, flowRunId: accepted.input.flow_run_id };
}

async function tasksStartedFor(flowRunId: string): Promise<string[]> {
  const arns: string[] = [];
  for (const desiredStatus of ['RUNNING', 'STOPPED'] as const) {
    const out = await ecs.send(
      new ListTasksCommand({ cluster: CLUSTER, startedBy: idempotencyKey(flowRunId), desiredStatus }),
    );
    arns.push(...(out.taskArns ?? []));
  }
  return [...new Set(arns)];
}

async function definitionArns(): Promise<string[]> {
  return (await ecs.send(new ListTaskDefinitionsCommand({}))).taskDefinitionArns ?? [];
}

async function defaultNetwork(): Promise<{ subnets: string[]; securityGroup: string }> {
  const vpcs = await ec2.send(
    new DescribeVpcsCommand({ Filters: [{ Name: 'is-default', Values: ['true'] }] }),
  );
  const vpc = vpcs.Vpcs?.[0]?.VpcId ?? '';
  const subnets = await ec2.send(
    new DescribeSubnetsCommand({ Filters: [{ Name: 'vpc-id', Values: [vpc] }] }),
  );
  const groups = await ec2.send(
    new DescribeSecurityGroupsCommand({
      Filters: [
        { Name: 'vpc-id', Values: [vpc] },
        { Name: 'group-name', Values: ['default'] },
      ],
    }),
  );
  return {
    subnets: (subnets.Subnets ?? []).map((s) => s.SubnetId ?? '').sort(),
    securityGroup: groups.SecurityGroups?.[0]?.GroupId ?? '',
  };
}

async function preview(file: string, flowRunId: string): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await main(['preview', file, '--flow-run-id', flowRunId], {
    out: (text) => {
      out += `${text}\n`;
    },
    err: (text) => {
      err += `${text}\n`;
    },
  });
  return { code, out, err };
}

function targetOf(event: Record<string, unknown>): Target<EcsTaskBlock> {
  const block = parseBlock(event.infrastructure);
  assert.ok(block.type === 'ecs-task');
  const flowRun = event.flow_run as { id: string; name?: string };
  return { block, flowRun: { ...flowRun, parameters: {}, tags: [] } };
}

describe('ecs-task on moto: the workflow', () => {
  it('runs the moto sample submit → running → stopped → Completed, sending exactly what preview printed', async () => {
    const event = await sampleEvent();
    const flowRunId = (event.flow_run as { id: string }).id;
    const file = join(await tempDir(), 'event.json');
    await writeFile(file, JSON.stringify(event));
    const printed = await preview(file, flowRunId);
    assert.equal(printed.code, 0, printed.err);
    const { request } = JSON.parse(printed.out) as { request: EcsRequest };

    const { outcome, reports, causes } = await runWorkflow(event, ecsProvider());
    assert.equal(outcome.status, 'SUCCEEDED', outcome.error);
    const report = reports[0];
    assert.equal(reports.length, 1);
    assert.equal(report?.state, 'Completed');
    assert.equal(report?.status_code, 0);
    assert.equal(report?.provider, 'ecs-task');
    assert.match(
      report?.identifier ?? '',
      /^submitter-moto::arn:aws:ecs:us-east-1:\d+:task\/submitter-moto\/[0-9a-f-]+$/,
    );
    assert.ok(
      causes.some((cause) => cause.startsWith('running')),
      `the watch saw it running: ${causes.join(' | ')}`,
    );
    const taskId = report?.identifier?.split('/').at(-1);
    assert.equal(report?.links?.log_stream, `prefect/prefect/${taskId}`);
    assert.equal(report?.links?.log_group, 'prefect');

    // what went over the wire is what preview printed (plus the looked-up network)
    const registered = proxy.callsOf('RegisterTaskDefinition');
    assert.equal(registered.length, 1);
    assert.deepEqual(registered[0]?.body, request.taskDefinition);
    const runs = proxy.callsOf('RunTask');
    assert.equal(runs.length, 1);
    const network = await defaultNetwork();
    const expected: RunTaskCommandInput = structuredClone(request.runTask);
    const vpcConfig = expected.networkConfiguration?.awsvpcConfiguration;
    assert.ok(vpcConfig);
    assert.deepEqual(request.lookups, {
      subnets: 'all subnets of the default VPC',
      securityGroups: 'the default security group of the default VPC',
    });
    vpcConfig.subnets = network.subnets;
    vpcConfig.securityGroups = [network.securityGroup];
    assert.deepEqual(runs[0]?.body, expected);
    assert.deepEqual(await tasksStartedFor(flowRunId), [report?.identifier?.split('::')[1]]);
  });

  it('20 duplicate deliveries of one event start one execution and one task', async () => {
    const event = await sampleEvent();
    const provider = ecsProvider();
    const { deps, reports } = await testDeps({ loadProvider: async () => provider as unknown as Provider });
    const outcomes = await Promise.all(
      Array.from({ length: 20 }, async () => {
        const accepted = await accept(deps, unwrap(structuredClone(event)));
        return startExecution(accepted.input, { deps, retryIntervalOverrides: { Watch: 0, Submit: 0 } });
      }),
    );
    assert.equal(outcomes.filter((o) => o.started).length, 1);
    assert.equal(reports.length, 1, 'one report');
    for (const outcome of outcomes) assert.equal(outcome.state?.report?.state, 'Completed');
    assert.equal(proxy.callsOf('RunTask').length, 1);
    assert.equal((await tasksStartedFor((event.flow_run as { id: string }).id)).length, 1);
  });

  it('repeated submits for one flow run adopt the task the first one started', async () => {
    const target = targetOf(await sampleEvent());
    const provider = ecsProvider();
    const first = await provider.submit(target, { store: claims });
    assert.equal(first.adopted, false);
    for (let i = 0; i < 19; i++) {
      // each as a cold start: no memory of the first
      assert.deepEqual(await ecsProvider().submit(target, { store: claims }), {
        handle: first.handle,
        identifier: first.identifier,
        adopted: true,
      });
    }
    assert.equal(proxy.callsOf('RunTask').length, 1);
    assert.equal((await tasksStartedFor(target.flowRun.id)).length, 1);
  });

  it('a second run with the same block reuses the task definition, even after a cold start', async () => {
    await runWorkflow(await sampleEvent(), ecsProvider());
    const second = await runWorkflow(
      await sampleEvent((block) => {
        block.env = { GREETING: 'a different env is not a different definition' };
      }),
      ecsProvider(),
    );
    assert.equal(second.reports[0]?.state, 'Completed');
    assert.equal(proxy.callsOf('RegisterTaskDefinition').length, 1, 'registered once');
    assert.equal((await definitionArns()).length, 1, 'no new revision');
    assert.equal(proxy.callsOf('RunTask').length, 2);
  });

  it('ends Crashed with an actionable reason when the cluster does not exist, without retrying', async () => {
    const { reports, outcome } = await runWorkflow(
      await sampleEvent((block) => {
        block.cluster = 'no-such-cluster';
      }),
      ecsProvider(),
    );
    assert.equal(outcome.status, 'SUCCEEDED', 'cleanup has nothing to do in a cluster that does not exist');
    assert.equal(reports[0]?.state, 'Crashed');
    assert.match(
      reports[0]?.reason ?? '',
      /submission failed: ProviderPermanentError: .*cluster 'no-such-cluster' was not found/,
    );
    // one ListTasks in Submit (a permanent error is not retried), one in Cleanup
    assert.equal(proxy.callsOf('ListTasks').length, 2);
    assert.equal(proxy.callsOf('RunTask').length, 0);
  });

  it('a subnet that does not exist is a permanent error naming the field', async () => {
    const target = targetOf(
      await sampleEvent((block) => {
        block.network_configuration = { subnets: ['subnet-00000000000000000'] };
      }),
    );
    await assert.rejects(ecsProvider().submit(target, { store: claims }), (error: unknown) => {
      assert.ok(error instanceof ProviderPermanentError);
      assert.match(error.message, /subnet-00000000000000000.*fix 'network_configuration\.subnets'/);
      return true;
    });
  });
});

describe('ecs-task on moto: the network the deployment gives', () => {
  const EC2_LOOKUPS = /^Describe(Vpcs|Subnets|SecurityGroups)$/;
  const clusterArn = `arn:aws:ecs:us-east-1:123456789012:cluster/${CLUSTER}`;

  it('ECS_CLUSTER, ECS_SUBNETS and ECS_SECURITY_GROUPS fill a block that names neither: Completed, no EC2 call', async () => {
    const network = await defaultNetwork();
    const subnets = network.subnets.slice(0, 2);
    const provider = createEcsTaskProvider({
      clientConfig: { endpoint: proxy.endpoint },
      retry: { baseMs: 1, capMs: 5 },
      // as the CDK app sets them on the ECS function
      env: {
        ...process.env,
        ECS_CLUSTER: clusterArn,
        ECS_SUBNETS: subnets.join(','),
        ECS_SECURITY_GROUPS: network.securityGroup,
      },
      loadEc2: () => {
        throw new Error('the EC2 SDK is not needed when the deployment gives the network');
      },
    });
    const event = await sampleEvent((block) => {
      delete block.cluster;
    });
    const { reports, flowRunId } = await runWorkflow(event, provider);
    assert.equal(reports[0]?.state, 'Completed', reports[0]?.reason ?? '');
    assert.match(reports[0]?.identifier ?? '', new RegExp(`^${clusterArn}::arn:aws:ecs:`));
    assert.deepEqual(
      proxy.calls.filter((call) => EC2_LOOKUPS.test(call.operation)).map((call) => call.operation),
      [],
    );
    const sent = proxy.callsOf('RunTask')[0]?.body as RunTaskCommandInput | undefined;
    assert.equal(sent?.cluster, clusterArn);
    assert.deepEqual(sent?.networkConfiguration?.awsvpcConfiguration, {
      subnets,
      securityGroups: [network.securityGroup],
      assignPublicIp: 'DISABLED',
    });
    assert.equal((await tasksStartedFor(flowRunId)).length, 1);
  });

  it('without them, the default VPC is looked up in EC2 (the CLI, locally)', async () => {
    const network = await defaultNetwork();
    const home = await tempDir();
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      ...moto.env(),
      AWS_ENDPOINT_URL: proxy.endpoint,
      POLL_CAP_SECONDS: '1',
    };
    for (const name of ['ECS_CLUSTER', 'ECS_SUBNETS', 'ECS_SECURITY_GROUPS']) delete env[name];
    const { stdout } = await promisify(execFile)(
      process.execPath,
      [join(ROOT, 'bin', 'submitter.js'), 'run', join(SAMPLES, SAMPLE), '--new-flow-run', '--home', home],
      { cwd: ROOT, env },
    );
    assert.equal(JSON.parse(stdout).state, 'Completed');
    const operations = proxy.calls.filter((call) => EC2_LOOKUPS.test(call.operation)).map((c) => c.operation);
    assert.deepEqual(operations, ['DescribeVpcs', 'DescribeSubnets', 'DescribeSecurityGroups']);
    const sent = proxy.callsOf('RunTask')[0]?.body as RunTaskCommandInput | undefined;
    assert.deepEqual(sent?.networkConfiguration?.awsvpcConfiguration, {
      subnets: network.subnets,
      securityGroups: [network.securityGroup],
      assignPublicIp: 'ENABLED',
    });
  });

  it('a lookup where the EC2 SDK cannot be loaded fails at once, saying what to configure instead', async () => {
    const provider = createEcsTaskProvider({
      clientConfig: { endpoint: proxy.endpoint },
      retry: { baseMs: 1, capMs: 5 },
      env: {},
      loadEc2: () => {
        throw Object.assign(new Error("Cannot find module '@aws-sdk/client-ec2'"), {
          code: 'MODULE_NOT_FOUND',
        });
      },
    });
    const target = targetOf(await sampleEvent());
    await assert.rejects(provider.submit(target, { store: claims }), (error: unknown) => {
      assert.ok(error instanceof ProviderPermanentError);
      assert.match(error.message, /@aws-sdk\/client-ec2 cannot be loaded here \(Cannot find module/);
      assert.match(error.message, /'network_configuration\.subnets'/);
      assert.match(
        error.message,
        /ecs\.subnetIds and ecs\.securityGroupIds .*ECS_SUBNETS \/ ECS_SECURITY_GROUPS/,
      );
      return true;
    });
    assert.equal(proxy.callsOf('RunTask').length, 0);
  });
});

describe('ecs-task on moto: blocks from S3', () => {
  it('runs a block saved in S3, resolved by slug, with overrides merged', async () => {
    const s3 = new S3Client(moto.s3Config());
    await s3.send(new CreateBucketCommand({ Bucket: 'submitter-blocks' }));
    const event = await sampleEvent();
    await new BlockStore(S3Store.fromUrl('s3://submitter-blocks/team', s3)).put(
      'ecs-task/moto',
      event.infrastructure as Record<string, unknown>,
    );
    s3.destroy();
    const provider = ecsProvider();
    const { deps, reports } = await testDeps({
      blocks: 's3://submitter-blocks/team',
      loadProvider: async () => provider as unknown as Provider,
    });
    const accepted = await accept(
      deps,
      unwrap({
        flow_run: event.flow_run,
        infrastructure_block: 'ecs-task/moto',
        infra_overrides: { 'env.EXTRA': '1' },
      }),
    );
    assert.equal(accepted.target.source, 'ecs-task/moto');
    await startExecution(accepted.input, { deps, retryIntervalOverrides: { Watch: 0, Submit: 0 } });
    assert.equal(reports[0]?.state, 'Completed');
    const sent = proxy.callsOf('RunTask')[0]?.body as RunTaskCommandInput | undefined;
    assert.deepEqual(
      sent?.overrides?.containerOverrides?.[0]?.environment?.map((pair) => pair.name),
      ['EXTRA', 'GREETING', 'PREFECT__FLOW_RUN_ID'],
    );
  });
});

describe('ecs-task on moto: kill, cleanup, deregistration', () => {
  it('kill stops the task with a reason', async () => {
    await moto.setTransition('ecs::task', { progression: 'manual', times: 10_000 });
    const target = targetOf(await sampleEvent());
    const provider = ecsProvider();
    const { identifier, handle } = await provider.submit(target, { store: claims });
    assert.equal((await provider.status(target, handle)).phase, 'running');
    const request = {
      reason: `Stopped by the flow-run submitter for flow run ${target.flowRun.id}`,
      graceSeconds: 1,
      force: false,
    };
    await provider.stop(target, handle, request);
    // a request: the task stops on its own time, status shows it
    let phase = (await provider.status(target, handle)).phase;
    for (let i = 0; i < 20 && phase === 'running'; i++) phase = (await provider.status(target, handle)).phase;
    assert.notEqual(phase, 'running');
    const taskArn = identifier.split('::')[1] ?? '';
    const task = (await ecs.send(new DescribeTasksCommand({ cluster: CLUSTER, tasks: [taskArn] })))
      .tasks?.[0];
    assert.equal(task?.lastStatus, 'STOPPED');
    assert.equal(task?.desiredStatus, 'STOPPED');
    assert.match(
      task?.stoppedReason ?? '',
      new RegExp(`Stopped by the flow-run submitter for flow run ${target.flowRun.id}`),
    );
    await provider.stop(target, handle, { ...request, force: true }); // already stopped: nothing to do, no error
  });

  it('a cancellation during the run stops the task and ends Cancelled', async () => {
    await moto.setTransition('ecs::task', { progression: 'manual', times: 10_000 });
    const event = await sampleEvent();
    const { reports, accepted } = await cancelMidRun(event, ecsProvider() as unknown as Provider, {
      Submit: 0,
      Watch: 20,
    });
    assert.equal(reports[0]?.state, 'Cancelled');
    const [taskArn] = await tasksStartedFor(accepted.input.flow_run_id);
    const task = (await ecs.send(new DescribeTasksCommand({ cluster: CLUSTER, tasks: [taskArn ?? ''] })))
      .tasks?.[0];
    assert.equal(task?.desiredStatus, 'STOPPED');
  });

  it('a submit whose RunTask answer was lost adopts the task; cleanup without a handle finds and stops it', async () => {
    await moto.setTransition('ecs::task', { progression: 'manual', times: 10_000 });
    const target = targetOf(await sampleEvent());
    proxy.inject({ operation: 'RunTask', times: 1, kind: '500', when: 'after' });
    // one attempt only: the runtime looks for what the lost call started instead of failing or repeating it
    const submitted = await ecsProvider({ attempts: 1 }).submit(target, { store: claims });
    assert.equal(submitted.adopted, true);
    assert.equal(proxy.callsOf('RunTask').length, 1);
    const [taskArn, ...more] = await tasksStartedFor(target.flowRun.id);
    assert.ok(taskArn);
    assert.deepEqual(more, []);
    assert.equal(submitted.handle.taskArn, taskArn);
    // as after a submit that died before saving its handle
    await ecsProvider().cleanup(target, undefined);
    const task = (await ecs.send(new DescribeTasksCommand({ cluster: CLUSTER, tasks: [taskArn] })))
      .tasks?.[0];
    assert.equal(task?.desiredStatus, 'STOPPED');
    assert.match(task?.stoppedReason ?? '', /Cleaned up by the flow-run submitter/);
  });

  it('auto_deregister_task_definition deregisters only the revisions this project registered', async () => {
    const event = await sampleEvent((block) => {
      block.auto_deregister_task_definition = true;
    });
    const target = targetOf(event);
    const provider = ecsProvider();
    const family = provider.build(target).taskDefinition?.family ?? '';
    // someone else's revision in the same family, without our tag
    const { taskDefinition: theirs } = await ecs.send(
      new RegisterTaskDefinitionCommand({
        family,
        containerDefinitions: [{ name: 'prefect', image: 'theirs', memory: 512 }],
      }),
    );
    const { handle } = await provider.submit(target, { store: claims });
    assert.equal(
      proxy.callsOf('RegisterTaskDefinition').length,
      0,
      'their ACTIVE revision is reused, not duplicated',
    );
    // and one of ours, as a concurrent cold start would have registered
    const ours = provider.build(target).taskDefinition;
    assert.ok(ours);
    const { taskDefinition: mine } = await ecs.send(new RegisterTaskDefinitionCommand(ours));
    await provider.cleanup(target, handle);
    const status = async (arn: string | undefined) =>
      (await ecs.send(new DescribeTaskDefinitionCommand({ taskDefinition: arn ?? '' }))).taskDefinition
        ?.status;
    assert.equal(await status(mine?.taskDefinitionArn), 'INACTIVE');
    assert.equal(await status(theirs?.taskDefinitionArn), 'ACTIVE');
  });
});

describe('ecs-task on moto: concurrent first submits of one block', () => {
  async function activeRevisions(family: string): Promise<string[]> {
    const out = await ecs.send(new ListTaskDefinitionsCommand({ familyPrefix: family, status: 'ACTIVE' }));
    return out.taskDefinitionArns ?? [];
  }

  it('in one process they share one find-or-register: one revision for 10 concurrent runs', async () => {
    const provider = ecsProvider();
    const targets = await Promise.all(Array.from({ length: 10 }, async () => targetOf(await sampleEvent())));
    const submissions = await Promise.all(
      targets.map((target) => provider.submit(target, { store: claims })),
    );
    assert.equal(new Set(submissions.map((s) => s.identifier)).size, 10);
    assert.equal(proxy.callsOf('RegisterTaskDefinition').length, 1);
    assert.equal(proxy.callsOf('DescribeTaskDefinition').length, 1);
    const family = provider.build(targets[0] as Target<EcsTaskBlock>).taskDefinition?.family ?? '';
    assert.equal((await activeRevisions(family)).length, 1);
  });

  it('across cold starts that all register, the family converges on its lowest revision', async () => {
    const starts = 5;
    // every cold start's DescribeTaskDefinition is answered only once all have asked: all miss, all register
    let waiting = 0;
    let release: () => void = () => undefined;
    const allAsked = new Promise<void>((resolve) => {
      release = resolve;
    });
    const client = new ECSClient({ ...moto.clientConfig(), endpoint: proxy.endpoint });
    client.middlewareStack.add(
      (next, context) => async (args) => {
        try {
          return await next(args);
        } finally {
          if (context.commandName === 'DescribeTaskDefinitionCommand') {
            if (++waiting === starts) release();
            await allAsked;
          }
        }
      },
      { step: 'initialize', name: 'describeBarrier' },
    );
    const target = targetOf(await sampleEvent());
    const definition = ecsProvider().build(target).taskDefinition;
    assert.ok(definition?.family);
    const retry = { ...DEFAULT_RETRY, baseMs: 1, capMs: 5 };
    const ensured = await Promise.all(
      Array.from({ length: starts }, () => new TaskDefinitions(retry).ensure(client, definition)),
    );
    client.destroy();
    assert.equal(proxy.callsOf('RegisterTaskDefinition').length, starts, 'each cold start registered');
    const [kept, ...others] = ensured;
    assert.match(kept?.arn ?? '', new RegExp(`:task-definition/${definition.family}:1$`));
    for (const other of others) assert.equal(other.arn, kept?.arn, 'all keep the lowest revision');
    assert.equal(ensured.filter((e) => e.registered).length, 1, 'one of them registered the one kept');
    assert.equal(proxy.callsOf('DeregisterTaskDefinition').length, starts - 1, 'each duplicate once');
    assert.deepEqual(await activeRevisions(definition.family), [kept?.arn]);

    // a later cold start reuses it (moto describes the family's latest revision even when it
    // is INACTIVE; the provider then finds the ACTIVE one) and its run completes
    proxy.clear();
    const { reports } = await runWorkflow(await sampleEvent(), ecsProvider());
    assert.equal(reports[0]?.state, 'Completed', reports[0]?.reason ?? '');
    assert.equal(proxy.callsOf('RegisterTaskDefinition').length, 0);
    assert.deepEqual(await activeRevisions(definition.family), [kept?.arn]);
  });
});

describe('ecs-task on moto: faults', () => {
  it('a throttle on each AWS operation of a run in turn still ends Completed, with one task', async () => {
    const clean = await runWorkflow(await sampleEvent(), ecsProvider());
    assert.equal(clean.reports[0]?.state, 'Completed');
    const operations = [...new Set(proxy.calls.map((c) => c.operation))];
    for (const expected of ['ListTasks', 'RunTask', 'DescribeTasks'])
      assert.ok(operations.includes(expected), expected);
    for (const operation of operations) {
      // a fresh account each time, so first-run calls (RegisterTaskDefinition) happen again
      await moto.reset();
      await moto.setTransition('ecs::task', { progression: 'manual', times: 1 });
      await ecs.send(new CreateClusterCommand({ clusterName: CLUSTER }));
      proxy.clear();
      proxy.inject({ operation, times: 1, kind: 'throttle' });
      const { reports, flowRunId } = await runWorkflow(await sampleEvent(), ecsProvider());
      assert.ok(
        proxy.callsOf(operation).some((c) => c.outcome === 'throttle'),
        `${operation}: injected`,
      );
      assert.equal(reports[0]?.state, 'Completed', `${operation}: ${reports[0]?.reason}`);
      assert.equal((await tasksStartedFor(flowRunId)).length, 1, `${operation}: one task`);
    }
  });

  it('a permanent error while watching ends Crashed with the reason, and cleanup stops the task', async () => {
    await moto.setTransition('ecs::task', { progression: 'manual', times: 10_000 });
    const event = await sampleEvent();
    const provider = ecsProvider();
    const { deps, reports } = await testDeps({ loadProvider: async () => provider as unknown as Provider });
    const accepted = await accept(deps, unwrap(event));
    let polls = 0;
    await startExecution(accepted.input, {
      deps,
      retryIntervalOverrides: { Watch: 0, Submit: 0 },
      onEvent: (e) => {
        // after two polls, DescribeTasks is refused once, as a role losing ecs:DescribeTasks would be
        if (
          e.type === 'StateFailed' &&
          typeof e.Cause === 'string' &&
          e.Cause.startsWith('running') &&
          ++polls === 2
        )
          proxy.inject({ operation: 'DescribeTasks', times: 1, kind: 'denied' });
      },
    });
    assert.equal(reports[0]?.state, 'Crashed');
    assert.match(
      reports[0]?.reason ?? '',
      /watching failed: ProviderPermanentError: DescribeTasks failed: .*not allowed/,
    );
    const [taskArn] = await tasksStartedFor(accepted.input.flow_run_id);
    const task = (await ecs.send(new DescribeTasksCommand({ cluster: CLUSTER, tasks: [taskArn ?? ''] })))
      .tasks?.[0];
    assert.equal(task?.desiredStatus, 'STOPPED', 'nothing left running');
  });

  it('concurrent direct submits of one flow run, claims in S3 (conditional writes): one task', async () => {
    const s3 = new S3Client(moto.s3Config());
    await s3.send(new CreateBucketCommand({ Bucket: 'submitter-claims' }));
    const store = new S3Store(s3, 'submitter-claims');
    const target = targetOf(await sampleEvent());
    const provider = createEcsTaskProvider({
      clientConfig: { endpoint: proxy.endpoint },
      retry: { baseMs: 1, capMs: 5 },
      runtime: { claimPollMs: 20 },
    });
    const submissions = await Promise.all(
      Array.from({ length: 20 }, () => provider.submit(target, { store })),
    );
    s3.destroy();
    assert.equal(submissions.filter((s) => !s.adopted).length, 1);
    assert.equal(new Set(submissions.map((s) => s.identifier)).size, 1);
    assert.equal(proxy.callsOf('RunTask').length, 1, 'moto ignores clientToken: only the claim makes this 1');
    assert.equal((await tasksStartedFor(target.flowRun.id)).length, 1);
  });

  it('a SlowDown on each store read and write a run makes (event, claim, stop record, cancel marker) ends Completed', async () => {
    const event = await sampleEvent();
    const provider = ecsProvider();
    const { deps: base, reports } = await testDeps({
      loadProvider: async () => provider as unknown as Provider,
    });
    const accepted = await accept(base, unwrap(event));
    const flaky = flakyStore(base.store);
    for (const [op, key] of [
      ['get', /event\.json$/],
      ['putIfAbsent', /\/claim$/],
      ['get', /stop\.json$/],
      ['get', /cancel\.json$/],
    ] as const)
      flaky.failNext(op, key);
    await startExecution(accepted.input, {
      deps: { ...base, store: flaky },
      retryIntervalOverrides: { Watch: 0, Submit: 0, Prepare: 0 },
    });
    assert.equal(flaky.failed.length, 4, flaky.failed.join(', '));
    assert.equal(reports[0]?.state, 'Completed', reports[0]?.reason ?? '');
    assert.equal((await tasksStartedFor(accepted.input.flow_run_id)).length, 1);
  });

  it('throttling and 5xx on RegisterTaskDefinition, RunTask and DescribeTasks: still Completed, one task', async () => {
    proxy.inject({ operation: 'RegisterTaskDefinition', times: 2, kind: 'throttle' });
    proxy.inject({ operation: 'RunTask', times: 1, kind: '500', when: 'after' });
    proxy.inject({ operation: 'DescribeTasks', times: 5, kind: 'throttle' });
    const { reports, flowRunId, causes } = await runWorkflow(
      await sampleEvent(),
      ecsProvider({ attempts: 2 }),
    );
    assert.equal(reports[0]?.state, 'Completed', reports[0]?.reason ?? '');
    assert.equal(proxy.callsOf('RegisterTaskDefinition').length, 3, 'two throttled, then registered');
    assert.deepEqual(
      proxy.callsOf('RunTask').map((c) => c.outcome),
      ['500'],
      'a RunTask whose answer was lost is not repeated: the started task is adopted',
    );
    assert.equal((await tasksStartedFor(flowRunId)).length, 1);
    assert.equal((await definitionArns()).length, 1);
    assert.ok(
      causes.some((cause) =>
        /status unavailable \(DescribeTasks failed 2 times, last with ThrottlingException/.test(cause),
      ),
      'a throttled watch looks again later',
    );
  });

  it('a DescribeTasks that hangs times out into a transient error, not a stuck watch', async () => {
    const target = targetOf(await sampleEvent());
    const { handle } = await ecsProvider().submit(target, { store: claims });
    proxy.inject({ operation: 'DescribeTasks', times: 2, kind: 'hang' });
    const impatient = createEcsTaskProvider({
      clientConfig: {
        endpoint: proxy.endpoint,
        requestHandler: { requestTimeout: 300, throwOnRequestTimeout: true },
      },
      retry: { attempts: 2, baseMs: 1, capMs: 5 },
    });
    await assert.rejects(impatient.status(target, handle), (error: unknown) => {
      assert.ok(error instanceof ProviderTransientError);
      assert.match(error.message, /DescribeTasks failed 2 times, last with TimeoutError/);
      return true;
    });
    assert.equal((await impatient.status(target, handle)).phase, 'running', 'the next look succeeds');
  });

  it('throttled RunTask answered before it starts anything is retried: one task', async () => {
    proxy.inject({ operation: 'RunTask', times: 2, kind: 'throttle' });
    const { reports, flowRunId } = await runWorkflow(await sampleEvent(), ecsProvider());
    assert.equal(reports[0]?.state, 'Completed');
    assert.deepEqual(
      proxy.callsOf('RunTask').map((c) => c.outcome),
      ['throttle', 'throttle', 'ok'],
    );
    assert.equal((await tasksStartedFor(flowRunId)).length, 1);
  });

  it('throttling that outlasts every retry ends Crashed, with nothing started', async () => {
    proxy.inject({ operation: 'RegisterTaskDefinition', times: 1000, kind: 'throttle' });
    const { reports, flowRunId } = await runWorkflow(await sampleEvent(), ecsProvider({ attempts: 2 }));
    assert.equal(reports[0]?.state, 'Crashed');
    assert.match(
      reports[0]?.reason ?? '',
      /submission failed: ProviderTransientError: RegisterTaskDefinition failed 2 times, last with ThrottlingException/,
    );
    assert.equal(
      proxy.callsOf('RegisterTaskDefinition').length,
      12,
      'bounded: 2 attempts × (1 + 5 workflow retries)',
    );
    assert.deepEqual(await tasksStartedFor(flowRunId), []);
  });
});

describe('ecs-task on moto: logs, secrets, the CLI', () => {
  it('reports the last lines of the CloudWatch log stream when the task stops', async () => {
    const target = targetOf(await sampleEvent());
    const provider = ecsProvider();
    const { identifier, handle } = await provider.submit(target, { store: claims });
    const stream = `prefect/prefect/${identifier.split('/').at(-1)}`;
    const logs = new CloudWatchLogsClient(moto.clientConfig());
    await logs
      .send(new CreateLogStreamCommand({ logGroupName: 'prefect', logStreamName: stream }))
      .catch(async () => {
        const { CreateLogGroupCommand } = await import('@aws-sdk/client-cloudwatch-logs');
        await logs.send(new CreateLogGroupCommand({ logGroupName: 'prefect' }));
        await logs.send(new CreateLogStreamCommand({ logGroupName: 'prefect', logStreamName: stream }));
      });
    const now = Date.now();
    await logs.send(
      new PutLogEventsCommand({
        logGroupName: 'prefect',
        logStreamName: stream,
        logEvents: Array.from({ length: 30 }, (_, i) => ({ timestamp: now + i, message: `flow line ${i}` })),
      }),
    );
    logs.destroy();
    let status = await provider.status(target, handle);
    while (status.phase === 'running') status = await provider.status(target, handle);
    assert.equal(status.phase, 'succeeded');
    const lines = status.logs_tail?.split('\n') ?? [];
    assert.equal(lines.length, 20);
    assert.equal(lines[0], 'flow line 10');
    assert.equal(lines.at(-1), 'flow line 29');
    assert.equal(status.links?.log_stream, stream);
  });

  it('secret canaries never reach preview, logs, workflow state or the report', async () => {
    const keyCanary = 'canary-secret-key-4b1f9e';
    const envCanary = 'canary-env-token-8c2d7a';
    const event = await sampleEvent((block) => {
      block.aws_credentials = {
        aws_access_key_id: 'AKIACANARYEXAMPLE',
        aws_secret_access_key: keyCanary,
        region_name: 'us-east-1',
      };
      block.env = { SERVICE_TOKEN: envCanary };
      block.plaintext_env_allowed = ['SERVICE_TOKEN'];
    });
    const file = join(await tempDir(), 'event.json');
    await writeFile(file, JSON.stringify(event));
    const printed = await preview(file, (event.flow_run as { id: string }).id);
    assert.equal(printed.code, 0, printed.err);
    const { outcome, reports, lines, home, flowRunId } = await runWorkflow(event, ecsProvider());
    assert.equal(reports[0]?.state, 'Completed');
    assert.ok(lines.length > 0, 'the workflow logged');
    // the task did get the value it was given (plainly, as allowed)
    const runTask = proxy.callsOf('RunTask')[0]?.body;
    assert.match(JSON.stringify(runTask), new RegExp(envCanary));
    const execution = await readFile(join(home, 'store', 'executions', `fr-${flowRunId}.json`), 'utf8');
    for (const [what, text] of [
      ['preview', printed.out + printed.err],
      ['logs', lines.join('\n')],
      ['workflow state', JSON.stringify(outcome.state)],
      ['execution record', execution],
      ['report', JSON.stringify(reports)],
    ] as const) {
      assert.doesNotMatch(text, new RegExp(keyCanary), `${what} holds the secret key`);
      assert.doesNotMatch(text, new RegExp(envCanary), `${what} holds the secret env value`);
    }
  });

  it('a secret-looking env var with a plain value is refused without echoing it', async () => {
    const canary = 'canary-plain-password-1a2b';
    const event = await sampleEvent((block) => {
      block.env = { DB_PASSWORD: canary };
    });
    const file = join(await tempDir(), 'event.json');
    await writeFile(file, JSON.stringify(event));
    const printed = await preview(file, (event.flow_run as { id: string }).id);
    assert.equal(printed.code, 2);
    assert.match(printed.err, /infrastructure\.env\.DB_PASSWORD: looks like a secret/);
    assert.doesNotMatch(printed.out + printed.err, new RegExp(canary));
  });

  it('the real CLI runs the moto sample to Completed', async () => {
    const home = await tempDir();
    const env = { ...process.env, ...moto.env(), POLL_CAP_SECONDS: '1' };
    const cli = (args: string[]) =>
      promisify(execFile)(process.execPath, [join(ROOT, 'bin', 'submitter.js'), ...args], { cwd: ROOT, env });
    const direct = await cli(['run', join(SAMPLES, SAMPLE), '--new-flow-run', '--home', home]);
    const report = JSON.parse(direct.stdout);
    assert.equal(report.state, 'Completed');
    assert.match(direct.stderr, /submitted: ecs-task submitter-moto::arn:aws:ecs:/);
  });
});

describe('ecs-task on moto: lazy loading', () => {
  const OTHER_CLOUDS =
    /node_modules\/(@google-cloud|google-auth-library|google-gax|googleapis|gcp-metadata|@azure)\//;
  const OTHER_PROVIDERS =
    /providers\/(cloud-run-job|container-instance-job|kubernetes-job|docker-container|process)\/(index|spec|build)\./;

  it('the deployed ECS handler runs a task without loading Google or Azure SDKs or other providers', async () => {
    // a separate process: this one has loaded everything the tests needed
    const dir = await tempDir();
    const event = await sampleEvent();
    const eventFile = join(dir, 'event.json');
    await writeFile(eventFile, JSON.stringify(event));
    const { stdout } = await promisify(execFile)(
      process.execPath,
      ['--import', 'tsx', join('test', 'support', 'ecs-load-probe.ts'), eventFile, join(dir, 'trace.txt')],
      {
        cwd: ROOT,
        env: { ...process.env, ...moto.env(), SUBMITTER_STORE: join(dir, 'store'), LOG_LEVEL: 'error' },
        maxBuffer: 64 * 1024 * 1024,
      },
    );
    const { result, esm, cjs } = JSON.parse(stdout) as {
      result?: { state: string };
      esm: string[];
      cjs: string[];
    };
    assert.equal(result?.state, 'Completed', 'the probe really ran a task');
    const loaded = [...esm, ...cjs];
    assert.ok(
      loaded.some((m) => m.includes('node_modules/@aws-sdk/client-ecs/')),
      'the trace sees the ECS SDK',
    );
    assert.ok(
      loaded.some((m) => m.includes('node_modules/@aws-sdk/client-ec2/')),
      'EC2, for the network lookup',
    );
    assert.deepEqual(
      loaded.filter((m) => OTHER_CLOUDS.test(m)),
      [],
    );
    assert.deepEqual(
      loaded.filter((m) => OTHER_PROVIDERS.test(m)),
      [],
    );
  });
});
