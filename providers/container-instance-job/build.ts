// Block + flow run → the exact ARM request that creates the container group (pure):
// `PUT …/containerGroups/{name}?api-version=2023-05-01`, as Prefect's
// AzureContainerInstanceJob configures it (one container, Linux, restartPolicy Never).
import { InvalidInputError, type Problem } from '../../core/errors.js';
import { isSecretEnvName } from '../../core/secrets.js';
import { concreteEnv } from '../base.js';
import { flowRunEnv, flowRunLabels, idempotencyKey } from '../identity.js';
import { runName, slugify } from '../naming.js';
import type { Target } from '../port.js';
import type { ContainerInstanceJobBlock } from './block.js';

export const ACI_API_VERSION = '2023-05-01';
/** Stands in the path for the subscription id, a secret: submit puts the block's in. */
export const SUBSCRIPTION_PLACEHOLDER = '{subscriptionId}';
const MAX_TAGS = 50;

/** `EnvironmentVariable`: a secret-looking name goes as `secureValue` (hidden from the portal and API reads). */
export type AciEnvVar = { name: string; value: string } | { name: string; secureValue: string };

export interface AciContainer {
  name: string;
  properties: {
    image: string;
    command: string[];
    environmentVariables: AciEnvVar[];
    resources: { requests: { cpu: number; memoryInGB: number; gpu?: { count: number; sku: string } } };
  };
}

export type AciRegistryCredential =
  | { server: string; username: string; password: string }
  | { server: string; identity: string };

/** The `ContainerGroup` resource body (the fields this submitter sets). */
export interface ContainerGroupBody {
  /** The resource group's location: submit looks it up (see `lookups`) when this is absent. */
  location?: string;
  tags: Record<string, string>;
  identity?: { type: 'UserAssigned'; userAssignedIdentities: Record<string, Record<string, never>> };
  properties: {
    containers: AciContainer[];
    osType: 'Linux';
    restartPolicy: 'Never';
    imageRegistryCredentials?: AciRegistryCredential[];
    subnetIds?: { id: string }[];
    dnsConfig?: { nameServers: string[] };
  };
}

export interface ContainerInstanceRequest {
  method: 'PUT';
  /** Relative to the ARM endpoint; `{subscriptionId}` is filled in at submit. */
  path: string;
  body: ContainerGroupBody;
  /** What submit fills in before sending. */
  lookups: { location?: string };
  /**
   * The group name ends in 12 hex characters of this key, and the group is tagged with the
   * flow-run id. A PUT to an existing name updates that group, so submit GETs it first and
   * adopts it when its flow-run tag matches.
   */
  idempotency_key: string;
}

/** ARM resource group names. */
const RESOURCE_GROUP = /^[-\p{L}\p{N}_.()]{1,90}$/u;

/** `<name slug ≤ 50>-<12 hex>`: lowercase letters, digits and single dashes, ≤ 63 (group and container names). */
export function containerGroupName({ block, flowRun }: Target<ContainerInstanceJobBlock>): string {
  const slug = slugify(block.name ?? flowRun.name ?? '', { maxLength: 50, pattern: /[^a-zA-Z0-9-]+/ });
  return runName(slug, flowRun.id);
}

/** ARM tag keys may not hold `< > % & \ ? /`; values ≤ 256 characters. */
export function armTags(labels: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(labels)) {
    out[key.replace(/[<>%&\\?/]/g, '-').slice(0, 512)] = value.slice(0, 256);
  }
  return out;
}

function environment({ block, flowRun }: Target<ContainerInstanceJobBlock>): AciEnvVar[] {
  const env = { ...concreteEnv(block.env), ...flowRunEnv(flowRun) };
  return Object.entries(env).map(([name, value]) =>
    isSecretEnvName(name) ? { name, secureValue: value } : { name, value },
  );
}

function gpu(block: ContainerInstanceJobBlock): { count: number; sku: string } | undefined {
  if (block.gpu_count && block.gpu_sku) return { count: block.gpu_count, sku: block.gpu_sku };
  return undefined;
}

