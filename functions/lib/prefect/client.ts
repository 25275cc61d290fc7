// The Prefect API calls a worker makes (Prefect ce79dd3d6cfa2b7337265498210dbc4d25bcdc98:
// src/prefect/server/api/flow_runs.py, deployments.py), each through the runtime's retry loop:
// 429 (Retry-After), 5xx, timeouts and dropped connections are transient; 401/403 permanent,
// with the setting to fix; 404 on a flow run means it was deleted. The credential is only
// ever a request header: no message, log or error carries it.
import type * as z from 'zod';
import { ProviderPermanentError } from '../../../core/errors.js';
import { classifyHttp } from '../../../providers/runtime/classify.js';
import { type RetryPolicy, retrying } from '../../../providers/runtime/retry.js';
import { authorization, type KeyReferences, type PrefectConfig } from './config.js';
import {
  type OrchestrationResult,
  OrchestrationResultSchema,
  PrefectDeploymentSchema,
  type PrefectFlowRun,
  PrefectFlowRunSchema,
  type ProposedState,
} from './schemas.js';
import { flowRunUiUrl } from './urls.js';

/** An HTTP answer that was not 2xx, in the shape the runtime's HTTP classifier reads. */
export class PrefectApiError extends Error {
  constructor(
    readonly status: number,
    readonly headers: Headers,
    readonly body: string,
    what: string,
  ) {
    super(`the Prefect API answered ${status} to ${what}`);
    this.name = 'PrefectApiError';
  }
}

/** An answer that is not what Prefect sends: the URL points at something else. */
export class PrefectAnswerError extends ProviderPermanentError {}

export interface DeploymentRef {
  deploymentId?: string;
  flowName?: string;
  deploymentName?: string;
}

export interface NewFlowRun {
  idempotency_key: string;
  name?: string;
  parameters?: Record<string, unknown>;
  tags?: string[];
}

export interface CallOptions {
  /** Tries for this call (default 3): Watch uses 1, its next poll is the retry. */
  attempts?: number;
}

export interface PrefectApi {
  readonly apiUrl: string;
  /** The key's Secrets Manager ARN when it goes by reference (ECS passes it as a container secret). */
  readonly keySecretArn?: string;
  /** The auth string's ARN when it goes by reference (ECS passes it as a container secret). */
  readonly authStringSecretArn?: string;
  /** Where the credential lives for Cloud Run and Kubernetes flow runs (./flow-run-env.ts). */
  readonly keyReferences?: KeyReferences;
  /** Undefined: no such flow run (404: deleted). */
  readFlowRun(id: string, options?: CallOptions): Promise<PrefectFlowRun | undefined>;
  createFlowRunFromDeployment(ref: DeploymentRef, run: NewFlowRun): Promise<PrefectFlowRun>;
  setState(
    id: string,
    state: ProposedState,
    options?: { force?: false } & CallOptions,
  ): Promise<OrchestrationResult>;
  setInfrastructurePid(id: string, pid: string, options?: CallOptions): Promise<void>;
  /** set_state Crashed (force false); throws unless ACCEPT. */
  proposeCrashed(id: string, message: string): Promise<void>;
  flowRunUrl(id: string): string;
  /** Env the flow run needs to reach the API (the process provider's, locally: the key too). */
  flowRunEnv(options: { withCredential: boolean }): Promise<Record<string, string>>;
}

