// container-instance-job's pure half: block + flow run → the ARM PUT that creates the
// container group, configured as Prefect's AzureContainerInstanceJob does.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import {
  ACI_API_VERSION,
  buildContainerInstanceRequest,
  type ContainerInstanceRequest,
} from '../providers/container-instance-job/build.js';
import { containerInstanceJobSpec } from '../providers/container-instance-job/spec.js';
import { runSuffix } from '../providers/naming.js';
import { SAMPLES } from './helpers.js';
import {
  assertProblem,
  FLOW_RUN_ID,
  OTHER_FLOW_RUN_ID,
  previewCli,
  type TargetInput,
  targetOf,
} from './support/build.js';

const SUBSCRIPTION = '00000000-1111-2222-3333-444444444444';
const REQUIRED = { subscription_id: SUBSCRIPTION, resource_group_name: 'flows-rg' };
/** ACI container group and container names. */
const ACI_NAME = /^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/;
const IDENTITY =
  '/subscriptions/00000000-1111-2222-3333-444444444444/resourceGroups/flows-rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/flows';

function groupName(request: ContainerInstanceRequest): string {
  return request.path.split('/containerGroups/')[1]?.split('?')[0] ?? '';
}

async function build(fields: Record<string, unknown> = {}, input: TargetInput = {}) {
  const request = buildContainerInstanceRequest(
    await targetOf('container-instance-job', { ...REQUIRED, ...fields }, input),
  );
  const name = groupName(request);
  assert.ok(name.length <= 63 && ACI_NAME.test(name) && !name.includes('--'), `group name '${name}'`);
  assert.equal(request.body.properties.containers[0]?.name, name, 'the container is named as its group');
  return request;
}

