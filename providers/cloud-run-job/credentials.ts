// Where the Cloud Run driver's Google credentials come from, and how they become tokens:
// a service-account key from the block (credentials.service_account_info), else from the
// deployment's secret (GOOGLE_CREDENTIALS_SECRET_ARN, read by reference), else from the file
// GOOGLE_APPLICATION_CREDENTIALS names. Tokens: google-auth-library's OAuth2Client, whose
// refresh handler makes the JWT-bearer grant at the key's own `token_uri` (google-auth-library's
// JWT client always posts to oauth2.googleapis.com; private endpoints and tests need the key's).
// The key lives in this module's memory only: never in workflow state, logs or reports.
import { createSign } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import * as z from 'zod';
import { ProviderPermanentError } from '../../core/errors.js';
import type { SecretReader } from '../../core/secret-ref.js';
import { classifyHttp } from '../runtime/classify.js';
import { type RetryPolicy, retrying } from '../runtime/retry.js';
import type { CloudRunJobBlock } from './block.js';
import { GOOGLE_ENV } from './deployment.js';

export { GOOGLE_ENV };

export const DEFAULT_TOKEN_URI = 'https://oauth2.googleapis.com/token';
export const CLOUD_PLATFORM_SCOPE = 'https://www.googleapis.com/auth/cloud-platform';

export const ServiceAccountKeySchema = z.looseObject({
  type: z.literal('service_account', { error: "expected a service-account key ('type': 'service_account')" }),
  client_email: z.string().min(1),
  private_key: z.string().includes('PRIVATE KEY', { error: 'expected a PEM private key' }),
  private_key_id: z.string().optional(),
  project_id: z.string().optional(),
  token_uri: z.url().default(DEFAULT_TOKEN_URI),
});
export type ServiceAccountKey = z.output<typeof ServiceAccountKeySchema>;

/** Parses a key given as a document or its text; the message never repeats the key. */
export function parseServiceAccountKey(value: unknown, where: string): ServiceAccountKey {
  let document = value;
  if (typeof value === 'string') {
    try {
      document = JSON.parse(value);
    } catch {
      throw new ProviderPermanentError(`${where} is not JSON: give the service-account key file's content`);
    }
  }
  const parsed = ServiceAccountKeySchema.safeParse(document);
  if (!parsed.success) {
    const fields = parsed.error.issues.map((issue) => `${issue.path.join('.') || '(key)'}: ${issue.message}`);
    throw new ProviderPermanentError(
      `${where} is not a usable service-account key (${fields.join('; ')}): download a JSON key of the service account`,
    );
  }
  return parsed.data;
}

export interface CredentialSources {
  env: NodeJS.ProcessEnv;
  secrets: SecretReader;
}

/** The key for a block: its own, the deployment's secret, or the application-default file. */
export async function keyFor(
  block: CloudRunJobBlock,
  sources: CredentialSources,
): Promise<ServiceAccountKey> {
  const own = block.credentials.service_account_info;
  if (own !== null) return parseServiceAccountKey(own, 'credentials.service_account_info');
  const arn = sources.env[GOOGLE_ENV.credentialsSecretArn];
  if (arn) return parseServiceAccountKey(await sources.secrets.read(arn), `secret ${arn}`);
  const file = sources.env[GOOGLE_ENV.applicationCredentials];
  if (file) {
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (error) {
      throw new ProviderPermanentError(
        `cannot read ${GOOGLE_ENV.applicationCredentials} (${file}): ${error instanceof Error ? error.message : String(error)}`,
      );
    }
    return parseServiceAccountKey(text, `the key file ${file}`);
  }
  throw new ProviderPermanentError(
    `no Google credentials for the cloud-run-job block: set credentials.service_account_info, the deployment's google.credentialsSecretArn, or ${GOOGLE_ENV.applicationCredentials}`,
  );
}

const TokenAnswerSchema = z.object({
  access_token: z.string().min(1),
  expires_in: z.number().positive().default(3600),
});

/** An HTTP answer of the token endpoint that was not a token. */
export class TokenEndpointError extends Error {
  constructor(
    readonly status: number,
    readonly body: string,
  ) {
    const parsed = z
      .object({ error: z.string(), error_description: z.string().optional() })
      .safeParse(safeJson(body));
    const said = parsed.success
      ? `${parsed.data.error}${parsed.data.error_description ? `: ${parsed.data.error_description}` : ''}`
      : body.slice(0, 200);
    super(`the token endpoint answered HTTP ${status}: ${said}`);
    this.name = 'TokenEndpointError';
  }
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function jwtAssertion(key: ServiceAccountKey, nowSeconds: number): string {
  const header = { alg: 'RS256', typ: 'JWT', ...(key.private_key_id ? { kid: key.private_key_id } : {}) };
  const claims = {
    iss: key.client_email,
    scope: CLOUD_PLATFORM_SCOPE,
    aud: key.token_uri,
    iat: nowSeconds,
    exp: nowSeconds + 3600,
  };
  const encode = (part: unknown) => Buffer.from(JSON.stringify(part)).toString('base64url');
  const unsigned = `${encode(header)}.${encode(claims)}`;
  const signature = createSign('RSA-SHA256').update(unsigned).sign(key.private_key).toString('base64url');
  return `${unsigned}.${signature}`;
}

/** The OAuth 2.0 JWT-bearer grant (RFC 7523) at the key's token_uri: an access token and its expiry. */
export async function grantToken(
  key: ServiceAccountKey,
  retry: Partial<RetryPolicy> = {},
): Promise<{ access_token: string; expiry_date: number }> {
  const what = `getting a Google access token for ${key.client_email} from ${key.token_uri}`;
  return retrying(
    what,
    async () => {
      const body = new URLSearchParams({
        grant_type: 'urn:ietf:params:oauth:grant-type:jwt-bearer',
        assertion: jwtAssertion(key, Math.floor(Date.now() / 1000)),
      });
      const answer = await fetch(key.token_uri, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body,
        signal: AbortSignal.timeout(30_000),
      });
      const text = await answer.text();
      if (!answer.ok) throw new TokenEndpointError(answer.status, text);
      const token = TokenAnswerSchema.safeParse(safeJson(text));
      if (!token.success) throw new ProviderPermanentError(`${what}: the answer holds no access_token`);
      return {
        access_token: token.data.access_token,
        expiry_date: Date.now() + token.data.expires_in * 1000,
      };
    },
    { policy: retry, classifiers: [classifyHttp] },
  );
}

/**
 * google-auth-library's client for the Cloud Run clients, its tokens from the key's token_uri.
 * The copy google-gax itself depends on (its re-export): the clients' own type, and one copy in the bundle.
 */
export async function authClientFor(key: ServiceAccountKey, retry: Partial<RetryPolicy> = {}) {
  const { OAuth2Client } = (await import('google-gax')).googleAuthLibrary;
  const client = new OAuth2Client();
  client.refreshHandler = () => grantToken(key, retry);
  return client;
}
