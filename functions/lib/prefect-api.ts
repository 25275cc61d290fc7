// Proposes a Crashed state to the Prefect API when the infrastructure failed (the engine
// inside never got to report anything itself).
export interface PrefectApi {
  proposeCrashed(flowRunId: string, message: string): Promise<void>;
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
      let lastError: unknown;
      for (let attempt = 1; attempt <= attempts; attempt++) {
        try {
          const response = await fetchImpl(`${base}/flow_runs/${flowRunId}/set_state`, {
            method: 'POST',
            headers: {
              'content-type': 'application/json',
              ...(apiKey ? { authorization: `Bearer ${apiKey}` } : {}),
            },
            body: JSON.stringify({ state: { type: 'CRASHED', name: 'Crashed', message }, force: false }),
            signal: AbortSignal.timeout(10_000),
          });
          if (response.ok) return;
          lastError = new Error(
            `the Prefect API answered ${response.status} to set_state for flow run ${flowRunId}`,
          );
          if (response.status < 500 && response.status !== 429) break;
        } catch (error) {
          lastError = error;
        }
        await new Promise((done) => setTimeout(done, 200 * 2 ** attempt));
      }
      throw lastError;
    },
  };
}
