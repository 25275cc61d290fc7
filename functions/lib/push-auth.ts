// Pub/Sub push authentication: every push request must carry a Google-signed OIDC token
// (`Authorization: Bearer …`) for the subscription's service account, with this endpoint as
// its audience. Verified before anything in the request is read; no token, no delivery.
import { createRemoteJWKSet, type JWTPayload, jwtVerify } from 'jose';
import { SubmitterError } from '../../core/errors.js';

export const PUSH_AUTH_ENV = {
  /** Comma-separated service account emails allowed to push. Unset: every push is refused. */
  serviceAccounts: 'PUBSUB_PUSH_SERVICE_ACCOUNTS',
  /** Expected audience; default: this endpoint's URL (Pub/Sub's default audience). */
  audience: 'PUBSUB_PUSH_AUDIENCE',
  jwksUrl: 'PUBSUB_PUSH_JWKS_URL',
  /** Comma-separated accepted issuers. */
  issuers: 'PUBSUB_PUSH_ISSUERS',
} as const;

export const GOOGLE_JWKS_URL = 'https://www.googleapis.com/oauth2/v3/certs';
export const GOOGLE_ISSUERS = ['https://accounts.google.com', 'accounts.google.com'];

/** The push request is not from the configured subscription: answered with 401. */
export class PushUnauthorizedError extends SubmitterError {}

export interface PushRequest {
  headers?: Record<string, string | undefined>;
  rawPath?: string;
  requestContext: { domainName?: string; http: { path?: string } };
}

export interface PushAuthOptions {
  serviceAccounts: readonly string[];
  audience?: string;
  jwksUrl: string;
  issuers: readonly string[];
  clockToleranceSeconds?: number;
}

/** Resolves with the verified caller, or rejects: PushUnauthorizedError, or another error when the keys could not be fetched. */
export type PushVerifier = (request: PushRequest) => Promise<{ email: string }>;

/** What Pub/Sub uses as audience by default: the push endpoint URL. */
function endpointAudiences(request: PushRequest): string[] {
  const domain = request.requestContext.domainName;
  if (!domain) {
    throw new PushUnauthorizedError(
      `cannot tell this endpoint's URL to check the token audience: set ${PUSH_AUTH_ENV.audience}`,
    );
  }
  const path = request.rawPath ?? request.requestContext.http.path ?? '/';
  const url = `https://${domain}${path}`;
  return path === '/' ? [url, `https://${domain}`] : [url];
}

// jose's codes for tokens that are wrong (as opposed to keys that could not be fetched)
const TOKEN_ERRORS = new Set([
  'ERR_JWT_EXPIRED',
  'ERR_JWT_CLAIM_VALIDATION_FAILED',
  'ERR_JWT_INVALID',
  'ERR_JWS_INVALID',
  'ERR_JWS_SIGNATURE_VERIFICATION_FAILED',
  'ERR_JWKS_NO_MATCHING_KEY',
  'ERR_JWKS_MULTIPLE_MATCHING_KEYS',
  'ERR_JOSE_ALG_NOT_ALLOWED',
  'ERR_JOSE_NOT_SUPPORTED',
]);

export function oidcPushVerifier(options: PushAuthOptions): PushVerifier {
  const allowed = new Set(options.serviceAccounts.map((email) => email.toLowerCase()));
  // the key set is fetched on first use and cached across invocations of a container
  const keys = createRemoteJWKSet(new URL(options.jwksUrl), {
    timeoutDuration: 5_000,
    cooldownDuration: 30_000,
    cacheMaxAge: 3_600_000,
  });
  return async (request) => {
    const header = request.headers?.authorization ?? request.headers?.Authorization ?? '';
    const token = /^Bearer\s+(\S+)$/i.exec(header)?.[1];
    if (!token) {
      throw new PushUnauthorizedError(
        'no bearer token: enable authentication on the push subscription (a service account with an OIDC token)',
      );
    }
    const audience = options.audience ?? endpointAudiences(request);
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, keys, {
        issuer: [...options.issuers],
        audience,
        algorithms: ['RS256'],
        requiredClaims: ['exp', 'iat'],
        clockTolerance: options.clockToleranceSeconds ?? 30,
      }));
    } catch (error) {
      const code = (error as { code?: unknown }).code;
      if (typeof code === 'string' && TOKEN_ERRORS.has(code)) {
        throw new PushUnauthorizedError(`token rejected: ${(error as Error).message}`, { cause: error });
      }
      throw error; // the key set could not be fetched: a temporary failure
    }
    const email = typeof payload.email === 'string' ? payload.email.toLowerCase() : '';
    if (!email || !allowed.has(email)) {
      throw new PushUnauthorizedError(
        `token rejected: its email '${email || '(none)'}' is not an allowed push service account`,
      );
    }
    if (payload.email_verified !== true) {
      throw new PushUnauthorizedError(`token rejected: the email '${email}' is not verified`);
    }
    return { email };
  };
}

function list(value: string | undefined): string[] {
  return (value ?? '')
    .split(',')
    .map((part) => part.trim())
    .filter(Boolean);
}

/** The deployed endpoint's verifier, from its environment; refuses everything when unconfigured. */
export function pushVerifierFromEnv(env: NodeJS.ProcessEnv = process.env): PushVerifier {
  const serviceAccounts = list(env[PUSH_AUTH_ENV.serviceAccounts]);
  if (!serviceAccounts.length) {
    return async () => {
      throw new PushUnauthorizedError(
        `the Pub/Sub push endpoint is not configured: set ${PUSH_AUTH_ENV.serviceAccounts} ` +
          '(pubsub.serviceAccountEmails in the deployment configuration)',
      );
    };
  }
  const issuers = list(env[PUSH_AUTH_ENV.issuers]);
  return oidcPushVerifier({
    serviceAccounts,
    jwksUrl: env[PUSH_AUTH_ENV.jwksUrl] || GOOGLE_JWKS_URL,
    issuers: issuers.length ? issuers : GOOGLE_ISSUERS,
    ...(env[PUSH_AUTH_ENV.audience] ? { audience: env[PUSH_AUTH_ENV.audience] } : {}),
  });
}
