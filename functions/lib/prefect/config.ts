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
  /** The same for the auth string (PREFECT_API_AUTH_STRING_SECRET_ARN). */
  authStringSecretArn?: string;
  /** Where the credential lives for Cloud Run and Kubernetes flow runs (./flow-run-env.ts). */
  keyReferences?: KeyReferences;
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
  const keyReferences = keyReferencesFromEnv(env);
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
  const base = { apiUrl, keyReferences };
  const given = (kind: 'key' | 'auth-string', value: string) => async (): Promise<Credential> => ({
    kind,
    value,
  });
  if (keyArn)
    return {
      ...base,
      credentialSetting: PREFECT_KEY_SECRET_ENV,
      credential: byRef(keyArn, 'key'),
      keySecretArn: keyArn,
    };
  if (key) return { ...base, credentialSetting: 'PREFECT_API_KEY', credential: given('key', key) };
  if (authArn)
    return {
      ...base,
      credentialSetting: PREFECT_AUTH_STRING_SECRET_ENV,
      credential: byRef(authArn, 'auth-string'),
      authStringSecretArn: authArn,
    };
  if (authString)
    return {
      ...base,
      credentialSetting: 'PREFECT_API_AUTH_STRING',
      credential: given('auth-string', authString),
    };
  return { ...base, credentialSetting: undefined, credential: async () => undefined };
}

// Where the credential lives for flow runs on Cloud Run and Kubernetes, for the platform to
// inject (how each provider gets it: ./flow-run-env.ts). Kubernetes: Prefect's own kubernetes
// worker settings (prefect_kubernetes/settings.py at ce79dd3d6cfa2b7337265498210dbc4d25bcdc98:
// PREFECT_INTEGRATIONS_KUBERNETES_WORKER_API_KEY_SECRET_NAME / _KEY, and the auth string's).
// Cloud Run: Prefect's cloud-run-v2 worker takes `prefect_api_key_secret` as a job variable
// (a SecretKeySelector {secret, version}); a deployment setting here, as one is for the others.

/** The credential names a flow run reads (Prefect's settings). */
export type CredentialName = 'PREFECT_API_KEY' | 'PREFECT_API_AUTH_STRING';
export const CREDENTIAL_NAMES: readonly CredentialName[] = ['PREFECT_API_KEY', 'PREFECT_API_AUTH_STRING'];

/** `PREFECT_API_KEY_GCP_SECRET` (+ `_VERSION`), `PREFECT_API_AUTH_STRING_GCP_SECRET` (+ `_VERSION`). */
export const gcpSecretSetting = (name: CredentialName) => `${name}_GCP_SECRET`;
/** `PREFECT_INTEGRATIONS_KUBERNETES_WORKER_API_KEY_SECRET_NAME` (+ `_SECRET_KEY`), and `…_API_AUTH_STRING_…`. */
export const k8sSecretSetting = (name: CredentialName) =>
  `PREFECT_INTEGRATIONS_KUBERNETES_WORKER_${name.replace(/^PREFECT_/, '')}_SECRET`;

/** Where the credential lives for the providers that read it from their platform's secret store. */
export interface KeyReferences {
  /** Secret Manager: `<secret>` (the job's project) or `projects/<project>/secrets/<secret>`. */
  cloudRun?: Partial<Record<CredentialName, { secret: string; version: string }>>;
  /** A Kubernetes Secret in the Job's namespace, and the key in it holding the value. */
  kubernetes?: Partial<Record<CredentialName, { name: string; key: string }>>;
}

// Secret Manager: secret ids are letters, digits, '-' and '_' (at most 255)
const GCP_SECRET = /^(projects\/[^/\s]+\/secrets\/)?[A-Za-z0-9_-]{1,255}$/;
// `latest`, a version number, or a version alias
const GCP_VERSION = /^(latest|[1-9][0-9]*|[A-Za-z][A-Za-z0-9_-]{0,62})$/;
// a Secret's name is a DNS subdomain; a key in it is letters, digits, '-', '_' and '.'
const K8S_NAME = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const K8S_KEY = /^[-._a-zA-Z0-9]+$/;

