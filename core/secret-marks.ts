// Which block fields hold secrets: a mark on the zod schema itself (`secret(z.string())`),
// so the schema that validates a field is also the one place that says it is a credential.
// The walk that uses these marks lives in core/secrets.ts; this module imports only zod so
// every block schema can use it without an import cycle.
import * as z from 'zod';

/** What Prefect writes in place of a secret (exported deployment YAMLs, the UI): never the secret. */
export const REDACTED = '**********';

/**
 * - `value`: the whole value is a secret (a password; or an object such as a service-account
 *   key, shown as one mask).
 * - `document`: a free-form document holding some secrets (a kubeconfig): inside it, values
 *   under secret-looking keys (see `isSecretDocumentKey`) and every env value are secret.
 * - `env`: an environment map: values of secret-looking names (see `isSecretEnvName`) are secret.
 */
export type SecretMark = 'value' | 'document' | 'env';

/** The marks, keyed by schema instance. Private: mark with the functions below. */
export const secretMarks = z.registry<{ secret: SecretMark }>();

/**
 * Environment variable names that look secret: `*_KEY`, `*_SECRET`, `*_TOKEN`, `*PASSWORD*`, and
 * Prefect's two credentials (`PREFECT_API_KEY`, `PREFECT_API_AUTH_STRING`, the pair prefect-azure's
 * worker sends as secure values).
 */
export function isSecretEnvName(name: string): boolean {
  return (
    /(_KEY|_SECRET|_TOKEN)$/i.test(name) ||
    /PASSWORD/i.test(name) ||
    /^PREFECT_API_(KEY|AUTH_STRING)$/i.test(name)
  );
}

/**
 * Keys whose values are secret inside a free-form document (kubeconfig `client-key-data`,
 * `token`, `auth-provider.config` `client-secret` / `refresh-token` / `access-token` /
 * `id-token`, `password`; a service account's `private_key` / `private_key_id`), and inside
 * values no schema describes.
 */
export function isSecretDocumentKey(key: string): boolean {
  return /(^|[_-])(secret|password|passwd|token|private[_-]key(_id)?|api[_-]key|key[_-]data|secret[_-]access[_-]key)$/i.test(
    key,
  );
}

/** Keys whose value is an environment (a map, a `{name, value}` list, or Docker `NAME=value` strings). */
export const ENV_CONTAINER_KEYS: ReadonlySet<string> = new Set([
  'env',
  'environment',
  'environmentVariables',
  'Env',
]);

function placeholderMessage(): string {
  return (
    `is '${REDACTED}', the placeholder Prefect writes instead of a secret (e.g. in an exported deployment YAML), ` +
    'not the secret itself: give the real value, from a secret reference (e.g. a Secrets Manager secret ' +
    "your deployment reads) or from the block store ('submitter blocks put FILE --name NAME' with the real " +
    "secret, then 'infrastructure_block: TYPE/NAME')"
  );
}

/** Where a placeholder sits inside a value (`[]` for the value itself); undefined when none does. */
function placeholderAt(value: unknown, document: boolean, key?: string): PropertyKey[] | undefined {
  if (value === REDACTED) return !document || key === undefined || isSecretDocumentKey(key) ? [] : undefined;
  if (Array.isArray(value)) {
    for (const [index, item] of value.entries()) {
      const at = placeholderAt(item, document, key);
      if (at) return [index, ...at];
    }
    return undefined;
  }
  if (typeof value === 'object' && value !== null) {
    for (const [childKey, child] of Object.entries(value)) {
      const at = placeholderAt(child, document, childKey);
      if (at) return [childKey, ...at];
    }
  }
  return undefined;
}

function refusePlaceholder(document: boolean) {
  return (value: unknown, ctx: z.core.$RefinementCtx<unknown>) => {
    const at = placeholderAt(value, document);
    if (at) ctx.addIssue({ code: 'custom', path: at, message: placeholderMessage() });
  };
}

/** Marks a credential field: redacted wherever shown; Prefect's `**********` placeholder is refused. */
export function secret<T extends z.ZodType>(schema: T): T {
  const marked = schema.superRefine(refusePlaceholder(false));
  secretMarks.add(marked, { secret: 'value' });
  return marked;
}

/** Marks a free-form document that holds secrets under secret-looking keys (a kubeconfig). */
export function secretDocument<T extends z.ZodType>(schema: T): T {
  const marked = schema.superRefine(refusePlaceholder(true));
  secretMarks.add(marked, { secret: 'document' });
  return marked;
}

/** Marks an environment map: values of secret-looking names are secret. */
export function envValues<T extends z.ZodType>(schema: T): T {
  secretMarks.add(schema, { secret: 'env' });
  return schema;
}

/** The mark on a schema, if any. */
export function secretMarkOf(schema: z.core.$ZodType): SecretMark | undefined {
  return secretMarks.get(schema)?.secret;
}
