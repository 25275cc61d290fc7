// The `container-instance-job` provider: one Azure Container Instances container group per flow
// run, as a driver of the shared runtime, through @azure/arm-containerinstance.
// find: GET the group by its deterministic name, ours if its flow-run tag says so. prepare: the
// resource group's location when the block leaves it open. create: PUT (a long-running operation,
// polled here with our own deadline, never the SDK's endless wait); a group under our name with
// another flow run's tag is refused (a PUT would overwrite it). status: the container's
// instanceView.currentState, the group's events as the reason while it waits. logs: the tail.
// stop: stop the group. remove: delete it unless keep_container_group (then stop it).
// The subscription id is a secret: the handle holds the resource group and group name only;
// each step takes the subscription from the block.
import type {
  Event as AciEvent,
  ContainerGroup,
  ContainerGroupsGetResponse,
} from '@azure/arm-containerinstance';
import { createPipelineRequest } from '@azure/core-rest-pipeline';
import * as z from 'zod';
import { ProviderPermanentError, ProviderTransientError } from '../../core/errors.js';
import { type SecretReader, secretsManagerReader } from '../../core/secret-ref.js';
import { FLOW_RUN_LABEL } from '../identity.js';
import type { InfraStatus, Provider, Target } from '../port.js';
import { type Classifier, classifyHttp, errorName } from '../runtime/classify.js';
import { type Driver, defineProvider, type RuntimeOptions } from '../runtime/provider.js';
import { DEFAULT_RETRY, type RetryPolicy, retrying } from '../runtime/retry.js';
import { AZURE_ENV, type AzureConnectionOptions, azureClients, credentialsFromSecret } from './azure.js';
import type { ContainerInstanceJobBlock } from './block.js';
import {
  armTags,
  type ContainerGroupBody,
  type ContainerInstanceRequest,
  containerGroupName,
} from './build.js';
import { containerInstanceJobSpec } from './spec.js';

export const ContainerInstanceHandleSchema = z.object({
  resource_group: z.string().min(1),
  name: z.string().min(1),
});
export type ContainerInstanceHandle = z.infer<typeof ContainerInstanceHandleSchema>;

/** The flow-run tag as ARM stores it (armTags replaces the `/`). */
export const FLOW_RUN_TAG = Object.keys(armTags({ [FLOW_RUN_LABEL]: '' }))[0] ?? FLOW_RUN_LABEL;
const RESOURCE_GROUPS_API_VERSION = '2021-04-01';

export interface ContainerInstanceJobProviderOptions extends AzureConnectionOptions {
  retry?: Partial<RetryPolicy>;
  runtime?: RuntimeOptions;
  /** How long create follows the PUT's operation before handing the group to the watch (ms). */
  createWaitMs?: number;
  /** Pause between polls of a long-running operation (ms). */
  operationPollMs?: number;
}

const ResourceGroupSchema = z.looseObject({ location: z.string().min(1) });

/** ARM answers 409 for quota and capacity refusals too: only these codes mean "it exists". */
const EXISTS_CODES = new Set(['Conflict', 'ResourceExists', 'AlreadyExists']);
const classifyArm: Classifier = (error) => {
  const verdict = classifyHttp(error);
  if (verdict?.kind !== 'conflict') return verdict;
  const code = typeof error === 'object' && error && 'code' in error ? String(error.code) : '';
  return EXISTS_CODES.has(code) ? verdict : { ...verdict, kind: 'permanent' };
};

/** The resource group a failed request was for, from its URL. */
function resourceGroupOf(error: unknown): string {
  const url =
    typeof error === 'object' &&
    error &&
    'request' in error &&
    typeof error.request === 'object' &&
    error.request &&
    'url' in error.request
      ? String(error.request.url)
      : '';
  return decodeURIComponent(/\/resource[gG]roups\/([^/?]+)/.exec(url)?.[1] ?? '?');
}

function isNotFound(error: unknown): boolean {
  return error instanceof ProviderPermanentError && error.kind === 'not-found';
}

