// Proposes a Crashed state to the Prefect API when the infrastructure failed (the engine
// inside never got to report anything itself).
import { classifyHttp } from '../../providers/runtime/classify.js';
import { retrying } from '../../providers/runtime/retry.js';

export interface PrefectApi {
  proposeCrashed(flowRunId: string, message: string): Promise<void>;
}

/** An HTTP answer that was not 2xx, in the shape the runtime's HTTP classifier reads. */
export class PrefectApiError extends Error {
  constructor(
    readonly status: number,
    readonly headers: Headers,
    readonly body: string,
    flowRunId: string,
  ) {
    super(`the Prefect API answered ${status} to set_state for flow run ${flowRunId}`);
    this.name = 'PrefectApiError';
  }
}

export function prefectApi(
  apiUrl: string,
  apiKey: string | undefined,
  fetchImpl: typeof fetch = fetch,
  attempts = 3,
): PrefectApi {
  const base = apiUrl.replace(/\/+$/, '');
  return {
    async proposeCrashed(flowRunId, message) {
      // the runtime's retry loop: 429/5xx/timeouts/dropped connections again (Retry-After honoured), the rest at once
      await retrying(
        `proposing Crashed for flow run ${flowRunId}`,
        async () => {
          const response = await fetchImpl(`${base}/flow_runs/${flowRunId}/set_state`, {
            method: 'POST',
            headers: {
              'content-type': 'application/json',
              ...(apiKey ? { authorization: `Bearer ${apiKey}` } : {}),
            },
            body: JSON.stringify({ state: { type: 'CRASHED', name: 'Crashed', message }, force: false }),
            signal: AbortSignal.timeout(10_000),
          });
          if (!response.ok) {
            throw new PrefectApiError(response.status, response.headers, await response.text(), flowRunId);
          }
        },
        { policy: { attempts, baseMs: 200, capMs: 2000 }, classifiers: [classifyHttp] },
      );
    },
  };
}
