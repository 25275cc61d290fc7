// Prefect 3 `azure-container-instance` work pool → the container-instance-job block.
// Prefect's worker deploys the job configuration's `arm_template` (an ARM deployment
// `prefect-<group>` whose one resource is the container group); our build PUTs that container
// group itself. So the template is read, not deployed: the container group resource it describes
// (one Linux container, restartPolicy Never, its cpu/memory/gpu requests) becomes the block, and
// whatever else a custom template adds is refused naming its place. The worker's own additions
// (image, command after the entrypoint, env with PREFECT_API_KEY / PREFECT_API_AUTH_STRING as
// secureValue, image registry credentials, user-assigned identities, subnet ids, DNS servers)
// come from the job configuration's fields, as in its prepare_for_flow_run.
// Facts: AzureContainerJobConfiguration and AzureContainerWorker._provision_container_group in
// src/integrations/prefect-azure/prefect_azure/workers/container_instance.py, and
// AzureContainerInstanceCredentials in .../prefect_azure/credentials.py, at PrefectHQ/prefect
// ce79dd3d6cfa2b7337265498210dbc4d25bcdc98.
import { InvalidInputError } from '../../core/errors.js';
import { formatPath, shownValue } from '../../core/zod-problems.js';
import type { JobConfigurationContext, WorkPoolAdapter } from '../../prefect3/adapter.js';
import {
  at,
  baseFieldsOf,
  given,
  isRecord,
  objectAt,
  PREFECT3_IMAGE,
  refuse,
  refuseUnknown,
} from '../../prefect3/job-config.js';

type Context = JobConfigurationContext;

/** The one item of a list (a second one refused). */
function onlyItem(
  parent: Record<string, unknown>,
  key: string,
  what: string,
  context: Context,
): Record<string, unknown> {
  const list = given(parent, key);
  const path = at(context, key).path;
  if (!Array.isArray(list) || list.length === 0) throw refuse(path, `required: a list with the ${what}`);
  if (list.length > 1)
    throw refuse(`${path}[1]`, `the submitter creates only the ${what}: remove the others`);
  const [item] = list;
  if (!isRecord(item)) throw refuse(`${path}[0]`, `expected an object; got ${shownValue(item)}`);
  return item;
}

/** A template value the submitter's request always has; anything else is refused. */
function fixed(
  parent: Record<string, unknown>,
  key: string,
  expected: string,
  why: string,
  context: Context,
): void {
  const value = given(parent, key);
  if (value !== undefined && value !== expected)
    throw refuse(at(context, key).path, `${why}; got ${shownValue(value)}: set ${shownValue(expected)}`);
}

const GROUP_NAME = "[parameters('container_group_name')]";
const CONTAINER_NAME = "[parameters('container_name')]";
const LOCATION = "[parameters('location')]";
const RESOURCE_GROUP_LOCATION = '[resourceGroup().location]';
const UNIQUE_NAME = '[uniqueString(resourceGroup().id)]';

/** The default template's parameters, as they are: the names are the submitter's, the location the resource group's. */
function checkParameters(template: Record<string, unknown>, context: Context): void {
  const parameters = objectAt(template, 'parameters', context);
  const parametersAt = at(context, 'parameters');
  refuseUnknown(parameters, ['location', 'container_group_name', 'container_name'], parametersAt);
  const defaults: [string, string, string][] = [
    ['location', RESOURCE_GROUP_LOCATION, "the container group goes in its resource group's location"],
    ['container_group_name', UNIQUE_NAME, 'the container group is named by the submitter, one per flow run'],
    ['container_name', UNIQUE_NAME, 'the container is named by the submitter (as its group)'],
  ];
  for (const [name, value, why] of defaults) {
    const parameter = objectAt(parameters, name, parametersAt);
    fixed(parameter, 'defaultValue', value, why, at(parametersAt, name));
  }
}