/** The SDK's (flattened) model of the wire body build made. */
export function toModel(body: ContainerGroupBody, location: string): ContainerGroup {
  const { properties } = body;
  return {
    location,
    tags: body.tags,
    ...(body.identity
      ? {
          identity: {
            type: body.identity.type,
            userAssignedIdentities: body.identity.userAssignedIdentities,
          },
        }
      : {}),
    containers: properties.containers.map((container) => ({
      name: container.name,
      image: container.properties.image,
      command: container.properties.command,
      environmentVariables: container.properties.environmentVariables,
      resources: container.properties.resources,
    })),
    osType: properties.osType,
    restartPolicy: properties.restartPolicy,
    ...(properties.imageRegistryCredentials
      ? { imageRegistryCredentials: properties.imageRegistryCredentials }
      : {}),
    ...(properties.subnetIds ? { subnetIds: properties.subnetIds } : {}),
    ...(properties.dnsConfig ? { dnsConfig: properties.dnsConfig } : {}),
  };
}

function eventText(event: AciEvent): string {
  const count = event.count && event.count > 1 ? ` (×${event.count})` : '';
  return `${event.name ?? event.type ?? 'event'}: ${event.message ?? ''}${count}`.trim();
}

/** The last warning among the group's and the container's events: why it does not start. */
function lastWarning(group: ContainerGroupsGetResponse): string | undefined {
  const events = [
    ...(group.instanceView?.events ?? []),
    ...(group.containers[0]?.instanceView?.events ?? []),
  ].filter((event) => event.type === 'Warning');
  events.sort((a, b) => (a.lastTimestamp?.getTime() ?? 0) - (b.lastTimestamp?.getTime() ?? 0));
  const last = events.at(-1);
  return last ? eventText(last) : undefined;
}

/** The flow run's status from the group (GET, with its instance view). */
export function statusOfGroup(group: ContainerGroupsGetResponse): InfraStatus {
  const warning = lastWarning(group);
  if (group.provisioningState === 'Failed') {
    return {
      phase: 'failed',
      exit_code: null,
      reason: `the container group failed to provision${warning ? `: ${warning}` : ''}`,
    };
  }
  const current = group.containers[0]?.instanceView?.currentState;
  const detail = current?.detailStatus ? ` (${current.detailStatus})` : '';
  switch (current?.state) {
    case 'Terminated': {
      const code = current.exitCode;
      if (code === 0) return { phase: 'succeeded', exit_code: 0 };
      if (code === undefined) {
        return { phase: 'failed', exit_code: null, reason: `the container was terminated${detail}` };
      }
      return { phase: 'failed', exit_code: code, reason: `the container exited with code ${code}${detail}` };
    }
    case 'Running':
      return { phase: 'running' };
    default: {
      if (group.instanceView?.state === 'Stopped') {
        return { phase: 'failed', exit_code: null, reason: 'the container group was stopped' };
      }
      const waiting =
        warning ?? current?.detailStatus ?? `provisioning ${group.provisioningState ?? 'pending'}`;
      return { phase: 'pending', reason: waiting };
    }
  }
}

