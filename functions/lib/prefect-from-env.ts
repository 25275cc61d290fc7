// The Prefect API client of a deployed function, from its environment: PREFECT_API_URL, and
// the key either as PREFECT_API_KEY (local use) or by reference as PREFECT_API_KEY_SECRET_ARN
// (deployed: read from Secrets Manager only when a Crashed state is proposed).
import { type SecretReader, secretsManagerReader } from '../../core/secret-ref.js';
import { type PrefectApi, prefectApi } from './prefect-api.js';

export const PREFECT_KEY_SECRET_ENV = 'PREFECT_API_KEY_SECRET_ARN';

export function prefectFromEnv(
  env: NodeJS.ProcessEnv,
  options: { secrets?: SecretReader; fetchImpl?: typeof fetch } = {},
): PrefectApi | undefined {
  const url = env.PREFECT_API_URL;
  if (!url) return undefined;
  const secretArn = env[PREFECT_KEY_SECRET_ENV];
  if (!secretArn) return prefectApi(url, env.PREFECT_API_KEY, options.fetchImpl);
  const secrets = options.secrets ?? secretsManagerReader();
  return {
    async proposeCrashed(flowRunId, message) {
      const key = await secrets.read(secretArn);
      await prefectApi(url, key, options.fetchImpl).proposeCrashed(flowRunId, message);
    },
  };
}