/** The container's requests: what the worker sends for cpu, memory and a gpu is what the template says. */
function requestsOf(container: Record<string, unknown>, context: Context): Record<string, unknown> {
  const properties = objectAt(container, 'properties', context);
  const propertiesAt = at(context, 'properties');
  // image and command are set by the worker from the job configuration; env is replaced by it
  refuseUnknown(properties, ['image', 'command', 'resources', 'environmentVariables'], propertiesAt);
  const env = given(properties, 'environmentVariables');
  if (Array.isArray(env) && env.length > 0)
    throw refuse(
      at(propertiesAt, 'environmentVariables').path,
      "Prefect's worker replaces these with the job's env: give them as the job variable 'env'",
    );
  const resources = objectAt(properties, 'resources', propertiesAt);
  refuseUnknown(resources, ['requests'], at(propertiesAt, 'resources'));
  const requests = objectAt(resources, 'requests', at(propertiesAt, 'resources'));
  refuseUnknown(requests, ['cpu', 'memoryInGB', 'gpu'], at(propertiesAt, 'resources', 'requests'));
  return requests;
}

function armTemplateRequests(config: Record<string, unknown>, context: Context): Record<string, unknown> {
  const template = given(config, 'arm_template');
  const templateAt = at(context, 'arm_template');
  if (!isRecord(template))
    throw refuse(
      templateAt.path,
      `required: the ARM template of the pool's base job template; got ${shownValue(template ?? null)}`,
    );
  refuseUnknown(template, ['$schema', 'contentVersion', 'parameters', 'resources'], templateAt);
  checkParameters(template, templateAt);
  const group = onlyItem(template, 'resources', 'one container group of the flow run', templateAt);
  const groupAt = at(templateAt, 'resources', 0);
  // apiVersion: the submitter PUTs the group with its own (2023-05-01), which has every field it sends
  refuseUnknown(group, ['type', 'apiVersion', 'name', 'location', 'properties'], groupAt);
  fixed(
    group,
    'type',
    'Microsoft.ContainerInstance/containerGroups',
    'the one resource is the container group',
    groupAt,
  );
  fixed(group, 'name', GROUP_NAME, 'the container group is named by the submitter', groupAt);
  fixed(group, 'location', LOCATION, "the container group goes in its resource group's location", groupAt);
  const properties = objectAt(group, 'properties', groupAt);
  const propertiesAt = at(groupAt, 'properties');
  // imageRegistryCredentials, subnetIds, dnsConfig, identity: the job variables image_registry,
  // subnet_ids, dns_servers, identities say them (the worker writes them from those)
  refuseUnknown(properties, ['containers', 'osType', 'restartPolicy'], propertiesAt);
  fixed(properties, 'osType', 'Linux', 'the submitter runs Linux containers', propertiesAt);
  fixed(properties, 'restartPolicy', 'Never', 'a flow run is not restarted by Azure', propertiesAt);
  const container = onlyItem(properties, 'containers', 'one container of the flow run', propertiesAt);
  const containerAt = at(propertiesAt, 'containers', 0);
  refuseUnknown(container, ['name', 'properties'], containerAt);
  fixed(container, 'name', CONTAINER_NAME, 'the container is named by the submitter', containerAt);
  return requestsOf(container, containerAt);
}

/** prefect-azure's credentials: none of client_id, tenant_id, client_secret → the default chain; all three → a service principal. */
function credentialsOf(config: Record<string, unknown>, context: Context): Record<string, unknown> | null {
  const value = given(config, 'aci_credentials');
  const path = at(context, 'aci_credentials');
  if (value === undefined) return null;
  if (!isRecord(value))
    throw refuse(
      path.path,
      `expected an azure-container-instance-credentials block, e.g. "{{ prefect.blocks.azure-container-instance-credentials.NAME }}"; got ${shownValue(value)}`,
    );
  refuseUnknown(value, ['client_id', 'tenant_id', 'client_secret', 'credential_kwargs'], path);
  const keys = ['client_id', 'tenant_id', 'client_secret'] as const;
  const set = keys.filter((key) => given(value, key) !== undefined);
  const kwargs = given(value, 'credential_kwargs');
  const hasKwargs = isRecord(kwargs) ? Object.keys(kwargs).length > 0 : kwargs !== undefined;
  if (set.length === 0) {
    if (hasKwargs)
      throw refuse(
        at(path, 'credential_kwargs').path,
        "without a service principal the submitter uses its own credentials (the deployment's, or the default Azure chain), which take no arguments: remove credential_kwargs",
      );
    return null;
  }
  if (set.length < keys.length)
    throw new InvalidInputError(
      'Job configuration not supported',
      keys
        .filter((key) => !set.includes(key))
        .map((key) => ({
          path: at(path, key).path,
          message:
            'a service principal needs client_id, tenant_id and client_secret (as prefect-azure requires): set it, or none of the three for the default credentials',
        })),
    );
  const out: Record<string, unknown> = {};
  for (const key of keys) out[key] = given(value, key);
  if (hasKwargs) out.credential_kwargs = kwargs;
  return out;
}

