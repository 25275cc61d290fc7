// The container-instance-job provider end to end: the real @azure/arm-containerinstance client,
// tokens from @azure/identity's ClientSecretCredential against the fake token endpoint, over
// HTTPS (a self-signed certificate the provider is told to trust) to the ARM fake
// (test/support/arm-fake.ts), through the real workflow (ASL interpreter, handlers).
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { main } from '../cli/main.js';
import { unwrap } from '../events/envelopes.js';
import { accept } from '../functions/lib/intake.js';
import { startExecution } from '../functions/local/runner.js';
import { parseBlock } from '../providers/blocks.js';
import { containerGroupName } from '../providers/container-instance-job/build.js';
import {
  type ContainerInstanceJobProviderOptions,
  createContainerInstanceJobProvider,
  deploymentOptions,
  FLOW_RUN_TAG,
} from '../providers/container-instance-job/index.js';
import type { Provider } from '../providers/port.js';
import { tempDir, testDeps } from './helpers.js';
import { type ArmFake, type Plan, startArmFake } from './support/arm-fake.js';
import { selfSignedCert } from './support/tls.js';
import { cancelMidRun, runAccepted } from './support/workflow.js';

const PUT_GROUP =
  'PUT /subscriptions/:sub/resourceGroups/:rg/providers/Microsoft.ContainerInstance/containerGroups/:name';
let fake: ArmFake;
let ca: string;
const SECRET = `canary-env-${randomUUID()}`;

before(async () => {
  const cert = await selfSignedCert();
  ca = cert.cert;
  fake = await startArmFake(cert, { clientSecret: `canary-client-secret-${randomUUID()}` });
});
after(() => fake?.close());

function fakeEnv(): Record<string, string> {
  return {
    AZURE_AUTHORITY_HOST: fake.url,
    AZURE_DISABLE_INSTANCE_DISCOVERY: 'true',
    AZURE_RESOURCE_MANAGER_ENDPOINT: fake.url,
  };
}

function provider(options: ContainerInstanceJobProviderOptions = {}) {
  return createContainerInstanceJobProvider({
    env: fakeEnv(),
    ...options,
    ca,
    retry: { baseMs: 1, capMs: 5 },
    operationPollMs: 20,
    createWaitMs: 400,
    runtime: { claimPollMs: 20, retry: { baseMs: 1, capMs: 5 } },
  });
}

let images = 0;
/** An event whose image behaves as `plan` says. */
function aciEvent(plan: Plan, infrastructure: Record<string, unknown> = {}) {
  const image = `flows.azurecr.io/etl:${++images}`;
  fake.state.plans.set(image, plan);
  return {
    flow_run: { id: randomUUID(), name: 'aci-test', flow_name: 'etl' },
    infrastructure: {
      type: 'container-instance-job',
      subscription_id: fake.state.subscriptionId,
      resource_group_name: 'flows',
      aci_credentials: {
        tenant_id: fake.state.tenantId,
        client_id: fake.state.clientId,
        client_secret: fake.state.clientSecret,
      },
      image,
      env: { SERVICE_TOKEN: SECRET, MODE: 'test' },
      ...infrastructure,
    },
  };
}
type AciEvent = ReturnType<typeof aciEvent>;

function nameOf(event: AciEvent): string {
  const block = parseBlock(event.infrastructure);
  assert.ok(block.type === 'container-instance-job');
  return containerGroupName({ block, flowRun: { ...event.flow_run, parameters: {}, tags: [] } });
}

async function runWorkflow(
  event: AciEvent,
  options: { onRunning?: (flowRunId: string) => void; provider?: ContainerInstanceJobProviderOptions } = {},
) {
  const aci = provider(options.provider);
  const { deps, reports } = await testDeps({ loadProvider: async () => aci as unknown as Provider });
  const accepted = await accept(deps, unwrap(event));
  const states: string[] = [];
  const outcome = await startExecution(accepted.input, {
    deps,
    retryIntervalOverrides: { Watch: 0.02, Submit: 0 },
    onEvent: (e) => {
      if (e.type === 'StateFailed' && typeof e.Cause === 'string') {
        states.push(e.Cause);
        if (e.Cause.startsWith('running')) options.onRunning?.(accepted.input.flow_run_id);
      }
    },
  });
  const stored = JSON.stringify(await deps.store.list(`runs/${accepted.input.flow_run_id}`));
  return { outcome, reports, states, deps, accepted, stored };
}