export function prefectApi(
  config: PrefectConfig,
  options: { fetchImpl?: typeof fetch; policy?: Partial<RetryPolicy>; timeoutMs?: number } = {},
): PrefectApi {
  const base = config.apiUrl.replace(/\/+$/, '');
  const fetchImpl = options.fetchImpl ?? fetch;
  const explain = (error: unknown) => {
    if (!(error instanceof PrefectApiError)) return undefined;
    if (error.status === 401 || error.status === 403) {
      const setting = config.credentialSetting ?? 'PREFECT_API_KEY (or PREFECT_API_AUTH_STRING)';
      return `the Prefect API at ${base} refused the credential (HTTP ${error.status}): fix ${setting}${
        config.credentialSetting ? '' : ', which is not set'
      }`;
    }
    return undefined;
  };

  async function call<T>(
    what: string,
    method: string,
    path: string,
    schema: z.ZodType<T> | undefined,
    body: unknown,
    callOptions: CallOptions = {},
  ): Promise<T | undefined> {
    return retrying(
      `${what} (Prefect API)`,
      async () => {
        const auth = authorization(await config.credential());
        const response = await fetchImpl(`${base}${path}`, {
          method,
          headers: {
            accept: 'application/json',
            ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
            ...(auth ? { authorization: auth } : {}),
          },
          ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
          signal: AbortSignal.timeout(options.timeoutMs ?? 10_000),
        });
        const text = await response.text();
        if (!response.ok)
          throw new PrefectApiError(response.status, response.headers, text.slice(0, 2000), what);
        if (!schema) return undefined;
        let json: unknown;
        try {
          json = JSON.parse(text);
        } catch {
          throw new PrefectAnswerError(
            `${what}: the Prefect API at ${base} answered ${response.status} with no JSON: is PREFECT_API_URL the API (ending in /api)?`,
          );
        }
        const parsed = schema.safeParse(json);
        if (!parsed.success)
          throw new PrefectAnswerError(
            `${what}: the answer of ${base} is not a Prefect answer (${parsed.error.issues[0]?.message ?? 'unexpected shape'}): is PREFECT_API_URL the API (ending in /api)?`,
          );
        return parsed.data;
      },
      {
        policy: { attempts: callOptions.attempts ?? 3, baseMs: 250, capMs: 4000, ...options.policy },
        classifiers: [classifyHttp],
        explain,
      },
    );
  }

  const notFound = (error: unknown) => error instanceof ProviderPermanentError && error.kind === 'not-found';

  return {
    apiUrl: base,
    ...(config.keySecretArn ? { keySecretArn: config.keySecretArn } : {}),
    ...(config.authStringSecretArn ? { authStringSecretArn: config.authStringSecretArn } : {}),
    ...(config.keyReferences ? { keyReferences: config.keyReferences } : {}),
    async readFlowRun(id, callOptions) {
      try {
        return await call(
          `reading flow run ${id}`,
          'GET',
          `/flow_runs/${id}`,
          PrefectFlowRunSchema,
          undefined,
          callOptions,
        );
      } catch (error) {
        if (notFound(error)) return undefined;
        throw error;
      }
    },
    async createFlowRunFromDeployment(ref, run) {
      let deploymentId = ref.deploymentId;
      if (!deploymentId) {
        const { flowName, deploymentName } = ref;
        if (!flowName || !deploymentName)
          throw new ProviderPermanentError(
            'creating a flow run needs flow_run.deployment_id, or flow_name and deployment_name',
          );
        const path = `/deployments/name/${encodeURIComponent(flowName)}/${encodeURIComponent(deploymentName)}`;
        const deployment = await call(
          `looking up deployment ${flowName}/${deploymentName}`,
          'GET',
          path,
          PrefectDeploymentSchema,
          undefined,
        );
        deploymentId = deployment?.id;
        if (!deploymentId) throw new PrefectAnswerError(`deployment ${flowName}/${deploymentName} has no id`);
      }
      const created = await call(
        `creating a flow run of deployment ${deploymentId}`,
        'POST',
        `/deployments/${deploymentId}/create_flow_run`,
        PrefectFlowRunSchema,
        run,
      );
      if (!created) throw new PrefectAnswerError('create_flow_run answered no flow run');
      return created;
    },
    async setState(id, state, callOptions = {}) {
      const result = await call(
        `proposing ${state.name} for flow run ${id}`,
        'POST',
        `/flow_runs/${id}/set_state`,
        OrchestrationResultSchema,
        { state: { type: state.type, name: state.name, message: state.message ?? null }, force: false },
        callOptions,
      );
      if (!result) throw new PrefectAnswerError('set_state answered nothing');
      return result;
    },
    async setInfrastructurePid(id, pid, callOptions) {
      await call(
        `recording the infrastructure of flow run ${id}`,
        'PATCH',
        `/flow_runs/${id}`,
        undefined,
        { infrastructure_pid: pid },
        callOptions,
      );
    },
    async proposeCrashed(id, message) {
      const result = await this.setState(id, { type: 'CRASHED', name: 'Crashed', message });
      if (result.status !== 'ACCEPT')
        throw new ProviderPermanentError(
          `Crashed for flow run ${id} was not accepted (${result.status}): ${result.details?.reason ?? 'no reason given'}`,
        );
    },
    flowRunUrl: (id) => flowRunUiUrl(base, id),
    async flowRunEnv({ withCredential }) {
      const env: Record<string, string> = { PREFECT_API_URL: base };
      if (!withCredential) return env;
      const credential = await config.credential();
      if (credential?.kind === 'key') env.PREFECT_API_KEY = credential.value;
      if (credential?.kind === 'auth-string') env.PREFECT_API_AUTH_STRING = credential.value;
      return env;
    },
  };
}
