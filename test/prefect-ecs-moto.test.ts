// A worker's part of an ECS flow run's life: the real local workflow (ASL interpreter, the
// Lambda handlers) with the ECS provider against moto server, and the fake Prefect server
// (test/support/prefect-fake.ts, facts from Prefect ce79dd3d6cfa2b7337265498210dbc4d25bcdc98).
// The key lives in moto's Secrets Manager and is given by ARN (PREFECT_API_KEY_SECRET_ARN), as
// deployed: the submitter reads it for its own calls; the container gets the ARN only.
// moto: tasks advance one status per DescribeTasks call (setTransition), StopTask sets STOPPED.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, beforeEach, describe, it } from 'node:test';
import {
  CreateClusterCommand,
  DescribeTaskDefinitionCommand,
  DescribeTasksCommand,
  ECSClient,
  ListTaskDefinitionsCommand,
  ListTasksCommand,
} from '@aws-sdk/client-ecs';
import { CreateSecretCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { Context } from 'aws-lambda';
import { createLogger } from '../core/logger.js';
import { unwrap } from '../events/envelopes.js';
import type { Deps } from '../functions/lib/deps.js';
import { accept } from '../functions/lib/intake.js';
import { startExecution } from '../functions/local/runner.js';
import type { TriggerOutcome } from '../functions/trigger.js';
import { createEcsTaskProvider } from '../providers/ecs-task/index.js';
import { idempotencyKey } from '../providers/identity.js';
import type { Provider } from '../providers/port.js';
import { sample, testDeps, until } from './helpers.js';
import { type FaultProxy, startFaultProxy } from './support/fault-proxy.js';
import { type Moto, startMoto } from './support/moto.js';
import { type PrefectFake, startPrefectFake } from './support/prefect-fake.js';
import { localTrigger, runAccepted } from './support/workflow.js';

const CLUSTER = 'submitter-moto';
const FAST = { Prepare: 0, Submit: 0, Watch: 0, Report: 700, ReportRejected: 0, Cleanup: 0 };
const context = {} as Context;
const KEY = `pnu_canary_${randomUUID().replace(/-/g, '')}`;

let moto: Moto;
let proxy: FaultProxy;
let fake: PrefectFake;
let ecs: ECSClient;
let secrets: SecretsManagerClient;
let keyArn: string;
/** Every log line of every run, at debug level, as deployed functions would write them. */
const lines: string[] = [];
/** Every state folder a run used (the store's files are checked for the key). */
const homes: string[] = [];
const allReports: unknown[] = [];

before(async () => {
  moto = await startMoto();
  // the standard AWS configuration (and so the submitter's Secrets Manager reader) points at moto
  Object.assign(process.env, moto.env());
  proxy = await startFaultProxy(moto.endpoint);
  fake = await startPrefectFake({ authorization: `Bearer ${KEY}` });
  ecs = new ECSClient(moto.clientConfig());
  secrets = new SecretsManagerClient(moto.clientConfig());
});
after(async () => {
  ecs.destroy();
  secrets.destroy();
  await fake.close();
  await proxy.close();
  await moto.stop();
});
beforeEach(async () => {
  await moto.reset();
  await moto.setTransition('ecs::task', { progression: 'manual', times: 1 });
  proxy.clear();
  fake.http.clear();
  await ecs.send(new CreateClusterCommand({ clusterName: CLUSTER }));
  const created = await secrets.send(new CreateSecretCommand({ Name: 'prefect-api-key', SecretString: KEY }));
  keyArn = created.ARN ?? '';
  assert.match(keyArn, /^arn:aws:secretsmanager:/);
});

function ecsProvider(): Provider {
  return createEcsTaskProvider({
    clientConfig: { endpoint: proxy.endpoint },
    retry: { baseMs: 1, capMs: 5 },
  }) as unknown as Provider;
}

async function prefectDeps(): Promise<{ deps: Deps; reports: unknown[] }> {
  const provider = ecsProvider();
  const {
    deps: base,
    reports,
    home,
  } = await testDeps({
    loadProvider: async () => provider,
    env: { PREFECT_API_URL: fake.apiUrl, PREFECT_API_KEY_SECRET_ARN: keyArn },
  });
  homes.push(home);
  const deps: Deps = { ...base, log: createLogger({ level: 'debug', write: (line) => lines.push(line) }) };
  return { deps, reports };
}

async function infrastructure(): Promise<Record<string, unknown>> {
  const event = await sample('ecs-task-moto.json');
  return event.infrastructure as Record<string, unknown>;
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

function pendingProposals(id: string): number {
  return fake.http
    .callsOf('POST /api/flow_runs/:id/set_state')
    .filter((c) => c.params.id === id && (c.body as { state: { type: string } }).state.type === 'PENDING')
    .length;
}

/** The container definitions moto holds for every registered task definition. */
async function registeredContainers() {
  const arns = (await ecs.send(new ListTaskDefinitionsCommand({}))).taskDefinitionArns ?? [];
  const out = [];
  for (const arn of arns) {
    const described = await ecs.send(new DescribeTaskDefinitionCommand({ taskDefinition: arn }));
    out.push(...(described.taskDefinition?.containerDefinitions ?? []));
  }
  return out;
}

async function files(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true, recursive: true }))
    if (entry.isFile()) out.push(join(entry.parentPath, entry.name));
  return out;
}

