// The Prefect API client of a deployed function, from its environment: PREFECT_API_URL, and
// the credential as PREFECT_API_KEY / PREFECT_API_AUTH_STRING, or by reference as
// PREFECT_API_KEY_SECRET_ARN / PREFECT_API_AUTH_STRING_SECRET_ARN (read from Secrets Manager
// on first use). Undefined without PREFECT_API_URL: then nothing calls Prefect.
import { type SecretReader, secretsManagerReader } from '../../core/secret-ref.js';
import { type PrefectApi, prefectApi } from './prefect/client.js';
import { prefectConfig, type Settings } from './prefect/config.js';

export { PREFECT_KEY_SECRET_ENV } from './prefect/config.js';

export function prefectFromEnv(
  env: NodeJS.ProcessEnv,
  options: { secrets?: SecretReader; fetchImpl?: typeof fetch; profile?: Settings } = {},
): PrefectApi | undefined {
  let reader = options.secrets;
  const config = prefectConfig(env, {
    secrets: () => (reader ??= secretsManagerReader()),
    ...(options.profile ? { profile: options.profile } : {}),
  });
  return config ? prefectApi(config, options.fetchImpl ? { fetchImpl: options.fetchImpl } : {}) : undefined;
}