describe('container-instance-job build', () => {
  it('the whole request: ARM path with the subscription left out, one Linux container, Never restart', async () => {
    const request = await build(
      {
        image: 'myregistry.azurecr.io/flows/etl:1.4.2',
        cpu: 2,
        memory: 4,
        gpu_count: 1,
        gpu_sku: 'V100',
        identities: [IDENTITY],
        image_registry: { registry_url: 'myregistry.azurecr.io', identity: IDENTITY },
        subnet_ids: [
          '/subscriptions/x/resourceGroups/flows-rg/providers/Microsoft.Network/virtualNetworks/v/subnets/s',
        ],
        dns_servers: ['10.0.0.4'],
        env: { MODE: 'prod', PREFECT_API_KEY: 'pnu_key' },
        labels: { team: 'data' },
      },
      { flow_run: { name: 'Nightly ETL' } },
    );
    const name = `nightly-etl-${runSuffix(FLOW_RUN_ID)}`;
    assert.deepEqual(request, {
      method: 'PUT',
      path: `/subscriptions/{subscriptionId}/resourceGroups/flows-rg/providers/Microsoft.ContainerInstance/containerGroups/${name}?api-version=2023-05-01`,
      body: {
        tags: {
          team: 'data',
          'prefect.io-flow-run-id': FLOW_RUN_ID,
          'prefect.io-flow-run-name': 'Nightly ETL',
        },
        identity: { type: 'UserAssigned', userAssignedIdentities: { [IDENTITY]: {} } },
        properties: {
          containers: [
            {
              name,
              properties: {
                image: 'myregistry.azurecr.io/flows/etl:1.4.2',
                command: ['/opt/prefect/entrypoint.sh', 'python', '-m', 'prefect.engine'],
                environmentVariables: [
                  { name: 'MODE', value: 'prod' },
                  { name: 'PREFECT_API_KEY', secureValue: 'pnu_key' },
                  { name: 'PREFECT__FLOW_RUN_ID', value: '0b3b3c3e00004000800000000000abcd' },
                ],
                resources: { requests: { cpu: 2, memoryInGB: 4, gpu: { count: 1, sku: 'V100' } } },
              },
            },
          ],
          osType: 'Linux',
          restartPolicy: 'Never',
          imageRegistryCredentials: [{ server: 'myregistry.azurecr.io', identity: IDENTITY }],
          subnetIds: [
            {
              id: '/subscriptions/x/resourceGroups/flows-rg/providers/Microsoft.Network/virtualNetworks/v/subnets/s',
            },
          ],
          dnsConfig: { nameServers: ['10.0.0.4'] },
        },
      },
      lookups: { location: "the location of resource group 'flows-rg'" },
      idempotency_key: 'prefect-0b3b3c3e00004000800000000000abcd',
    });
    assert.equal(ACI_API_VERSION, '2023-05-01');
  });

  it("defaults: Prefect's 1 CPU / 1 GB, its entrypoint in front of the command, nothing optional set", async () => {
    const { body } = await build();
    const container = body.properties.containers[0]?.properties;
    assert.equal(container?.image, 'prefecthq/prefect:2-latest');
    assert.deepEqual(container?.command, ['/opt/prefect/entrypoint.sh', 'python', '-m', 'prefect.engine']);
    assert.deepEqual(container?.resources, { requests: { cpu: 1, memoryInGB: 1 } });
    for (const key of ['imageRegistryCredentials', 'subnetIds', 'dnsConfig'] as const) {
      assert.equal(key in body.properties, false, key);
    }
    assert.equal('identity' in body, false);
    assert.equal('location' in body, false, 'submit fills it in from the resource group');
  });

  it('entrypoint null: the command alone (a custom image keeps its own entrypoint out of the way)', async () => {
    const { body } = await build({ entrypoint: null, command: ['prefect', 'flow-run', 'execute'] });
    assert.deepEqual(body.properties.containers[0]?.properties.command, ['prefect', 'flow-run', 'execute']);
  });

  it("group name: Prefect's slug of the name + the run suffix, deterministic per flow run", async () => {
    const suffix = runSuffix(FLOW_RUN_ID);
    // Prefect (max 52 there, 50 here to leave room): "My Flow Run!" → "my-flow-run", "x..y__z" → "x-y-z"
    const cases: [string, string][] = [
      ['My Flow Run!', `my-flow-run-${suffix}`],
      ['x..y__z', `x-y-z-${suffix}`],
      ['a'.repeat(80), `${'a'.repeat(50)}-${suffix}`],
      ['日本語', `prefect-${suffix}`],
    ];
    for (const [name, expected] of cases) assert.equal(groupName(await build({ name })), expected, name);
    const first = await build({ name: 'etl' });
    assert.deepEqual(await build({ name: 'etl' }), first);
    assert.notEqual(
      groupName(await build({ name: 'etl' }, { flow_run: { id: OTHER_FLOW_RUN_ID } })),
      groupName(first),
    );
  });

  it('env: secret-looking names go as secureValue (Prefect does this for PREFECT_API_KEY only)', async () => {
    const { body } = await build(
      { env: { DB_PASSWORD: 'p', GITHUB_TOKEN: 't', AWS_SECRET_ACCESS_KEY: 's', REGION: 'westeurope' } },
      { infra_overrides: { 'env.EXTRA_PIP_PACKAGES': 's3fs' } },
    );
    assert.deepEqual(body.properties.containers[0]?.properties.environmentVariables, [
      { name: 'DB_PASSWORD', secureValue: 'p' },
      { name: 'GITHUB_TOKEN', secureValue: 't' },
      { name: 'AWS_SECRET_ACCESS_KEY', secureValue: 's' },
      { name: 'REGION', value: 'westeurope' },
      { name: 'EXTRA_PIP_PACKAGES', value: 's3fs' },
      { name: 'PREFECT__FLOW_RUN_ID', value: '0b3b3c3e00004000800000000000abcd' },
    ]);
  });

  it('registry: a password is passed to ARM; a managed identity must be one of the group identities', async () => {
    const { body } = await build({
      image_registry: { registry_url: 'r.azurecr.io', username: 'robot', password: 'pw-value' },
    });
    assert.deepEqual(body.properties.imageRegistryCredentials, [
      { server: 'r.azurecr.io', username: 'robot', password: 'pw-value' },
    ]);
    const stranger = await targetOf('container-instance-job', {
      ...REQUIRED,
      image_registry: { registry_url: 'r.azurecr.io', identity: IDENTITY },
    });
    assertProblem(
      () => buildContainerInstanceRequest(stranger),
      'infrastructure.image_registry.identity',
      /add it to 'identities'/,
    );
  });

  it('the subscription id is a secret: it is never in the request; the path holds a placeholder', async () => {
    const request = await build({ subscription_id: 'sub-canary-0001' });
    assert.equal(JSON.stringify(request).includes('sub-canary-0001'), false);
    assert.match(request.path, /^\/subscriptions\/\{subscriptionId\}\/resourceGroups\//);
  });

  it('GPU needs count and SKU together; a bad resource group name is refused by field', async () => {
    const half = await targetOf('container-instance-job', { ...REQUIRED, gpu_count: 1 });
    assertProblem(
      () => buildContainerInstanceRequest(half),
      'infrastructure.gpu_sku',
      /both 'gpu_count' and 'gpu_sku'/,
    );
    const skuOnly = await targetOf('container-instance-job', { ...REQUIRED, gpu_sku: 'K80' });
    assertProblem(() => buildContainerInstanceRequest(skuOnly), 'infrastructure.gpu_count', /both/);
    const rg = await targetOf('container-instance-job', { ...REQUIRED, resource_group_name: 'flows/rg.' });
    assertProblem(
      () => buildContainerInstanceRequest(rg),
      'infrastructure.resource_group_name',
      /not a resource group name/,
    );
    const parens = await build({ resource_group_name: 'Flows_(prod).1' });
    assert.match(parens.path, /\/resourceGroups\/Flows_\(prod\)\.1\/providers\//);
  });

  it('tags: labels and the flow-run labels with the characters ARM refuses replaced; at most 50', async () => {
    const { body } = await build({ labels: { 'a/b?c': 'x', 'example.com/tier': 'gold' } });
    assert.deepEqual(Object.keys(body.tags), [
      'a-b-c',
      'example.com-tier',
      'prefect.io-flow-run-id',
      'prefect.io-flow-run-name',
    ]);
    const many = Object.fromEntries(Array.from({ length: 49 }, (_, i) => [`t${i}`, 'v']));
    const tooMany = await targetOf('container-instance-job', { ...REQUIRED, labels: many });
    assertProblem(() => buildContainerInstanceRequest(tooMany), 'infrastructure.labels', /50 tags/);
  });

  it('watch defaults: task_watch_poll_interval and task_start_timeout_seconds', async () => {
    const { block } = await targetOf('container-instance-job', REQUIRED);
    assert.deepEqual(containerInstanceJobSpec.watchDefaults(block), {
      pollSeconds: 5,
      startTimeoutSeconds: 240,
    });
    const custom = await targetOf('container-instance-job', {
      ...REQUIRED,
      task_watch_poll_interval: 2,
      task_start_timeout_seconds: 600,
    });
    assert.deepEqual(containerInstanceJobSpec.watchDefaults(custom.block), {
      pollSeconds: 2,
      startTimeoutSeconds: 600,
    });
  });

  it("Prefect's auth string goes as a secureValue, as prefect-azure's worker sends it", async () => {
    const env = { PREFECT_API_AUTH_STRING: 'user:pass', MODE: 'prod' };
    const request = await build({ env });
    assert.deepEqual(request.body.properties.containers[0]?.properties.environmentVariables.slice(0, 2), [
      { name: 'PREFECT_API_AUTH_STRING', secureValue: 'user:pass' },
      { name: 'MODE', value: 'prod' },
    ]);
  });

  it('the sample previews with the real CLI; subscription, client secret, registry password, secure env never appear', async () => {
    const { code, stdout, stderr } = await previewCli(join(SAMPLES, 'container-instance-job.json'));
    assert.equal(code, 0, stderr);
    assert.doesNotMatch(stdout, /canary|00000000-1111-2222-3333-444444444444/);
    const shown = JSON.parse(stdout);
    assert.equal(shown.provider, 'container-instance-job');
    const { properties } = shown.request.body;
    assert.deepEqual(properties.containers[0].properties.environmentVariables[0], {
      name: 'PREFECT_API_KEY',
      secureValue: '**********',
    });
    assert.deepEqual(properties.imageRegistryCredentials, [
      { server: 'myregistry.azurecr.io', username: 'flows-pull', password: '**********' },
    ]);
    assert.match(properties.subnetIds[0].id, /^\/subscriptions\/\*{10}\/resourceGroups\/flows-rg\//);
  });
});
