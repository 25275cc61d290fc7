// What counts as a secret, and how secrets are kept out of previews, logs,
// workflow state and reports.

export const REDACTED = '**********';

/** Block fields that hold credentials (Prefect's SecretStr fields and their kin). */
const SECRET_FIELD =
  /(^|_)(secret|password|token|private_key|api_key|secret_access_key|service_account_info)$/i;
const SECRET_FIELD_NAMES = new Set([
  'subscription_id',
  'client_secret',
  'aws_session_token',
  'cluster_token',
  // ACI's EnvironmentVariable.secureValue
  'securevalue',
]);

/** Environment variable names that look secret: `*_KEY`, `*_SECRET`, `*_TOKEN`, `*PASSWORD*`. */
export function isSecretEnvName(name: string): boolean {
  return /(_KEY|_SECRET|_TOKEN)$/i.test(name) || /PASSWORD/i.test(name) || /^PREFECT_API_KEY$/i.test(name);
}

export function isSecretField(name: string): boolean {
  return SECRET_FIELD_NAMES.has(name.toLowerCase()) || SECRET_FIELD.test(name);
}

const ENV_CONTAINERS = new Set(['env', 'environment', 'environmentVariables', 'Env']);

type Visitor = (secret: string) => string;

function walk(value: unknown, onSecret: Visitor, parentKey?: string): unknown {
  if (Array.isArray(value)) {
    return value.map((item) => {
      // Docker's `Env: ["NAME=value"]`
      if (typeof item === 'string' && parentKey && ENV_CONTAINERS.has(parentKey)) {
        const eq = item.indexOf('=');
        if (eq > 0 && isSecretEnvName(item.slice(0, eq)))
          return `${item.slice(0, eq + 1)}${onSecret(item.slice(eq + 1))}`;
        return item;
      }
      return walk(item, onSecret, parentKey);
    });
  }
  if (value === null || typeof value !== 'object') return value;
  const record = value as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  // `{name: "API_TOKEN", value: "…"}` pairs (ECS, Kubernetes, Cloud Run, ACI env lists)
  const pairName = typeof record.name === 'string' ? record.name : undefined;
  const pairIsSecret = pairName !== undefined && isSecretEnvName(pairName);
  // A Secret Manager reference `{secret, version}` (Cloud Run's secretKeyRef) names a secret; it is not one.
  const isReference = typeof record.secret === 'string' && typeof record.version === 'string';
  for (const [key, child] of Object.entries(record)) {
    if (isReference && key === 'secret') {
      out[key] = child;
      continue;
    }
    const envMap = parentKey !== undefined && ENV_CONTAINERS.has(parentKey) && !Array.isArray(value);
    if (typeof child === 'string' && (isSecretField(key) || (envMap && isSecretEnvName(key)))) {
      out[key] = onSecret(child);
    } else if (pairIsSecret && key === 'value' && typeof child === 'string') {
      out[key] = onSecret(child);
    } else if (child !== null && typeof child === 'object' && isSecretField(key)) {
      // e.g. a service account JSON given as an object
      out[key] = onSecret(JSON.stringify(child));
    } else {
      out[key] = walk(child, onSecret, key);
    }
  }
  return out;
}

/** A deep copy with every secret value replaced by `**********`. */
export function redact<T>(value: T): T {
  return walk(value, () => REDACTED) as T;
}

/** The secret values inside a document, for scrubbing free text (logs, reasons). */
export function collectSecretValues(value: unknown): string[] {
  const found = new Set<string>();
  walk(value, (secret) => {
    if (secret.length >= 4) found.add(secret);
    return secret;
  });
  return [...found];
}

/** Replaces every occurrence of a known secret value in text. */
export function scrub(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const secret of [...secrets].sort((a, b) => b.length - a.length)) {
    if (secret) out = out.split(secret).join(REDACTED);
  }
  return out;
}