export function createContainerInstanceJobProvider(
  options: ContainerInstanceJobProviderOptions = {},
): Provider<ContainerInstanceJobBlock, ContainerInstanceRequest, ContainerInstanceHandle> {
  const retry: RetryPolicy = { ...DEFAULT_RETRY, ...options.retry };
  const clientFor = azureClients(options);
  const createWaitMs = options.createWaitMs ?? 20_000;
  const pollMs = options.operationPollMs ?? 2000;

  function call<T>(what: string, fn: () => Promise<T>, attempts?: number): Promise<T> {
    return retrying(what, fn, {
      policy: attempts ? { ...retry, attempts } : retry,
      classifiers: [classifyArm],
      explain: (error, verdict) => {
        if (/^Authentication(Required)?Error$/.test(errorName(error))) {
          return `${verdict.reason}: Microsoft Entra refused the service principal: check tenant_id, client_id and client_secret (the block's aci_credentials, or the deployment's secret) and AZURE_AUTHORITY_HOST for a sovereign cloud`;
        }
        if (/^HTTP 403\b/.test(verdict.reason)) {
          return `${verdict.reason}: the identity needs a role on resource group '${resourceGroupOf(error)}' allowing Microsoft.ContainerInstance/containerGroups/* and Microsoft.Resources/subscriptions/resourceGroups/read (e.g. Contributor; docs/providers.md#credentials)`;
        }
        return undefined;
      },
    });
  }

  async function getGroup(target: Target<ContainerInstanceJobBlock>, resourceGroup: string, name: string) {
    const { client } = await clientFor(target.block);
    try {
      return await call(`get container group ${resourceGroup}/${name}`, () =>
        client.containerGroups.get(resourceGroup, name),
      );
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw error;
    }
  }

  /** The resource group's location (GET …/resourcegroups/{name}), through the client's pipeline and token. */
  async function locationOf(target: Target<ContainerInstanceJobBlock>): Promise<string> {
    const { client, endpoint } = await clientFor(target.block);
    const resourceGroup = target.block.resource_group_name;
    const url = `${endpoint}/subscriptions/${encodeURIComponent(target.block.subscription_id)}/resourcegroups/${encodeURIComponent(resourceGroup)}?api-version=${RESOURCE_GROUPS_API_VERSION}`;
    const response = await call(`read resource group '${resourceGroup}'`, async () => {
      const answer = await client.sendRequest(createPipelineRequest({ url, method: 'GET' }));
      if (answer.status >= 400)
        throw new ArmResponseError(
          answer.status,
          answer.bodyAsText ?? undefined,
          answer.headers.get('retry-after') ?? undefined,
        );
      return answer;
    });
    let document: unknown;
    try {
      document = JSON.parse(response.bodyAsText ?? '');
    } catch {
      document = undefined;
    }
    const parsed = ResourceGroupSchema.safeParse(document);
    if (!parsed.success) {
      throw new ProviderPermanentError(
        `resource group '${resourceGroup}': ARM's answer has no location; set infrastructure location explicitly`,
      );
    }
    return parsed.data.location;
  }

  const handleOf = (target: Target<ContainerInstanceJobBlock>, name: string): ContainerInstanceHandle => ({
    resource_group: target.block.resource_group_name,
    name,
  });

  async function stopGroup(target: Target<ContainerInstanceJobBlock>, handle: ContainerInstanceHandle) {
    const { client } = await clientFor(target.block);
    try {
      await call(`stop container group ${handle.resource_group}/${handle.name}`, () =>
        client.containerGroups.stop(handle.resource_group, handle.name),
      );
    } catch (error) {
      if (!isNotFound(error)) throw error; // gone already is stopped
    }
  }

  async function deleteGroup(target: Target<ContainerInstanceJobBlock>, handle: ContainerInstanceHandle) {
    const { client } = await clientFor(target.block);
    const what = `delete container group ${handle.resource_group}/${handle.name}`;
    try {
      const poller = await call(what, () =>
        client.containerGroups.beginDelete(handle.resource_group, handle.name, {
          updateIntervalInMs: pollMs,
        }),
      );
      await followOperation(what, poller, Date.now() + createWaitMs, pollMs);
    } catch (error) {
      if (!isNotFound(error)) throw error;
    }
  }

  const driver: Driver<ContainerInstanceJobBlock, ContainerInstanceRequest, ContainerInstanceHandle> = {
    handleSchema: ContainerInstanceHandleSchema,
    identify: (handle) => `${handle.resource_group}/${handle.name}`,

    async find(target) {
      const name = containerGroupName(target);
      const group = await getGroup(target, target.block.resource_group_name, name);
      if (!group || group.tags?.[FLOW_RUN_TAG] !== target.flowRun.id) return undefined;
      return { handle: handleOf(target, name), started: true };
    },

    async prepare(target, request) {
      if (request.body.location) return request;
      return { ...request, body: { ...request.body, location: await locationOf(target) } };
    },

    async create(target, request) {
      const name = containerGroupName(target);
      const resourceGroup = target.block.resource_group_name;
      const existing = await getGroup(target, resourceGroup, name);
      if (existing) {
        const owner = existing.tags?.[FLOW_RUN_TAG];
        if (owner === target.flowRun.id) return { handle: handleOf(target, name), started: true };
        // a PUT would replace it: ARM's PUT is create-or-update
        throw new ProviderPermanentError(
          `container group ${resourceGroup}/${name} exists already and is ${owner ? `flow run ${owner}'s` : 'not tagged with a flow run'}`,
          { kind: 'conflict' },
        );
      }
      const location = request.body.location ?? (await locationOf(target));
      const { client } = await clientFor(target.block);
      const what = `create container group ${resourceGroup}/${name}`;
      // one try: a PUT whose answer was lost may have made the group, so the runtime looks first
      const poller = await call(
        what,
        () =>
          client.containerGroups.beginCreateOrUpdate(resourceGroup, name, toModel(request.body, location), {
            updateIntervalInMs: pollMs,
          }),
        1,
      );
      const deadline = Date.now() + Math.min(createWaitMs, target.block.task_start_timeout_seconds * 1000);
      await followOperation(what, poller, deadline, pollMs);
      return { handle: handleOf(target, name), started: true };
    },

    async status(target, handle) {
      const group = await getGroup(target, handle.resource_group, handle.name);
      if (!group) {
        return {
          phase: 'missing',
          reason: `container group ${handle.resource_group}/${handle.name} was deleted`,
        };
      }
      if (group.tags?.[FLOW_RUN_TAG] !== target.flowRun.id) {
        return {
          phase: 'missing',
          reason: `container group ${handle.name} was deleted and another made under its name`,
        };
      }
      return statusOfGroup(group);
    },

    async logs(target, handle, lines) {
      const { client } = await clientFor(target.block);
      try {
        const logs = await call(`read the logs of ${handle.name}`, () =>
          client.containers.listLogs(handle.resource_group, handle.name, handle.name, { tail: lines }),
        );
        return logs.content;
      } catch {
        return undefined; // a container that never started has no logs
      }
    },

    stop: (target, handle) => stopGroup(target, handle),

    async remove(target, _request, handle) {
      if (!handle) return;
      if (target.block.keep_container_group) await stopGroup(target, handle);
      else await deleteGroup(target, handle);
    },
  };

  return defineProvider(containerInstanceJobSpec, driver, { retry, ...options.runtime });
}