describe('container-instance-job on the ARM fake: the workflow', { concurrency: 3 }, () => {
  it('a Prefect 3 azure-container-instance work pool runs on the fake: a service principal from a block reference, secure env', async () => {
    const image = `flows.azurecr.io/etl:${++images}`;
    fake.state.plans.set(image, { output: ['hello-from-a-pool'], exitCode: 0 });
    const aci = provider();
    const { deps, reports } = await testDeps({ loadProvider: async () => aci as unknown as Provider });
    await deps.blocks.put('azure-container-instance-credentials/fake', {
      type: 'azure-container-instance-credentials',
      tenant_id: fake.state.tenantId,
      client_id: fake.state.clientId,
      client_secret: fake.state.clientSecret,
    });
    const { accepted, outcome } = await runAccepted(
      deps,
      {
        flow_run: { id: randomUUID(), name: 'aci-pool-run' },
        work_pool: { type: 'azure-container-instance' },
        job_variables: {
          subscription_id: fake.state.subscriptionId,
          resource_group_name: 'flows',
          aci_credentials: '{{ prefect.blocks.azure-container-instance-credentials.fake }}',
          image,
          env: { SERVICE_TOKEN: SECRET },
        },
      },
      { Watch: 0.02, Submit: 0 },
    );
    assert.equal(outcome.status, 'SUCCEEDED', outcome.error);
    assert.equal(reports[0]?.state, 'Completed', JSON.stringify(reports[0]));
    assert.match(reports[0]?.logs_tail ?? '', /hello-from-a-pool/);
    const stored = JSON.stringify(await deps.store.list(`runs/${accepted.input.flow_run_id}`));
    assert.ok(!(JSON.stringify(reports) + stored).includes(SECRET), 'the secret env value reached a report');
    assert.ok(
      !(JSON.stringify(reports) + stored).includes(fake.state.clientSecret),
      'the client secret reached a report',
    );
  });

  it('success: Completed with exit 0, the log tail, the group PUT as built (secureValue), deleted at cleanup; no secret in state or reports', async () => {
    const event = aciEvent({ output: ['hello-from-aci', `token=${SECRET}`], exitCode: 0 });
    const { outcome, reports, stored } = await runWorkflow(event);
    assert.equal(outcome.status, 'SUCCEEDED', outcome.error);
    const report = reports[0];
    assert.equal(report?.state, 'Completed', JSON.stringify(report));
    assert.equal(report?.status_code, 0);
    assert.match(report?.logs_tail ?? '', /hello-from-aci/);
    assert.equal(report?.identifier, `flows/${nameOf(event)}`);
    // the PUT: location from the resource group, the flow-run tag, the secret only as secureValue
    const put = fake.calls.find((c) => c.method === 'PUT' && c.path.endsWith(`/${nameOf(event)}`));
    const body = JSON.stringify(put?.body);
    assert.match(body, /"location":"westeurope"/);
    assert.ok(body.includes(`"${FLOW_RUN_TAG}":"${event.flow_run.id}"`), body);
    assert.ok(body.includes(`{"name":"SERVICE_TOKEN","secureValue":"${SECRET}"}`), body);
    assert.ok(body.includes('{"name":"MODE","value":"test"}'), body);
    // cleanup deleted it; the subscription and secrets are in neither state nor reports
    assert.equal(fake.group('flows', nameOf(event)), undefined);
    assert.ok(fake.state.deleted.includes(`flows/${nameOf(event)}`));
    const everything = JSON.stringify(reports) + stored;
    for (const secret of [SECRET, fake.state.clientSecret, fake.state.subscriptionId])
      assert.ok(!everything.includes(secret), `a secret reached the reports or state: ${secret}`);
    // the token was asked for ARM's audience
    assert.ok(fake.state.scopes.includes(`${fake.url}/.default`), JSON.stringify(fake.state.scopes));
  });

  it('a non-zero exit → Failed with the code', async () => {
    const { reports } = await runWorkflow(aciEvent({ exitCode: 3, output: ['failing'] }));
    assert.equal(reports[0]?.state, 'Failed', JSON.stringify(reports[0]));
    assert.equal(reports[0]?.status_code, 3);
    assert.match(reports[0]?.logs_tail ?? '', /failing/);
  });

  it('an image that never pulls → Crashed at the start timeout with the group’s event as the reason', async () => {
    const event = aciEvent(
      { pullFails: 'Failed to pull image "flows.azurecr.io/etl:missing": manifest unknown' },
      { task_start_timeout_seconds: 1 },
    );
    const started = Date.now();
    const { reports } = await runWorkflow(event);
    assert.equal(reports[0]?.state, 'Crashed', JSON.stringify(reports[0]));
    assert.match(reports[0]?.reason ?? '', /start timeout.*Failed to pull image .*manifest unknown/);
    assert.ok(Date.now() - started < 10_000, 'create did not wait for the operation that never ends');
    assert.equal(fake.group('flows', nameOf(event)), undefined, 'cleaned up');
  });

  it('provisioning fails (quota) → Crashed with ARM’s code and message', async () => {
    const event = aciEvent({
      provisionFails: {
        code: 'ContainerGroupQuotaReached',
        message: 'Resource type Microsoft.ContainerInstance/containerGroups has reached its quota',
      },
    });
    const { reports } = await runWorkflow(event);
    assert.equal(reports[0]?.state, 'Crashed', JSON.stringify(reports[0]));
    assert.match(reports[0]?.reason ?? '', /ContainerGroupQuotaReached.*quota/);
  });

  it('cancel mid-run → Cancelled, the group stopped, then deleted', async () => {
    const event = aciEvent({ runMs: 60_000, output: ['started'] });
    const { reports } = await cancelMidRun(event, provider() as unknown as Provider, {
      Watch: 0.02,
      Submit: 0,
    });
    assert.equal(reports[0]?.state, 'Cancelled', JSON.stringify(reports[0]));
    const name = nameOf(event);
    assert.ok(
      fake.calls.some((c) => c.method === 'POST' && c.path.endsWith(`/${name}/stop`)),
      'stopped',
    );
    assert.equal(fake.group('flows', name), undefined, 'deleted');
  });

  it('a redelivered event (two executions at once) → one group', async () => {
    const event = aciEvent({ runMs: 300, output: ['once'] });
    const aci = provider();
    const { deps, reports } = await testDeps({ loadProvider: async () => aci as unknown as Provider });
    const first = await accept(deps, unwrap(event));
    const again = await accept(deps, unwrap(structuredClone(event)));
    const options = { deps, retryIntervalOverrides: { Watch: 0.02, Submit: 0 } };
    await Promise.all([startExecution(first.input, options), startExecution(again.input, options)]);
    assert.ok(reports.length >= 1);
    assert.ok(
      reports.every((r) => r.state === 'Completed'),
      JSON.stringify(reports),
    );
    const puts = fake.calls.filter((c) => c.method === 'PUT' && c.path.endsWith(`/${nameOf(event)}`));
    assert.equal(puts.length, 1);
  });

  it('keep_container_group: cleanup stops the group and leaves it', async () => {
    const event = aciEvent({ output: ['kept'] }, { keep_container_group: true });
    const { reports } = await runWorkflow(event);
    assert.equal(reports[0]?.state, 'Completed', JSON.stringify(reports[0]));
    const group = fake.group('flows', nameOf(event));
    assert.ok(group, 'kept');
    assert.ok(group.stoppedAt !== undefined, 'stopped');
  });

  it('a group under our name with another flow run’s tag is refused, not overwritten', async () => {
    const event = aciEvent({ output: ['x'] });
    const other = aciEvent({ runMs: 60_000 });
    // make the other run's group under this event's name
    const name = nameOf(event);
    fake.state.groups.set(`flows/${name}`, {
      resourceGroup: 'flows',
      name,
      location: 'westeurope',
      createdAt: Date.now(),
      puts: 1,
      body: {
        location: 'westeurope',
        tags: { [FLOW_RUN_TAG]: other.flow_run.id },
        properties: {
          containers: [{ name, properties: { image: other.infrastructure.image, resources: {} } }],
          osType: 'Linux',
          restartPolicy: 'Never',
        },
      },
    });
    const { reports } = await runWorkflow(event);
    assert.equal(reports[0]?.state, 'Crashed', JSON.stringify(reports[0]));
    assert.match(
      reports[0]?.reason ?? '',
      new RegExp(`exists already and is flow run ${other.flow_run.id}'s`),
    );
    assert.equal(fake.group('flows', name)?.puts, 1, 'not overwritten');
    assert.equal(fake.group('flows', name)?.body.tags?.[FLOW_RUN_TAG], other.flow_run.id);
  });

  it('a deleted group → Crashed (missing)', async () => {
    const event = aciEvent({ runMs: 60_000 });
    const name = nameOf(event);
    const { reports } = await runWorkflow(event, {
      onRunning: () => fake.state.groups.delete(`flows/${name}`),
    });
    assert.equal(reports[0]?.state, 'Crashed', JSON.stringify(reports[0]));
    assert.match(reports[0]?.reason ?? '', /was deleted/);
  });

  it('a block without aci_credentials uses the deployment’s secret (AZURE_CREDENTIALS_SECRET_ARN); one that is not credentials is named', async () => {
    const arn = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:azure-sp-AbCdEf';
    const credentials = JSON.stringify({
      tenant_id: fake.state.tenantId,
      client_id: fake.state.clientId,
      client_secret: fake.state.clientSecret,
    });
    const reads: string[] = [];
    const reader = {
      read: async (name: string) => {
        reads.push(name);
        return credentials;
      },
    };
    const event = aciEvent({ output: ['deployed'] }, { aci_credentials: null });
    const env = { ...fakeEnv(), AZURE_CREDENTIALS_SECRET_ARN: arn };
    const ok = await runWorkflow(event, { provider: deploymentOptions(env, reader) });
    assert.equal(ok.reports[0]?.state, 'Completed', JSON.stringify(ok.reports[0]));
    assert.ok(reads.includes(arn));
    const broken = { read: async () => 'not json' };
    const bad = await runWorkflow(aciEvent({}, { aci_credentials: null }), {
      provider: deploymentOptions(env, broken),
    });
    assert.equal(bad.reports[0]?.state, 'Crashed', JSON.stringify(bad.reports[0]));
    assert.match(bad.reports[0]?.reason ?? '', /does not hold Azure credentials: it must be JSON/);
  });

  it('a wrong client secret → Crashed with the identity platform’s error, the secret not in it', async () => {
    const wrong = `canary-wrong-${randomUUID()}`;
    const event = aciEvent(
      {},
      {
        aci_credentials: {
          tenant_id: fake.state.tenantId,
          client_id: fake.state.clientId,
          client_secret: wrong,
        },
      },
    );
    const { reports, stored } = await runWorkflow(event);
    assert.equal(reports[0]?.state, 'Crashed', JSON.stringify(reports[0]));
    assert.match(reports[0]?.reason ?? '', /AADSTS7000215.*Microsoft Entra refused the service principal/);
    assert.ok(!(JSON.stringify(reports) + stored).includes(wrong));
  });

  it('preview: no subscription id, client secret or secure env value', async () => {
    const event = aciEvent({});
    const file = join(await tempDir('aci-preview-'), 'event.json');
    await writeFile(file, JSON.stringify(event));
    let out = '';
    const code = await main(['preview', file], {
      out: (t) => (out += `${t}\n`),
      err: (t) => (out += `${t}\n`),
    });
    assert.equal(code, 0, out);
    for (const secret of [SECRET, fake.state.clientSecret, fake.state.subscriptionId])
      assert.ok(!out.includes(secret), `preview shows ${secret}`);
    assert.match(out, /containerGroups/);
  });
});