function trimmed(env: NodeJS.ProcessEnv, name: string): string | undefined {
  const value = env[name]?.trim();
  return value ? value : undefined;
}

/** The credential references of this deployment's environment; a malformed one names its setting. */
export function keyReferencesFromEnv(env: NodeJS.ProcessEnv): KeyReferences {
  const cloudRun: NonNullable<KeyReferences['cloudRun']> = {};
  const kubernetes: NonNullable<KeyReferences['kubernetes']> = {};
  for (const credential of CREDENTIAL_NAMES) {
    const secretSetting = gcpSecretSetting(credential);
    const versionSetting = `${secretSetting}_VERSION`;
    const secret = trimmed(env, secretSetting);
    const version = trimmed(env, versionSetting);
    if (secret) {
      if (!GCP_SECRET.test(secret))
        throw new PrefectConfigError(
          `${secretSetting} must name a Secret Manager secret: '<secret>' or 'projects/<project>/secrets/<secret>' (letters, digits, '-' and '_'), got '${secret}'`,
        );
      if (version !== undefined && !GCP_VERSION.test(version))
        throw new PrefectConfigError(
          `${versionSetting} must be 'latest', a version number or a version alias, got '${version}'`,
        );
      cloudRun[credential] = { secret, version: version ?? 'latest' };
    } else if (version) {
      throw new PrefectConfigError(
        `${versionSetting} is set without ${secretSetting}: set the secret too, or drop the version`,
      );
    }
    const nameSetting = `${k8sSecretSetting(credential)}_NAME`;
    const keySetting = `${k8sSecretSetting(credential)}_KEY`;
    const name = trimmed(env, nameSetting);
    const key = trimmed(env, keySetting);
    if (!name && !key) continue;
    if (!name || !key)
      throw new PrefectConfigError(
        `${nameSetting} and ${keySetting} go together (the Secret and the key in it): set ${name ? keySetting : nameSetting} too`,
      );
    if (name.length > 253 || !K8S_NAME.test(name))
      throw new PrefectConfigError(
        `${nameSetting} must be a Kubernetes Secret name (lowercase letters, digits, '-' and '.'), got '${name}'`,
      );
    if (key.length > 253 || !K8S_KEY.test(key))
      throw new PrefectConfigError(
        `${keySetting} must be a key of the Secret (letters, digits, '-', '_' and '.'), got '${key}'`,
      );
    kubernetes[credential] = { name, key };
  }
  return {
    ...(Object.keys(cloudRun).length > 0 ? { cloudRun } : {}),
    ...(Object.keys(kubernetes).length > 0 ? { kubernetes } : {}),
  };
}

/** Where one credential lives, as a deployment configuration gives it (the CDK config's `prefect.flowRunSecret`). */
export interface KeyReferenceInput {
  cloudRun?: { secret: string; version?: string | undefined } | undefined;
  kubernetes?: { name: string; key: string } | undefined;
}

/** The settings `keyReferencesFromEnv` reads for `credential`, from a configuration's references. */
export function keyReferenceSettings(
  credential: CredentialName,
  refs: KeyReferenceInput,
): Record<string, string> {
  const out: Record<string, string> = {};
  if (refs.cloudRun) {
    out[gcpSecretSetting(credential)] = refs.cloudRun.secret;
    if (refs.cloudRun.version) out[`${gcpSecretSetting(credential)}_VERSION`] = refs.cloudRun.version;
  }
  if (refs.kubernetes) {
    out[`${k8sSecretSetting(credential)}_NAME`] = refs.kubernetes.name;
    out[`${k8sSecretSetting(credential)}_KEY`] = refs.kubernetes.key;
  }
  return out;
}
