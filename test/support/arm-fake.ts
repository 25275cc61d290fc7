// A protocol-faithful HTTPS fake of the ARM endpoints the container-instance-job provider uses,
// written from the ARM and Container Instances REST references (api-version 2023-05-01), plus
// the Microsoft identity platform's token endpoint (OIDC discovery + client-credentials grant):
//   GET    /{tenant}/v2.0/.well-known/openid-configuration, POST /{tenant}/oauth2/v2.0/token
//   GET    /subscriptions/{s}/resourcegroups/{rg}                              → {location}
//   PUT    …/resourceGroups/{rg}/providers/Microsoft.ContainerInstance/containerGroups/{name}
//          → 201 (200 on update) + Azure-AsyncOperation; the operation answers InProgress,
//          Succeeded or Failed with ARM's error
//   GET    …/containerGroups/{name}   → the resource with its instance view (secureValue never read back)
//   POST   …/containerGroups/{name}/stop → 204;  DELETE → 202 + Location (204 when it is missing)
//   GET    …/containerGroups/{name}/containers/{c}/logs?tail=N → {content}
// Every ARM call needs a bearer token the token endpoint issued, and an api-version. How a
// container behaves is its image's Plan (pull, run, exit code, output), in the state's `plans`.
import { randomUUID } from 'node:crypto';
import * as z from 'zod';
import type { FakeAnswer, FakeRequest, HttpFake } from './http-fake.js';
import { startHttpFake } from './http-fake.js';
import type { SelfSignedCert } from './tls.js';

export interface Plan {
  /** How long the image pull takes (ms; default 50). */
  pullMs?: number;
  /** How long the container runs (ms; default 100). */
  runMs?: number;
  exitCode?: number;
  /** Its output, one line per entry. */
  output?: string[];
  /** The pull never succeeds: this is the event's message (the PUT's operation never finishes). */
  pullFails?: string;
  /** Provisioning fails: the operation ends Failed with this ARM error. */
  provisionFails?: { code: string; message: string };
}

export interface FakeGroup {
  resourceGroup: string;
  name: string;
  /** The wire body the client sent (the last PUT). */
  body: WireGroup;
  location: string;
  createdAt: number;
  stoppedAt?: number;
  puts: number;
}

const WireContainerSchema = z.looseObject({
  name: z.string(),
  properties: z.looseObject({
    image: z.string(),
    command: z.array(z.string()).optional(),
    environmentVariables: z
      .array(z.object({ name: z.string(), value: z.string().optional(), secureValue: z.string().optional() }))
      .optional(),
    resources: z.unknown(),
  }),
});
/** The body of a PUT (what the fake checks of it). */
const WireGroupSchema = z.looseObject({
  location: z.string().optional(),
  tags: z.record(z.string(), z.string()).optional(),
  identity: z.unknown().optional(),
  properties: z.looseObject({
    containers: z.array(WireContainerSchema).min(1),
    osType: z.string(),
    restartPolicy: z.string(),
  }),
});
type WireGroup = z.infer<typeof WireGroupSchema>;

interface Operation {
  key: string;
  kind: 'create' | 'delete';
  polls: number;
}

export interface ArmState {
  subscriptionId: string;
  tenantId: string;
  clientId: string;
  clientSecret: string;
  resourceGroups: Map<string, string>;
  groups: Map<string, FakeGroup>;
  /** Deleted groups by key, for assertions. */
  deleted: string[];
  plans: Map<string, Plan>;
  operations: Map<string, Operation>;
  tokens: Set<string>;
  /** Each token request's scope. */
  scopes: string[];
}

const PROVIDER = 'providers/Microsoft.ContainerInstance/containerGroups';
const GROUP = `/subscriptions/:sub/resourceGroups/:rg/${PROVIDER}/:name`;

function armError(status: number, code: string, message: string): FakeAnswer {
  return { status, body: { error: { code, message } } };
}

const keyOf = (rg: string, name: string) => `${rg.toLowerCase()}/${name.toLowerCase()}`;

function planOf(state: ArmState, group: FakeGroup): Plan {
  const image = group.body.properties.containers[0]?.properties.image ?? '';
  return state.plans.get(image) ?? {};
}

type Phase = 'pulling' | 'pull-failed' | 'provision-failed' | 'running' | 'terminated' | 'stopped';

function phaseOf(state: ArmState, group: FakeGroup, now = Date.now()): Phase {
  const plan = planOf(state, group);
  if (plan.provisionFails) return 'provision-failed';
  if (group.stoppedAt !== undefined) return 'stopped';
  if (plan.pullFails) return 'pull-failed';
  const elapsed = now - group.createdAt;
  const pullMs = plan.pullMs ?? 50;
  if (elapsed < pullMs) return 'pulling';
  return elapsed < pullMs + (plan.runMs ?? 100) ? 'running' : 'terminated';
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}

