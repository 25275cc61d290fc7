// The bearer token EKS accepts, made in-process (no `aws` CLI in a Lambda): what
// `aws eks get-token` prints — `k8s-aws-v1.` + base64url (unpadded) of a SigV4-presigned
// `GET https://sts.<region>.amazonaws.com/?Action=GetCallerIdentity&Version=2011-06-15`
// whose signed headers include `x-k8s-aws-id: <cluster name>`. The API server's
// authenticator replays the URL to STS and maps the caller's role to a Kubernetes user.
// Signed with node:crypto; the credentials are the function's role (the Lambda environment's
// AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY / AWS_SESSION_TOKEN) unless given.
import { createHash, createHmac } from 'node:crypto';
import { ProviderPermanentError } from '../../core/errors.js';

export interface AwsCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}

export interface EksTokenInput {
  clusterName: string;
  region: string;
  credentials: AwsCredentials;
  /** The signing time (default now). */
  now?: Date;
}

export const EKS_TOKEN_PREFIX = 'k8s-aws-v1.';
/** The presigned URL's own lifetime; EKS accepts the token for 15 minutes after signing. */
const EXPIRES_SECONDS = 60;
const EMPTY_SHA256 = createHash('sha256').update('').digest('hex');

/** RFC 3986 encoding, as SigV4 wants it. */
function encode(text: string): string {
  return encodeURIComponent(text).replace(
    /[!'()*]/g,
    (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`,
  );
}

function hmac(key: string | Buffer, text: string): Buffer {
  return createHmac('sha256', key).update(text, 'utf8').digest();
}

/** `20240102T030405Z` and `20240102`. */
function stamps(date: Date): { amzDate: string; day: string } {
  const amzDate = date
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d{3}/, '');
  return { amzDate, day: amzDate.slice(0, 8) };
}

/** The presigned STS GetCallerIdentity URL for the cluster. */
export function presignedCallerIdentityUrl(input: EksTokenInput): string {
  const { clusterName, region, credentials } = input;
  const host = `sts.${region}.amazonaws.com`;
  const { amzDate, day } = stamps(input.now ?? new Date());
  const scope = `${day}/${region}/sts/aws4_request`;
  const signedHeaders = 'host;x-k8s-aws-id';
  const query: [string, string][] = [
    ['Action', 'GetCallerIdentity'],
    ['Version', '2011-06-15'],
    ['X-Amz-Algorithm', 'AWS4-HMAC-SHA256'],
    ['X-Amz-Credential', `${credentials.accessKeyId}/${scope}`],
    ['X-Amz-Date', amzDate],
    ['X-Amz-Expires', String(EXPIRES_SECONDS)],
    ['X-Amz-SignedHeaders', signedHeaders],
  ];
  if (credentials.sessionToken) query.push(['X-Amz-Security-Token', credentials.sessionToken]);
  const canonicalQuery = query
    .map(([k, v]) => [encode(k), encode(v)] as const)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([k, v]) => `${k}=${v}`)
    .join('&');
  const canonicalRequest = [
    'GET',
    '/',
    canonicalQuery,
    `host:${host}\nx-k8s-aws-id:${clusterName}\n`,
    signedHeaders,
    EMPTY_SHA256,
  ].join('\n');
  const stringToSign = [
    'AWS4-HMAC-SHA256',
    amzDate,
    scope,
    createHash('sha256').update(canonicalRequest, 'utf8').digest('hex'),
  ].join('\n');
  let key = hmac(`AWS4${credentials.secretAccessKey}`, day);
  for (const part of [region, 'sts', 'aws4_request']) key = hmac(key, part);
  const signature = createHmac('sha256', key).update(stringToSign, 'utf8').digest('hex');
  return `https://${host}/?${canonicalQuery}&X-Amz-Signature=${signature}`;
}

/** The token for `Authorization: Bearer …`. */
export function eksToken(input: EksTokenInput): string {
  return EKS_TOKEN_PREFIX + Buffer.from(presignedCallerIdentityUrl(input), 'utf8').toString('base64url');
}

/** The function's role credentials from the environment (what the Lambda runtime sets). */
export async function environmentCredentials(env: NodeJS.ProcessEnv = process.env): Promise<AwsCredentials> {
  const accessKeyId = env.AWS_ACCESS_KEY_ID;
  const secretAccessKey = env.AWS_SECRET_ACCESS_KEY;
  if (!accessKeyId || !secretAccessKey) {
    throw new ProviderPermanentError(
      'an EKS token needs AWS credentials: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are not set (the Lambda runtime sets them from the function role; locally, export them)',
    );
  }
  return {
    accessKeyId,
    secretAccessKey,
    ...(env.AWS_SESSION_TOKEN ? { sessionToken: env.AWS_SESSION_TOKEN } : {}),
  };
}

/** A token source that signs again before the 15 minutes EKS allows run out. */
export function eksTokenSource(
  clusterName: string,
  region: string,
  credentials: () => Promise<AwsCredentials>,
  now: () => number = Date.now,
): () => Promise<string> {
  let cached: { token: string; until: number } | undefined;
  return async () => {
    if (cached && now() < cached.until) return cached.token;
    const token = eksToken({ clusterName, region, credentials: await credentials(), now: new Date(now()) });
    cached = { token, until: now() + 10 * 60_000 };
    return token;
  };
}
