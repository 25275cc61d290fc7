// A fake Prefect server with exactly the endpoints the submitter calls, on the HTTP fake
// (http-fake.ts). Its facts are Prefect's, at revision ce79dd3d6cfa2b7337265498210dbc4d25bcdc98:
//
// - GET  /flow_runs/{id}: the FlowRun (src/prefect/server/api/flow_runs.py read_flow_run);
//   404 `{"detail":"Flow run not found"}` when there is none (deleted). Ids parse as UUIDs,
//   so the hex form the engine gets in PREFECT__FLOW_RUN_ID names the same run.
// - POST /flow_runs/{id}/set_state `{state, force}`: an OrchestrationResult
//   (src/prefect/server/schemas/responses.py: status ACCEPT/REJECT/ABORT/WAIT, state, details);
//   201 when accepted, else 200 (flow_runs.py set_flow_run_state). Rules
//   (src/prefect/server/orchestration/core_policy.py): PreventPendingTransitions aborts PENDING
//   from PENDING, RUNNING, CANCELLING, CANCELLED; HandleFlowTerminalStateTransitions aborts
//   CANCELLING/PAUSED/CRASHED and PENDING over a terminal state (COMPLETED with a persisted result);
//   everything else here (CANCELLING → CANCELLED, PENDING → RUNNING, RUNNING → COMPLETED…) is accepted.
// - PATCH /flow_runs/{id} `{infrastructure_pid}`: 204 (flow_runs.py update_flow_run).
// - POST /deployments/{id}/create_flow_run: the FlowRun; 201 when created, 200 with the existing
//   run when the idempotency_key was used for this flow before (deployments.py
//   create_flow_run_from_deployment; models/flow_runs.py create_flow_run dedups on
//   (flow_id, idempotency_key)); 404 `{"detail":"Deployment not found"}`.
// - GET  /deployments/name/{flow}/{deployment}: the Deployment (deployments.py read_deployment_by_name).
// - A wrong credential: 401 `{"detail":"Unauthorized"}` (Prefect Cloud; a server with
//   PREFECT_SERVER_API_AUTH_STRING answers 401 too).
// - Outages: `outage(ms)` answers 503 to every call for that long; `inject` (http-fake) for 429/5xx/hang.
import { randomUUID } from 'node:crypto';
import { type FakeAnswer, type FakeRequest, type HttpFake, startHttpFake } from './http-fake.js';

export const PREFECT_REVISION = 'ce79dd3d6cfa2b7337265498210dbc4d25bcdc98';

const TERMINAL = new Set(['COMPLETED', 'FAILED', 'CANCELLED', 'CRASHED']);
const PENDING_FORBIDDEN_FROM = new Set(['PENDING', 'RUNNING', 'CANCELLING', 'CANCELLED']);

export interface FakeState {
  type: string;
  name: string;
  message: string | null;
  id: string;
  timestamp: string;
}

export interface FakeFlowRun {
  id: string;
  name: string;
  flow_id: string;
  deployment_id: string | null;
  idempotency_key: string | null;
  infrastructure_pid: string | null;
  parameters: Record<string, unknown>;
  tags: string[];
  /** Prefect 3 FlowRun.job_variables (client/schemas/objects.py): the run's own, or null. */
  job_variables: Record<string, unknown> | null;
  state: FakeState | null;
  /** Every state it went through, oldest first (the fake's record, not Prefect's field). */
  history: FakeState[];
}

export interface PrefectFakeState {
  flowRuns: Map<string, FakeFlowRun>;
  deployments: Map<string, { id: string; name: string; flow_id: string; flow_name: string }>;
  /** The credential the fake wants (`Bearer <key>` or `Basic <base64>`); undefined: none checked. */
  authorization?: string;
  /** Every call answers 503 until then (epoch ms). */
  outageUntil: number;
  /** The next PENDING proposals are aborted whatever the state (another worker got there first). */
  abortPending: number;
}

export interface PrefectFake {
  http: HttpFake<PrefectFakeState>;
  /** The API URL: `<fake>/api`. */
  apiUrl: string;
  state: PrefectFakeState;
  addDeployment(flowName: string, name: string): string;
  addFlowRun(options?: {
    state?: string;
    deploymentId?: string;
    jobVariables?: Record<string, unknown>;
  }): FakeFlowRun;
  flowRun(id: string): FakeFlowRun | undefined;
  /** Sets a state as the UI/engine would (force). */
  setState(id: string, type: string, name?: string): void;
  outage(ms: number): void;
  close(): Promise<void>;
}