/** An ARM error answer to a request sent through the pipeline by hand (classifyHttp reads it). */
export class ArmResponseError extends Error {
  readonly statusCode: number;
  readonly code: string | undefined;
  readonly body: string | undefined;
  readonly headers: Record<string, string>;
  constructor(status: number, body: string | undefined, retryAfter: string | undefined) {
    const parsed = ArmErrorBody.safeParse(safeJson(body));
    const code = parsed.success ? parsed.data.error.code : undefined;
    const message = parsed.success ? parsed.data.error.message : undefined;
    super(message ?? `HTTP ${status}`);
    this.name = 'ArmResponseError';
    this.statusCode = status;
    this.code = code;
    this.body = body;
    this.headers = retryAfter ? { 'retry-after': retryAfter } : {};
  }
}

const ArmErrorBody = z.object({ error: z.object({ code: z.string(), message: z.string().optional() }) });

function safeJson(text: string | undefined): unknown {
  try {
    return text ? JSON.parse(text) : undefined;
  } catch {
    return undefined;
  }
}

interface Poller {
  poll(): Promise<void>;
  isDone(): boolean;
}

/**
 * Follows a long-running operation until it ends or `deadline`: a failed operation throws
 * (ARM's code and message); one still running at the deadline is left to the watch.
 */
async function followOperation(
  what: string,
  poller: Poller,
  deadline: number,
  pollMs: number,
): Promise<void> {
  while (!poller.isDone() && Date.now() + pollMs < deadline) {
    await new Promise((done) => setTimeout(done, pollMs));
    try {
      await retrying(what, () => poller.poll(), { classifiers: [classifyArm], policy: { attempts: 1 } });
    } catch (error) {
      // a poll that failed on the way leaves the operation where it was: the watch follows the group
      if (error instanceof ProviderTransientError) return;
      throw error;
    }
  }
}

/** The provider options a deployed function's environment gives: the deployment's service principal by reference. */
export function deploymentOptions(
  env: NodeJS.ProcessEnv,
  reader: SecretReader = secretsManagerReader(),
): ContainerInstanceJobProviderOptions {
  const arn = env[AZURE_ENV.credentialsSecretArn];
  // the reader keeps what it read for the container's life
  return arn ? { env, defaultCredentials: () => credentialsFromSecret(reader, arn) } : { env };
}

export const containerInstanceJobProvider = createContainerInstanceJobProvider(
  deploymentOptions(process.env),
);
