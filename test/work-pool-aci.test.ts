// Prefect 3 azure-container-instance work pool: the default base job template rendered with job
// variables → workPool.toBlock → parseBlock → container-instance-job's build. The expected
// container group is the resource of the ARM template prefect-azure's worker deploys for the same
// inputs, derived by hand from AzureContainerJobConfiguration.prepare_for_flow_run and
// AzureContainerWorker._provision_container_group (prefect_azure/workers/container_instance.py)
// and AzureContainerInstanceCredentials (prefect_azure/credentials.py) at PrefectHQ/prefect
// ce79dd3d6cfa2b7337265498210dbc4d25bcdc98 (src/integrations/prefect-azure/). Where the
// submitter differs on purpose, the expected body says so next to the value.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { maskRequest, redact } from '../core/secrets.js';
import { FolderStore } from '../core/store.js';
import { type FlowRun, FlowRunSchema } from '../events/schema.js';
import { defaultTemplate } from '../prefect3/work-pool.js';
import { BlockStore } from '../providers/block-store.js';
import { ContainerInstanceJobBlockSchema } from '../providers/container-instance-job/block.js';
import type { ContainerInstanceRequest } from '../providers/container-instance-job/build.js';
import { containerInstanceJobSpec } from '../providers/container-instance-job/spec.js';
import { invalidInput as rejects, tempDir } from './helpers.js';
import { poolBlock } from './support/pools.js';

const FLOW_RUN_ID = '0b3b3c3e-0000-4000-8000-00000000abcd';
const FLOW_RUN_HEX = '0b3b3c3e000040008000' + '00000000abcd';
const flowRun: FlowRun = FlowRunSchema.parse({ id: FLOW_RUN_ID, name: 'nightly-etl' });
const POOL_PATH = 'work_pool(aci)';
const IDENTITY =
  '/subscriptions/0000/resourceGroups/flows-rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/flows';
const SUBNET =
  '/subscriptions/0000/resourceGroups/flows-rg/providers/Microsoft.Network/virtualNetworks/vnet/subnets/flows';

type Json = Record<string, unknown>;

async function template(): Promise<Json> {
  return defaultTemplate('azure-container-instance', 'work_pool');
}

/** A pool whose template takes the registry and the service principal from stored blocks. */
function withBlocks(base: Json, fields: Json): Json {
  return { ...base, job_configuration: { ...(base.job_configuration as Json), ...fields } };
}

async function blocks(): Promise<BlockStore> {
  const store = new BlockStore(new FolderStore(await tempDir()));
  await store.put('docker-registry-credentials/acr', {
    type: 'docker-registry-credentials',
    username: 'puller',
    password: 'canary-registry-password',
    registry_url: 'myregistry.azurecr.io',
    reauth: true,
  });
  await store.put('azure-container-instance-credentials/sp', {
    type: 'azure-container-instance-credentials',
    client_id: '11111111-1111-1111-1111-111111111111',
    tenant_id: '22222222-2222-2222-2222-222222222222',
    client_secret: 'canary-client-secret',
  });
  await store.put('azure-container-instance-credentials/partial', {
    type: 'azure-container-instance-credentials',
    client_id: '11111111-1111-1111-1111-111111111111',
  });
  return store;
}

const REQUIRED = { resource_group_name: 'flows-rg', subscription_id: 'canary-subscription' };

async function blockOf(base: Json, jobVariables: Json) {
  const pool = { name: 'aci', type: 'azure-container-instance', base_job_template: base };
  const block = await poolBlock(await blocks(), pool, jobVariables, flowRun);
  assert.equal(block.type, 'container-instance-job');
  return ContainerInstanceJobBlockSchema.parse(block);
}

async function requestOf(base: Json, jobVariables: Json): Promise<ContainerInstanceRequest> {
  return containerInstanceJobSpec.build({ block: await blockOf(base, jobVariables), flowRun });
}

function byName(env: readonly Json[]): Json[] {
  return [...env].sort((a, b) => String(a.name).localeCompare(String(b.name)));
}