describe('with Prefect, on ECS (moto)', () => {
  it('a cron tick delivered 10 times creates one flow run, proposes Pending once and starts one task, recorded as its infrastructure', async () => {
    const deploymentId = fake.addDeployment('hello', 'nightly');
    const { deps, reports } = await prefectDeps();
    allReports.push(reports);
    const { handler, executions } = localTrigger(deps, FAST);
    const tick = {
      deployment: { id: deploymentId, name: 'nightly', flow_name: 'hello' },
      infrastructure: await infrastructure(),
      scheduled_time: '2026-12-02T03:00:00Z',
    };
    const outcomes = (await Promise.all(
      Array.from({ length: 10 }, () => handler(structuredClone(tick), context)),
    )) as TriggerOutcome[];
    const done = await Promise.all(executions);
    const created = [...fake.state.flowRuns.values()].filter((r) => r.deployment_id === deploymentId);
    assert.equal(created.length, 1, 'one flow run');
    const flowRun = created[0];
    assert.ok(flowRun);
    assert.deepEqual([...new Set(outcomes.map((o) => o.flow_run_id))], [flowRun.id]);
    assert.equal(done.filter((o) => o.started).length, 1, 'one execution');
    assert.equal(pendingProposals(flowRun.id), 1, 'Pending proposed once');
    const tasks = await tasksStartedFor(flowRun.id);
    assert.equal(tasks.length, 1, 'one task');
    assert.equal(proxy.callsOf('RunTask').length, 1);
    assert.ok(
      flowRun.infrastructure_pid?.includes(tasks[0] ?? '-'),
      `infrastructure_pid '${flowRun.infrastructure_pid}' names the task ${tasks[0]}`,
    );
    assert.equal(reports.length, 1);
    assert.equal((reports[0] as { state?: string }).state, 'Completed');
    // nothing ran an engine in moto: Prefect keeps the Pending we proposed, no Crashed over it
    assert.equal(flowRun.state?.type, 'PENDING');
  });

  it('an event for an existing flow run reads it, creates none, and the task gets the API URL as a value and the key only by ARN', async () => {
    const flowRun = fake.addFlowRun();
    const { deps, reports } = await prefectDeps();
    allReports.push(reports);
    const { outcome } = await runAccepted(
      deps,
      { flow_run: { id: flowRun.id }, infrastructure: await infrastructure() },
      FAST,
    );
    assert.equal(outcome.status, 'SUCCEEDED', outcome.error);
    assert.equal(fake.http.callsOf('POST /api/deployments/:id/create_flow_run').length, 0);
    assert.ok(fake.http.callsOf('GET /api/flow_runs/:id').length >= 1, 'the flow run was read');
    assert.equal(pendingProposals(flowRun.id), 1);

    // what moto holds: the container's secret is the ARN, its environment has no key
    const [container, ...others] = await registeredContainers();
    assert.ok(container);
    assert.deepEqual(others, []);
    assert.deepEqual(
      (container.secrets ?? []).filter((s) => s.name === 'PREFECT_API_KEY'),
      [{ name: 'PREFECT_API_KEY', valueFrom: keyArn }],
    );
    assert.equal(
      (container.environment ?? []).some((e) => e.name === 'PREFECT_API_KEY'),
      false,
    );
    // the RunTask request: PREFECT_API_URL is a value of the container's environment, no key
    const runTask = proxy.callsOf('RunTask')[0]?.body as {
      overrides: { containerOverrides: { environment: { name: string; value: string }[] }[] };
    };
    const env = runTask.overrides.containerOverrides[0]?.environment ?? [];
    assert.deepEqual(
      env.filter((e) => e.name.startsWith('PREFECT_API')),
      [{ name: 'PREFECT_API_URL', value: fake.apiUrl }],
    );
    // and the task moto started carries the same overrides
    const [taskArn] = await tasksStartedFor(flowRun.id);
    const task = (await ecs.send(new DescribeTasksCommand({ cluster: CLUSTER, tasks: [taskArn ?? ''] })))
      .tasks?.[0];
    const overridden = task?.overrides?.containerOverrides?.[0]?.environment ?? [];
    assert.deepEqual(
      overridden.filter((e) => e.name?.startsWith('PREFECT_API')),
      [{ name: 'PREFECT_API_URL', value: fake.apiUrl }],
    );
    assert.equal(fake.flowRun(flowRun.id)?.infrastructure_pid?.includes(taskArn ?? '-'), true);
  });

  it('Cancelling set in Prefect stops the task (StopTask) and the run ends Cancelled, in the report and in Prefect', async () => {
    // the task stays RUNNING until stopped
    await moto.setTransition('ecs::task', { progression: 'manual', times: 10_000 });
    const flowRun = fake.addFlowRun();
    const { deps, reports } = await prefectDeps();
    allReports.push(reports);
    const accepted = await accept(
      deps,
      unwrap({ flow_run: { id: flowRun.id, name: 'to-cancel' }, infrastructure: await infrastructure() }),
    );
    const done = startExecution(accepted.input, {
      deps,
      retryIntervalOverrides: { ...FAST, Watch: 20 },
    });
    await until(
      'the task recorded in Prefect',
      () => (fake.flowRun(flowRun.id)?.infrastructure_pid ? true : undefined),
      20_000,
    );
    fake.setState(flowRun.id, 'CANCELLING');
    const outcome = await done;
    assert.equal(outcome.status, 'SUCCEEDED', outcome.error);
    assert.equal((reports[0] as { state?: string }).state, 'Cancelled');
    assert.match((reports[0] as { reason?: string }).reason ?? '', /Cancelling/);
    assert.ok(proxy.callsOf('StopTask').length >= 1, 'StopTask was called');
    const [taskArn] = await tasksStartedFor(flowRun.id);
    const task = (await ecs.send(new DescribeTasksCommand({ cluster: CLUSTER, tasks: [taskArn ?? ''] })))
      .tasks?.[0];
    assert.equal(task?.desiredStatus, 'STOPPED');
    assert.equal(fake.flowRun(flowRun.id)?.state?.type, 'CANCELLED');
  });

  it('the canary key is nowhere: task definitions, ECS requests, store files, reports, logs', async () => {
    // after the runs above (node:test runs a describe's tests in order); at least one ran
    assert.ok(homes.length >= 1 && lines.length > 0);
    // this test's own run, so moto (reset before each test) holds its task definition
    const flowRun = fake.addFlowRun();
    const { deps, reports } = await prefectDeps();
    allReports.push(reports);
    const { outcome } = await runAccepted(
      deps,
      { flow_run: { id: flowRun.id }, infrastructure: await infrastructure() },
      FAST,
    );
    assert.equal(outcome.status, 'SUCCEEDED', outcome.error);
    // the key was used: the fake wants it on every call and the run went through
    assert.ok(fake.http.calls.every((c) => c.status !== 401));
    const texts: [string, string][] = [
      ['task definitions', JSON.stringify(await registeredContainers())],
      ['ECS requests', JSON.stringify(proxy.calls)],
      ['outcome', JSON.stringify(outcome)],
      ['reports', JSON.stringify(allReports)],
      ['logs', lines.join('\n')],
    ];
    for (const home of homes)
      for (const file of await files(join(home, 'store'))) texts.push([file, await readFile(file, 'utf8')]);
    for (const [what, text] of texts) assert.equal(text.includes(KEY), false, `${what} holds the key`);
  });
});
