// Where the Prefect API is and how to authenticate, as Prefect's own settings say it
// (src/prefect/settings: PREFECT_API_URL, PREFECT_API_KEY, PREFECT_API_AUTH_STRING; profiles
// in `$PREFECT_HOME/profiles.toml`, `active = "<name>"`, `[profiles.<name>]`). Deployed, the
// credential goes by reference: PREFECT_API_KEY_SECRET_ARN / PREFECT_API_AUTH_STRING_SECRET_ARN,
// read from Secrets Manager on first use. The credential is only ever an Authorization header.
import { SubmitterError } from '../../../core/errors.js';
import type { SecretReader } from '../../../core/secret-ref.js';

export const PREFECT_KEY_SECRET_ENV = 'PREFECT_API_KEY_SECRET_ARN';
export const PREFECT_AUTH_STRING_SECRET_ENV = 'PREFECT_API_AUTH_STRING_SECRET_ARN';

export class PrefectConfigError extends SubmitterError {}

export type Credential = { kind: 'key'; value: string } | { kind: 'auth-string'; value: string } | undefined;

export interface PrefectConfig {
  apiUrl: string;
  /** Which setting the credential came from, for messages (never the value). */
  credentialSetting: string | undefined;
  credential(): Promise<Credential>;
  /** The Secrets Manager ARN of the key, when it goes by reference (deployed providers pass it on). */
  keySecretArn?: string;
}

export function authorization(credential: Credential): string | undefined {
  if (!credential) return undefined;
  return credential.kind === 'key'
    ? `Bearer ${credential.value}`
    : `Basic ${Buffer.from(credential.value, 'utf8').toString('base64')}`;
}

/** Prefect settings by name (a profile's, from ./profiles.ts). */
export type Settings = Record<string, string | undefined>;

/**
 * The Prefect API configuration, or undefined when none is set (then nothing calls Prefect).
 * `profile`: the active profile's settings (locally, from ./profiles.ts; a deployed function has
 * only its environment, and its bundle no TOML reader). The environment wins over the profile.
 */
export function prefectConfig(
  env: NodeJS.ProcessEnv,
  options: { secrets?: () => SecretReader; profile?: Settings } = {},
): PrefectConfig | undefined {
  const fromProfile = env.PREFECT_API_URL ? {} : (options.profile ?? {});
  const setting = (name: string) => env[name] ?? fromProfile[name];
  const apiUrl = setting('PREFECT_API_URL');
  if (!apiUrl) return undefined;
  const keyArn = env[PREFECT_KEY_SECRET_ENV];
  const authArn = env[PREFECT_AUTH_STRING_SECRET_ENV];
  const key = setting('PREFECT_API_KEY');
  const authString = setting('PREFECT_API_AUTH_STRING');
  const byRef = (arn: string, kind: 'key' | 'auth-string') => {
    const reader = options.secrets;
    if (!reader)
      throw new PrefectConfigError(
        `${kind === 'key' ? PREFECT_KEY_SECRET_ENV : PREFECT_AUTH_STRING_SECRET_ENV} is set but this function cannot read secrets`,
      );
    let value: Promise<string> | undefined;
    return async (): Promise<Credential> => {
      value ??= reader().read(arn);
      return { kind, value: await value };
    };
  };
  if (keyArn)
    return {
      apiUrl,
      credentialSetting: PREFECT_KEY_SECRET_ENV,
      credential: byRef(keyArn, 'key'),
      keySecretArn: keyArn,
    };
  if (key)
    return {
      apiUrl,
      credentialSetting: 'PREFECT_API_KEY',
      credential: async () => ({ kind: 'key', value: key }),
    };
  if (authArn)
    return {
      apiUrl,
      credentialSetting: PREFECT_AUTH_STRING_SECRET_ENV,
      credential: byRef(authArn, 'auth-string'),
    };
  if (authString)
    return {
      apiUrl,
      credentialSetting: 'PREFECT_API_AUTH_STRING',
      credential: async () => ({ kind: 'auth-string', value: authString }),
    };
  return { apiUrl, credentialSetting: undefined, credential: async () => undefined };
}