describe('azure-container-instance work pool', () => {
  it('typical job variables: the container group is the one prefect-azure’s ARM template deploys', async () => {
    const base = withBlocks(await template(), {
      image_registry: '{{ prefect.blocks.docker-registry-credentials.acr }}',
      aci_credentials: '{{ prefect.blocks.azure-container-instance-credentials.sp }}',
    });
    const request = await requestOf(base, {
      ...REQUIRED,
      image: 'myregistry.azurecr.io/flows/etl:1.4.2',
      cpu: 2,
      memory: 4,
      gpu_count: 1,
      gpu_sku: 'V100',
      identities: [IDENTITY],
      subnet_ids: [SUBNET],
      dns_servers: ['10.0.0.4'],
      env: { EXTRA_PIP_PACKAGES: 's3fs', PREFECT_API_KEY: 'pnu_key', PREFECT_API_AUTH_STRING: 'user:pass' },
      labels: { team: 'data' },
    });
    const [container] = request.body.properties.containers;
    assert.ok(container);
    // resources[0] of the template after prepare_for_flow_run: env replaced (_get_arm_environment,
    // ENV_SECRETS as secureValue), command split with the entrypoint in front, _add_image,
    // _add_image_registry_credentials, _add_identities, _add_subnets, _add_dns_servers.
    const expected = {
      identity: { type: 'UserAssigned', userAssignedIdentities: { [IDENTITY]: {} } },
      properties: {
        containers: [
          {
            // ARM: [parameters('container_name')] = uniqueString(resourceGroup().id); the submitter names it as its group
            name: container.name,
            properties: {
              image: 'myregistry.azurecr.io/flows/etl:1.4.2',
              command: ['/opt/prefect/entrypoint.sh', 'prefect', 'flow-run', 'execute'],
              resources: {
                requests: {
                  cpu: 2,
                  memoryInGB: 4,
                  // Prefect's worker never writes gpu_count/gpu_sku into the template (they are
                  // dropped there); the submitter sends the GPU that was asked for
                  gpu: { count: 1, sku: 'V100' },
                },
              },
              environmentVariables: [
                // Prefect: str(flow_run.id); the submitter writes the same UUID as 32 hex digits
                { name: 'PREFECT__FLOW_RUN_ID', value: FLOW_RUN_HEX },
                { name: 'EXTRA_PIP_PACKAGES', value: 's3fs' },
                { name: 'PREFECT_API_KEY', secureValue: 'pnu_key' },
                { name: 'PREFECT_API_AUTH_STRING', secureValue: 'user:pass' },
              ],
            },
          },
        ],
        osType: 'Linux',
        restartPolicy: 'Never',
        imageRegistryCredentials: [
          { server: 'myregistry.azurecr.io', username: 'puller', password: 'canary-registry-password' },
        ],
        subnetIds: [{ id: SUBNET }],
        dnsConfig: { nameServers: ['10.0.0.4'] },
      },
    };
    const [expectedContainer] = expected.properties.containers;
    assert.ok(expectedContainer);
    assert.deepEqual(
      byName(container.properties.environmentVariables),
      byName(expectedContainer.properties.environmentVariables),
    );
    const withoutEnv = (c: typeof container | typeof expectedContainer) => ({
      ...c,
      properties: { ...c.properties, environmentVariables: [] },
    });
    assert.deepEqual(
      {
        identity: request.body.identity,
        properties: { ...request.body.properties, containers: [withoutEnv(container)] },
      },
      { ...expected, properties: { ...expected.properties, containers: [withoutEnv(expectedContainer)] } },
    );
    // the deployment goes to the resource group; location = resourceGroup().location, looked up at submit
    assert.match(
      request.path,
      /\/resourceGroups\/flows-rg\/providers\/Microsoft\.ContainerInstance\/containerGroups\//,
    );
    assert.equal(request.body.location, undefined);
    assert.deepEqual(
      request.body.tags.team,
      'data',
      'tags are the submitter’s addition: Prefect tags nothing',
    );
    const block = await blockOf(base, REQUIRED);
    assert.deepEqual(block.aci_credentials, {
      client_id: '11111111-1111-1111-1111-111111111111',
      tenant_id: '22222222-2222-2222-2222-222222222222',
      client_secret: 'canary-client-secret',
    });
  });

  it('the default template renders and builds: no credentials is the default chain, the worker’s defaults', async () => {
    const block = await blockOf(await template(), REQUIRED);
    // AzureContainerInstanceCredentials() with none of the three: DefaultAzureCredential; here
    // null, which the provider reads as the deployment's credentials, else the default chain
    assert.equal(block.aci_credentials, null);
    const request = containerInstanceJobSpec.build({ block, flowRun });
    const [container] = request.body.properties.containers;
    assert.deepEqual(container?.properties.command, [
      '/opt/prefect/entrypoint.sh',
      'prefect',
      'flow-run',
      'execute',
    ]);
    assert.deepEqual(container?.properties.resources, { requests: { cpu: 1, memoryInGB: 1 } });
    // no image: the worker's get_prefect_image_name(); the submitter's is Prefect 3's moving tag
    assert.equal(container?.properties.image, 'prefecthq/prefect:3-latest');
    assert.equal(request.body.identity, undefined);
    for (const key of ['imageRegistryCredentials', 'subnetIds', 'dnsConfig'])
      assert.equal(key in request.body.properties, false, key);
  });

  it('an empty entrypoint runs the command alone (the worker tests the entrypoint for truth)', async () => {
    const request = await requestOf(await template(), {
      ...REQUIRED,
      entrypoint: '',
      command: 'python flow.py',
    });
    assert.deepEqual(request.body.properties.containers[0]?.properties.command, ['python', 'flow.py']);
  });

  it('a bad job variable is refused naming job_variables.<var>; a GPU sku is Azure’s string, a malformed one refused', async () => {
    const error = await rejects(requestOf(await template(), { ...REQUIRED, cpu: 'two', gpu_count: 1.5 }));
    assert.deepEqual(error.problems.map((p) => p.path).sort(), [
      'job_variables.cpu',
      'job_variables.gpu_count',
    ]);
    const a100 = await requestOf(await template(), { ...REQUIRED, gpu_count: 1, gpu_sku: 'A100' });
    assert.deepEqual(a100.body.properties.containers[0]?.properties.resources.requests.gpu, {
      count: 1,
      sku: 'A100',
    });
    const sku = await rejects(
      requestOf(await template(), { ...REQUIRED, gpu_count: 1, gpu_sku: 'V100; rm' }),
    );
    assert.deepEqual(
      sku.problems.map((p) => p.path),
      [`${POOL_PATH}.job_configuration.gpu_sku`],
    );
  });

  it('half a service principal is refused naming the missing fields', async () => {
    const base = withBlocks(await template(), {
      aci_credentials: '{{ prefect.blocks.azure-container-instance-credentials.partial }}',
    });
    const error = await rejects(requestOf(base, REQUIRED));
    assert.deepEqual(error.problems.map((p) => p.path).sort(), [
      `${POOL_PATH}.job_configuration.aci_credentials.client_secret`,
      `${POOL_PATH}.job_configuration.aci_credentials.tenant_id`,
    ]);
  });

  it('what a custom ARM template adds beyond the container group the block describes is refused naming its place', async () => {
    const base = await template();
    const arm = (base.job_configuration as { arm_template: { resources: { properties: Json }[] } })
      .arm_template;
    const group = arm.resources[0];
    assert.ok(group);
    group.properties.ipAddress = { type: 'Public', ports: [{ port: 80 }] };
    const error = await rejects(requestOf(base, REQUIRED));
    assert.deepEqual(
      error.problems.map((p) => p.path),
      [`${POOL_PATH}.job_configuration.arm_template.resources[0].properties.ipAddress`],
    );
  });

  it('the client secret, the registry password and the subscription id are redacted in preview', async () => {
    const base = withBlocks(await template(), {
      image_registry: '{{ prefect.blocks.docker-registry-credentials.acr }}',
      aci_credentials: '{{ prefect.blocks.azure-container-instance-credentials.sp }}',
    });
    const block = await blockOf(base, { ...REQUIRED, env: { PREFECT_API_KEY: 'canary-api-key' } });
    assert.equal(
      block.aci_credentials?.client_secret,
      'canary-client-secret',
      'the secret reached the block',
    );
    assert.doesNotMatch(JSON.stringify(redact(block, ContainerInstanceJobBlockSchema)), /canary/);
    const preview = JSON.stringify(
      maskRequest(block, (b) => containerInstanceJobSpec.build({ block: b, flowRun })),
    );
    assert.doesNotMatch(preview, /canary/);
    assert.match(preview, /myregistry\.azurecr\.io/, 'what is not secret stays readable');
  });
});