/** The resource as GET returns it: flattened nowhere, secureValue never read back. */
function resourceOf(state: ArmState, group: FakeGroup): unknown {
  const plan = planOf(state, group);
  const phase = phaseOf(state, group);
  const pullMs = plan.pullMs ?? 50;
  const started = group.createdAt + pullMs;
  const finished = started + (plan.runMs ?? 100);
  const image = group.body.properties.containers[0]?.properties.image ?? '';
  const pulling = {
    count: 1,
    firstTimestamp: iso(group.createdAt),
    lastTimestamp: iso(group.createdAt),
    name: 'Pulling',
    message: `pulling image "${image}"`,
    type: 'Normal',
  };
  const events: unknown[] = [pulling];
  let currentState: Record<string, unknown> = { state: 'Waiting', detailStatus: '' };
  let provisioningState = 'Creating';
  let groupState = 'Pending';
  switch (phase) {
    case 'pull-failed':
      events.push({
        count: 3,
        firstTimestamp: iso(group.createdAt),
        lastTimestamp: iso(Date.now()),
        name: 'Failed',
        message: plan.pullFails,
        type: 'Warning',
      });
      break;
    case 'provision-failed':
      provisioningState = 'Failed';
      groupState = 'Stopped';
      events.push({
        count: 1,
        firstTimestamp: iso(group.createdAt),
        lastTimestamp: iso(group.createdAt),
        name: plan.provisionFails?.code,
        message: plan.provisionFails?.message,
        type: 'Warning',
      });
      break;
    case 'running':
      provisioningState = 'Succeeded';
      groupState = 'Running';
      currentState = { state: 'Running', startTime: iso(started), detailStatus: '' };
      break;
    case 'terminated':
      provisioningState = 'Succeeded';
      groupState = 'Succeeded';
      currentState = {
        state: 'Terminated',
        startTime: iso(started),
        finishTime: iso(finished),
        exitCode: plan.exitCode ?? 0,
        detailStatus: (plan.exitCode ?? 0) === 0 ? 'Completed' : 'Error',
      };
      break;
    case 'stopped':
      provisioningState = 'Succeeded';
      groupState = 'Stopped';
      currentState = { state: 'Terminated', finishTime: iso(group.stoppedAt ?? 0), detailStatus: 'Killed' };
      break;
    case 'pulling':
      break;
  }
  const { body } = group;
  return {
    id: `/subscriptions/${state.subscriptionId}/resourceGroups/${group.resourceGroup}/${PROVIDER}/${group.name}`,
    name: group.name,
    type: 'Microsoft.ContainerInstance/containerGroups',
    location: group.location,
    tags: body.tags ?? {},
    ...(body.identity ? { identity: body.identity } : {}),
    properties: {
      ...body.properties,
      provisioningState,
      containers: body.properties.containers.map((container) => ({
        name: container.name,
        properties: {
          ...container.properties,
          environmentVariables: (container.properties.environmentVariables ?? []).map((variable) =>
            variable.secureValue !== undefined ? { name: variable.name } : variable,
          ),
          instanceView: { restartCount: 0, currentState, events },
        },
      })),
      instanceView: { state: groupState, events: phase === 'provision-failed' ? events : [] },
    },
  };
}

export interface ArmFake extends HttpFake<ArmState> {
  /** A group by resource group and name. */
  group(resourceGroup: string, name: string): FakeGroup | undefined;
}