/** A docker-registry-credentials block ({username, password, registry_url, reauth}) or an ACRManagedIdentity. */
function imageRegistryOf(config: Record<string, unknown>, context: Context): unknown {
  const value = given(config, 'image_registry');
  if (!isRecord(value)) return value; // undefined, or the schema names the wrong shape
  // reauth is about a Docker client logging in again: ACI pulls with the credentials it is given
  const { reauth: _reauth, ...registry } = value;
  if (_reauth !== undefined && typeof _reauth !== 'boolean')
    throw refuse(
      at(context, 'image_registry', 'reauth').path,
      `expected true or false; got ${shownValue(_reauth)}`,
    );
  return registry;
}

/** The gpu the template requests, or the job variables' gpu_count/gpu_sku (which the worker leaves out). */
function gpuOf(config: Record<string, unknown>, requests: Record<string, unknown>, context: Context) {
  const count = given(config, 'gpu_count');
  const sku = given(config, 'gpu_sku');
  const gpu = given(requests, 'gpu');
  if (gpu === undefined) return { count, sku };
  const gpuPath = formatPath(
    ['arm_template', 'resources', 0, 'properties', 'containers', 0, 'properties'],
    context.path,
  );
  const gpuAt = { ...context, path: `${gpuPath}.resources.requests.gpu` };
  if (!isRecord(gpu)) throw refuse(gpuAt.path, `expected {"count": …, "sku": …}; got ${shownValue(gpu)}`);
  refuseUnknown(gpu, ['count', 'sku'], gpuAt);
  if ((count !== undefined && count !== gpu.count) || (sku !== undefined && sku !== gpu.sku))
    throw refuse(
      at(context, count !== undefined && count !== gpu.count ? 'gpu_count' : 'gpu_sku').path,
      `the ARM template already requests ${shownValue(gpu)}: set the gpu in one place`,
    );
  return { count: gpu.count, sku: gpu.sku };
}

const KNOWN = [
  'command',
  'env',
  'labels',
  'name',
  'image',
  'resource_group_name',
  'subscription_id',
  'identities',
  'entrypoint',
  'image_registry',
  'cpu',
  'gpu_count',
  'gpu_sku',
  'memory',
  'subnet_ids',
  'dns_servers',
  'stream_output',
  'aci_credentials',
  'task_start_timeout_seconds',
  'task_watch_poll_interval',
  'arm_template',
  'keep_container_group',
] as const;

export const workPool: WorkPoolAdapter = {
  poolTypes: ['azure-container-instance'],
  blockType: 'container-instance-job',
  toBlock(config, context) {
    refuseUnknown(config, KNOWN, context);
    const requests = armTemplateRequests(config, context);
    const block: Record<string, unknown> = {
      type: 'container-instance-job',
      ...baseFieldsOf(config, context),
      image: given(config, 'image') ?? PREFECT3_IMAGE,
      aci_credentials: credentialsOf(config, context),
    };
    // entrypoint: not set → the worker's default; set to "" or null → none (the worker tests it for truth)
    if (Object.hasOwn(config, 'entrypoint'))
      block.entrypoint = given(config, 'entrypoint') === undefined ? null : config.entrypoint;
    const gpu = gpuOf(config, requests, context);
    const fields: [string, unknown][] = [
      ['subscription_id', given(config, 'subscription_id')],
      ['resource_group_name', given(config, 'resource_group_name')],
      ['identities', given(config, 'identities')],
      ['image_registry', imageRegistryOf(config, context)],
      ['cpu', given(requests, 'cpu') ?? given(config, 'cpu')],
      ['memory', given(requests, 'memoryInGB') ?? given(config, 'memory')],
      ['gpu_count', gpu.count],
      ['gpu_sku', gpu.sku],
      ['subnet_ids', given(config, 'subnet_ids')],
      ['dns_servers', given(config, 'dns_servers')],
      ['stream_output', given(config, 'stream_output')],
      ['task_start_timeout_seconds', given(config, 'task_start_timeout_seconds')],
      ['task_watch_poll_interval', given(config, 'task_watch_poll_interval')],
      ['keep_container_group', given(config, 'keep_container_group')],
    ];
    for (const [key, value] of fields) if (value !== undefined) block[key] = value;
    return block;
  },
};