/** A UUID in either form (dashes or hex) → the canonical form; Prefect parses path ids as UUIDs. */
export function canonicalId(id: string): string {
  const hex = id.replace(/-/g, '').toLowerCase();
  if (!/^[0-9a-f]{32}$/.test(hex)) return id;
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

function stateOf(type: string, name?: string, message?: string | null): FakeState {
  return {
    type,
    name: name ?? type.charAt(0) + type.slice(1).toLowerCase(),
    message: message ?? null,
    id: randomUUID(),
    timestamp: new Date().toISOString(),
  };
}

function view(run: FakeFlowRun): Record<string, unknown> {
  const { history: _history, ...rest } = run;
  return rest;
}

const notFound = (what: string): FakeAnswer => ({ status: 404, body: { detail: `${what} not found` } });

export async function startPrefectFake(options: { authorization?: string } = {}): Promise<PrefectFake> {
  const state: PrefectFakeState = {
    flowRuns: new Map(),
    deployments: new Map(),
    ...(options.authorization ? { authorization: options.authorization } : {}),
    outageUntil: 0,
    abortPending: 0,
  };
  const http = await startHttpFake({ state });
  const guarded =
    (handler: (request: FakeRequest, s: PrefectFakeState) => FakeAnswer) =>
    (request: FakeRequest, s: PrefectFakeState): FakeAnswer => {
      if (Date.now() < s.outageUntil) return { status: 503, body: { detail: 'Service Unavailable' } };
      if (s.authorization && request.headers.authorization !== s.authorization)
        return { status: 401, body: { detail: 'Unauthorized' } };
      return handler(request, s);
    };
  const run = (request: FakeRequest, s: PrefectFakeState) =>
    s.flowRuns.get(canonicalId(request.params.id ?? ''));

  http.route(
    'GET /api/flow_runs/:id',
    guarded((request, s) => {
      const found = run(request, s);
      return found ? { status: 200, body: view(found) } : notFound('Flow run');
    }),
  );
  http.route(
    'PATCH /api/flow_runs/:id',
    guarded((request, s) => {
      const found = run(request, s);
      if (!found) return notFound('Flow run');
      const body = (request.json ?? {}) as { infrastructure_pid?: string };
      if (body.infrastructure_pid !== undefined) found.infrastructure_pid = body.infrastructure_pid;
      return { status: 204 };
    }),
  );
  http.route(
    'POST /api/flow_runs/:id/set_state',
    guarded((request, s) => {
      const found = run(request, s);
      if (!found) return notFound('Flow run');
      const body = (request.json ?? {}) as {
        state?: { type?: string; name?: string; message?: string | null };
        force?: boolean;
      };
      const proposed = body.state;
      if (!proposed?.type)
        return { status: 422, body: { detail: [{ loc: ['body', 'state'], msg: 'field required' }] } };
      const from = found.state?.type;
      const abort = (reason: string): FakeAnswer => ({
        status: 200,
        body: { status: 'ABORT', state: null, details: { type: 'abort_details', reason } },
      });
      if (!body.force && proposed.type === 'PENDING') {
        if (s.abortPending > 0) {
          s.abortPending--;
          return abort('Another worker submitted this run.');
        }
        if (from && (PENDING_FORBIDDEN_FROM.has(from) || TERMINAL.has(from)))
          return abort(`This run is in a ${from} state and cannot transition to a PENDING state.`);
      }
      if (
        !body.force &&
        from &&
        TERMINAL.has(from) &&
        ['CANCELLING', 'PAUSED', 'CRASHED'].includes(proposed.type)
      )
        return abort('Run is already in terminal state.');
      const next = stateOf(proposed.type, proposed.name, proposed.message);
      found.state = next;
      found.history.push(next);
      return { status: 201, body: { status: 'ACCEPT', state: next, details: { type: 'accept_details' } } };
    }),
  );
  http.route(
    'POST /api/deployments/:id/create_flow_run',
    guarded((request, s) => {
      const deployment = s.deployments.get(request.params.id ?? '');
      if (!deployment) return notFound('Deployment');
      const body = (request.json ?? {}) as {
        idempotency_key?: string;
        name?: string;
        parameters?: Record<string, unknown>;
        tags?: string[];
        job_variables?: Record<string, unknown>;
      };
      if (body.idempotency_key) {
        for (const existing of s.flowRuns.values())
          if (existing.flow_id === deployment.flow_id && existing.idempotency_key === body.idempotency_key)
            return { status: 200, body: view(existing) };
      }
      const scheduled = stateOf('SCHEDULED');
      const created: FakeFlowRun = {
        id: randomUUID(),
        name: body.name ?? `fake-${randomUUID().slice(0, 8)}`,
        flow_id: deployment.flow_id,
        deployment_id: deployment.id,
        idempotency_key: body.idempotency_key ?? null,
        infrastructure_pid: null,
        parameters: body.parameters ?? {},
        tags: body.tags ?? [],
        job_variables: body.job_variables ?? null,
        state: scheduled,
        history: [scheduled],
      };
      s.flowRuns.set(created.id, created);
      return { status: 201, body: view(created) };
    }),
  );
  http.route(
    'GET /api/deployments/name/:flow/:deployment',
    guarded((request, s) => {
      for (const d of s.deployments.values())
        if (d.flow_name === request.params.flow && d.name === request.params.deployment)
          return { status: 200, body: { id: d.id, name: d.name, flow_id: d.flow_id } };
      return notFound('Deployment');
    }),
  );

  return {
    http,
    apiUrl: `${http.url}/api`,
    state,
    addDeployment(flowName, name) {
      const id = randomUUID();
      state.deployments.set(id, { id, name, flow_id: randomUUID(), flow_name: flowName });
      return id;
    },
    addFlowRun(opts = {}) {
      const initial = stateOf(opts.state ?? 'SCHEDULED');
      const created: FakeFlowRun = {
        id: randomUUID(),
        name: `fake-${randomUUID().slice(0, 8)}`,
        flow_id: randomUUID(),
        deployment_id: opts.deploymentId ?? null,
        idempotency_key: null,
        infrastructure_pid: null,
        parameters: {},
        tags: [],
        job_variables: opts.jobVariables ?? null,
        state: initial,
        history: [initial],
      };
      state.flowRuns.set(created.id, created);
      return created;
    },
    flowRun: (id) => state.flowRuns.get(canonicalId(id)),
    setState(id, type, name) {
      const found = state.flowRuns.get(canonicalId(id));
      if (!found) throw new Error(`no flow run ${id} in the fake`);
      const next = stateOf(type, name);
      found.state = next;
      found.history.push(next);
    },
    outage(ms) {
      state.outageUntil = Date.now() + ms;
    },
    close: () => http.close(),
  };
}