export async function startArmFake(
  tls: SelfSignedCert,
  init: Partial<Pick<ArmState, 'subscriptionId' | 'tenantId' | 'clientId' | 'clientSecret'>> = {},
): Promise<ArmFake> {
  const state: ArmState = {
    subscriptionId: init.subscriptionId ?? randomUUID(),
    tenantId: init.tenantId ?? randomUUID(),
    clientId: init.clientId ?? randomUUID(),
    clientSecret: init.clientSecret ?? `secret-${randomUUID()}`,
    resourceGroups: new Map([['flows', 'westeurope']]),
    groups: new Map(),
    deleted: [],
    plans: new Map(),
    operations: new Map(),
    tokens: new Set(),
    scopes: [],
  };
  const fake = await startHttpFake({ state, tls: { cert: tls.cert, key: tls.key } });
  const base = fake.url;

  /** ARM's checks before any route: a bearer token it issued, an api-version, the subscription. */
  function refused(request: FakeRequest): FakeAnswer | undefined {
    const auth = request.headers.authorization ?? '';
    const token = auth.startsWith('Bearer ') ? auth.slice(7) : '';
    if (!state.tokens.has(token)) {
      return {
        status: 401,
        headers: { 'www-authenticate': 'Bearer authorization_uri="…", error="invalid_token"' },
        body: { error: { code: 'AuthenticationFailed', message: 'Authentication failed.' } },
      };
    }
    if (!request.query.get('api-version')) {
      return armError(
        400,
        'MissingApiVersionParameter',
        'The api-version query parameter (?api-version=) is required for all requests.',
      );
    }
    if (request.params.sub !== state.subscriptionId) {
      return armError(
        404,
        'SubscriptionNotFound',
        `The subscription '${request.params.sub}' could not be found.`,
      );
    }
    return undefined;
  }

  const arm =
    (handler: (request: FakeRequest) => FakeAnswer) =>
    (request: FakeRequest): FakeAnswer =>
      refused(request) ?? handler(request);

  function found(request: FakeRequest): FakeGroup | FakeAnswer {
    const rg = request.params.rg ?? '';
    if (!state.resourceGroups.has(rg.toLowerCase()))
      return armError(404, 'ResourceGroupNotFound', `Resource group '${rg}' could not be found.`);
    const group = state.groups.get(keyOf(rg, request.params.name ?? ''));
    if (!group) {
      return armError(
        404,
        'ResourceNotFound',
        `The Resource 'Microsoft.ContainerInstance/containerGroups/${request.params.name}' under resource group '${rg}' was not found.`,
      );
    }
    return group;
  }
  const isAnswer = (value: FakeGroup | FakeAnswer): value is FakeAnswer => 'status' in value;

  // ---- identity platform --------------------------------------------------------------
  fake.route('GET /:tenant/v2.0/.well-known/openid-configuration', (request) => {
    const tenant = request.params.tenant ?? '';
    return {
      status: 200,
      body: {
        token_endpoint: `${base}/${tenant}/oauth2/v2.0/token`,
        authorization_endpoint: `${base}/${tenant}/oauth2/v2.0/authorize`,
        issuer: `${base}/${tenant}/v2.0`,
        jwks_uri: `${base}/${tenant}/discovery/v2.0/keys`,
        token_endpoint_auth_methods_supported: [
          'client_secret_post',
          'private_key_jwt',
          'client_secret_basic',
        ],
        response_types_supported: ['code', 'id_token', 'code id_token', 'id_token token'],
        scopes_supported: ['openid', 'profile', 'email', 'offline_access'],
        end_session_endpoint: `${base}/${tenant}/oauth2/v2.0/logout`,
      },
    };
  });
  fake.route('POST /:tenant/oauth2/v2.0/token', (request) => {
    const form = new URLSearchParams(request.text);
    if (
      request.params.tenant !== state.tenantId ||
      form.get('client_id') !== state.clientId ||
      form.get('client_secret') !== state.clientSecret ||
      form.get('grant_type') !== 'client_credentials'
    ) {
      return {
        status: 401,
        body: {
          error: 'invalid_client',
          error_description: 'AADSTS7000215: Invalid client secret provided.',
          error_codes: [7000215],
        },
      };
    }
    const token = `token-${randomUUID()}`;
    state.tokens.add(token);
    state.scopes.push(form.get('scope') ?? '');
    return {
      status: 200,
      body: { token_type: 'Bearer', expires_in: 3599, ext_expires_in: 3599, access_token: token },
    };
  });

  // ---- resource groups --------------------------------------------------------------
  fake.route(
    'GET /subscriptions/:sub/resourcegroups/:rg',
    arm((request) => {
      const rg = request.params.rg ?? '';
      const location = state.resourceGroups.get(rg.toLowerCase());
      if (!location)
        return armError(404, 'ResourceGroupNotFound', `Resource group '${rg}' could not be found.`);
      return {
        status: 200,
        body: {
          id: `/subscriptions/${state.subscriptionId}/resourceGroups/${rg}`,
          name: rg,
          type: 'Microsoft.Resources/resourceGroups',
          location,
          properties: { provisioningState: 'Succeeded' },
        },
      };
    }),
  );

  // ---- container groups -------------------------------------------------------------
  const operationUrl = (id: string, location: string) =>
    `${base}/subscriptions/${state.subscriptionId}/providers/Microsoft.ContainerInstance/locations/${location}/operations/${id}?api-version=2023-05-01`;

  fake.route(
    `PUT ${GROUP}`,
    arm((request) => {
      const rg = request.params.rg ?? '';
      const name = request.params.name ?? '';
      if (!state.resourceGroups.has(rg.toLowerCase()))
        return armError(404, 'ResourceGroupNotFound', `Resource group '${rg}' could not be found.`);
      const parsed = WireGroupSchema.safeParse(request.json);
      if (!parsed.success || !parsed.data.location) {
        return armError(
          400,
          'InvalidRequestContent',
          `The request content was invalid and could not be deserialized: ${parsed.error?.issues[0]?.message ?? "Could not find member 'location'"}.`,
        );
      }
      const body = parsed.data;
      const location = parsed.data.location;
      const key = keyOf(rg, name);
      const existing = state.groups.get(key);
      const group: FakeGroup = existing
        ? { ...existing, body, puts: existing.puts + 1 }
        : { resourceGroup: rg, name, body, location, createdAt: Date.now(), puts: 1 };
      state.groups.set(key, group);
      const id = randomUUID();
      state.operations.set(id, { key, kind: 'create', polls: 0 });
      return {
        status: existing ? 200 : 201,
        headers: { 'azure-asyncoperation': operationUrl(id, location), 'retry-after': '1' },
        body: resourceOf(state, group),
      };
    }),
  );
  fake.route(
    'GET /subscriptions/:sub/providers/Microsoft.ContainerInstance/locations/:location/operations/:id',
    arm((request) => {
      const operation = state.operations.get(request.params.id ?? '');
      if (!operation) return armError(404, 'OperationNotFound', 'The operation was not found.');
      operation.polls++;
      const group = state.groups.get(operation.key);
      let status = 'InProgress';
      let error: unknown;
      if (group) {
        const plan = planOf(state, group);
        const phase = phaseOf(state, group);
        if (phase === 'provision-failed') {
          status = 'Failed';
          error = plan.provisionFails;
        } else if (phase !== 'pulling' && phase !== 'pull-failed') status = 'Succeeded';
      } else status = 'Succeeded';
      return {
        status: 200,
        body: {
          id: `/subscriptions/${state.subscriptionId}/providers/Microsoft.ContainerInstance/locations/${request.params.location}/operations/${request.params.id}`,
          name: request.params.id,
          status,
          ...(error ? { error } : {}),
        },
      };
    }),
  );
  fake.route(
    `GET ${GROUP}`,
    arm((request) => {
      const group = found(request);
      if (isAnswer(group)) return group;
      return { status: 200, body: resourceOf(state, group) };
    }),
  );
  fake.route(
    `POST ${GROUP}/stop`,
    arm((request) => {
      const group = found(request);
      if (isAnswer(group)) return group;
      group.stoppedAt ??= Date.now();
      return { status: 204 };
    }),
  );
  fake.route(
    `DELETE ${GROUP}`,
    arm((request) => {
      const rg = request.params.rg ?? '';
      const key = keyOf(rg, request.params.name ?? '');
      const group = state.groups.get(key);
      if (!group) return { status: 204 };
      state.groups.delete(key);
      state.deleted.push(key);
      const id = randomUUID();
      state.operations.set(id, { key, kind: 'delete', polls: 0 });
      return {
        status: 202,
        headers: {
          location: `${base}/subscriptions/${state.subscriptionId}/providers/Microsoft.ContainerInstance/locations/${group.location}/operationResults/${id}?api-version=2023-05-01`,
          'retry-after': '1',
        },
      };
    }),
  );
  fake.route(
    'GET /subscriptions/:sub/providers/Microsoft.ContainerInstance/locations/:location/operationResults/:id',
    arm((request) => {
      const operation = state.operations.get(request.params.id ?? '');
      if (!operation) return armError(404, 'OperationNotFound', 'The operation was not found.');
      operation.polls++;
      return { status: 204 };
    }),
  );
  fake.route(
    `GET ${GROUP}/containers/:container/logs`,
    arm((request) => {
      const group = found(request);
      if (isAnswer(group)) return group;
      const phase = phaseOf(state, group);
      const plan = planOf(state, group);
      const ran = phase === 'running' || phase === 'terminated' || phase === 'stopped';
      const lines = ran ? (plan.output ?? []) : [];
      const tail = Number(request.query.get('tail') ?? lines.length);
      const shown = lines.slice(Math.max(0, lines.length - tail));
      return { status: 200, body: { content: shown.length ? `${shown.join('\n')}\n` : '' } };
    }),
  );

  return Object.assign(fake, {
    group: (resourceGroup: string, name: string) => state.groups.get(keyOf(resourceGroup, name)),
  });
}