// faults are injected by route: these run alone, so no other run's call takes them
describe('container-instance-job on the ARM fake: faults', { concurrency: 1 }, () => {
  it('a 503 burst on the PUT and its reads: one group, Completed', async () => {
    const event = aciEvent({ output: ['after-503'] });
    const name = nameOf(event);
    const route = PUT_GROUP;
    const get =
      'GET /subscriptions/:sub/resourceGroups/:rg/providers/Microsoft.ContainerInstance/containerGroups/:name';
    const unavailable = { error: { code: 'ServiceUnavailable', message: 'The service is unavailable.' } };
    // the first PUT reached ARM and made the group, its answer was lost (a 503 after)
    fake.inject({ route, status: 503, body: unavailable, when: 'after', times: 1 });
    fake.inject({ route: get, status: 503, body: unavailable, times: 2 });
    const { reports } = await runWorkflow(event);
    assert.equal(reports[0]?.state, 'Completed', JSON.stringify(reports[0]));
    const puts = fake.calls.filter((c) => c.method === 'PUT' && c.path.endsWith(`/${name}`));
    assert.equal(puts.length, 1, 'the lost PUT was not repeated: the group was found and adopted');
  });

  it('a 429 with Retry-After on a read is waited out, then Completed', async () => {
    const event = aciEvent({ output: ['after-429'] });
    const name = nameOf(event);
    const get =
      'GET /subscriptions/:sub/resourceGroups/:rg/providers/Microsoft.ContainerInstance/containerGroups/:name';
    fake.inject({
      route: get,
      status: 429,
      retryAfter: 1,
      body: { error: { code: 'TooManyRequests', message: 'Too many requests, retry after 1 s' } },
    });
    const started = Date.now();
    const { reports } = await runWorkflow(event);
    assert.equal(reports[0]?.state, 'Completed', JSON.stringify(reports[0]));
    const reads = fake.calls.filter((c) => c.method === 'GET' && c.path.endsWith(`/${name}`));
    assert.equal(reads[0]?.status, 429, 'the first read was refused');
    assert.ok(Date.now() - started >= 1000, 'the next read waited the Retry-After second');
  });

  it('a 403 AuthorizationFailed on the PUT → Crashed naming the role the identity needs; nothing made', async () => {
    const event = aciEvent({});
    fake.inject({
      route: PUT_GROUP,
      status: 403,
      body: {
        error: {
          code: 'AuthorizationFailed',
          message:
            "The client 'x' does not have authorization to perform action 'Microsoft.ContainerInstance/containerGroups/write'",
        },
      },
    });
    const { reports } = await runWorkflow(event);
    assert.equal(reports[0]?.state, 'Crashed', JSON.stringify(reports[0]));
    assert.match(
      reports[0]?.reason ?? '',
      /HTTP 403 AuthorizationFailed: .*containerGroups\/write.*needs a role on resource group 'flows'/,
    );
    assert.equal(fake.group('flows', nameOf(event)), undefined);
  });
});