function problemsOf(block: ContainerInstanceJobBlock, tags: Record<string, string>): Problem[] {
  const problems: Problem[] = [];
  if (!RESOURCE_GROUP.test(block.resource_group_name) || block.resource_group_name.endsWith('.')) {
    problems.push({
      path: 'infrastructure.resource_group_name',
      message: `'${block.resource_group_name}' is not a resource group name: 1-90 letters, digits, '-', '_', '.', '(' or ')', not ending with '.'`,
    });
  }
  // Prefect drops a half-given GPU silently; a run that needs one would then start without it.
  if ((block.gpu_count === null) !== (block.gpu_sku === null)) {
    problems.push({
      path: block.gpu_count === null ? 'infrastructure.gpu_count' : 'infrastructure.gpu_sku',
      message: "a GPU needs both 'gpu_count' and 'gpu_sku': set the other one, or neither",
    });
  }
  const registry = block.image_registry;
  if (registry && 'identity' in registry && !block.identities?.includes(registry.identity)) {
    problems.push({
      path: 'infrastructure.image_registry.identity',
      message: "the container group can only pull with an identity it has: add it to 'identities' too",
    });
  }
  if (Object.keys(tags).length > MAX_TAGS) {
    problems.push({
      path: 'infrastructure.labels',
      message: `Azure allows ${MAX_TAGS} tags per resource and the submitter adds 2: give at most ${MAX_TAGS - 2} labels`,
    });
  }
  return problems;
}

export function buildContainerInstanceRequest(
  target: Target<ContainerInstanceJobBlock>,
): ContainerInstanceRequest {
  const { block, flowRun } = target;
  const tags = armTags({ ...block.labels, ...flowRunLabels(flowRun) });
  const problems = problemsOf(block, tags);
  if (problems.length > 0) throw new InvalidInputError('Invalid container-instance-job block', problems);

  const name = containerGroupName(target);
  const gpuRequest = gpu(block);
  const registry = block.image_registry;
  const body: ContainerGroupBody = {
    tags,
    ...(block.identities?.length
      ? {
          identity: {
            type: 'UserAssigned',
            // ARM reads only the keys (the identities' resource ids)
            userAssignedIdentities: Object.fromEntries(block.identities.map((id) => [id, {}])),
          },
        }
      : {}),
    properties: {
      containers: [
        {
          name,
          properties: {
            image: block.image,
            // A command replaces the image's entrypoint: Prefect puts the entrypoint back in front.
            command: block.entrypoint ? [block.entrypoint, ...block.command] : block.command,
            environmentVariables: environment(target),
            resources: {
              requests: {
                cpu: block.cpu,
                memoryInGB: block.memory,
                ...(gpuRequest ? { gpu: gpuRequest } : {}),
              },
            },
          },
        },
      ],
      osType: 'Linux',
      restartPolicy: 'Never',
      ...(registry
        ? {
            imageRegistryCredentials: [
              'identity' in registry
                ? { server: registry.registry_url, identity: registry.identity }
                : { server: registry.registry_url, username: registry.username, password: registry.password },
            ],
          }
        : {}),
      ...(block.subnet_ids?.length ? { subnetIds: block.subnet_ids.map((id) => ({ id })) } : {}),
      ...(block.dns_servers?.length ? { dnsConfig: { nameServers: block.dns_servers } } : {}),
    },
  };
  const resourceGroup = encodeURIComponent(block.resource_group_name);
  return {
    method: 'PUT',
    path: `/subscriptions/${SUBSCRIPTION_PLACEHOLDER}/resourceGroups/${resourceGroup}/providers/Microsoft.ContainerInstance/containerGroups/${name}?api-version=${ACI_API_VERSION}`,
    body,
    lookups: { location: `the location of resource group '${block.resource_group_name}'` },
    idempotency_key: idempotencyKey(flowRun.id),
  };
}
