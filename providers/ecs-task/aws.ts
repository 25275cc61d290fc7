// AWS calls for the ECS provider: clients from the SDK's standard configuration (plus
// the block's aws_credentials), and one bounded retry policy for every call: transient
// errors (throttling, 5xx, timeouts, dropped connections) are retried with backoff and
// full jitter; permanent ones become ProviderPermanentError at once, with a hint.
import { createHash } from 'node:crypto';
import { CloudWatchLogsClient } from '@aws-sdk/client-cloudwatch-logs';
import type { EC2Client } from '@aws-sdk/client-ec2';
import { ECSClient } from '@aws-sdk/client-ecs';
import { ProviderPermanentError, ProviderTransientError } from '../../core/errors.js';
import type { AwsCredentials } from './block.js';
import { type Ec2Sdk, type Ec2SdkLoader, loadEc2Sdk, requireEc2Sdk } from './ec2-sdk.js';

export interface RetryPolicy {
  /** Tries per call, the first included. */
  attempts: number;
  baseMs: number;
  capMs: number;
  sleep: (ms: number) => Promise<void>;
  random: () => number;
}

export const DEFAULT_RETRY: RetryPolicy = {
  attempts: 4,
  baseMs: 500,
  capMs: 8000,
  sleep: (ms) => new Promise((done) => setTimeout(done, ms)),
  random: Math.random,
};

const TRANSIENT_NAMES = new Set([
  'ThrottlingException',
  'Throttling',
  'ThrottledException',
  'TooManyRequestsException',
  'RequestLimitExceeded',
  'RequestThrottled',
  'RequestThrottledException',
  'SlowDown',
  'EC2ThrottledException',
  'ServerException',
  'ServiceUnavailable',
  'ServiceUnavailableException',
  'InternalError',
  'InternalFailure',
  'InternalServerError',
  'RequestTimeout',
  'RequestTimeoutException',
  'TimeoutError',
  'PriorRequestNotComplete',
]);
const TRANSIENT_CODES = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'ETIMEDOUT',
  'EPIPE',
  'EAI_AGAIN',
  'ECONNABORTED',
]);

interface AwsErrorShape {
  name?: string;
  code?: string;
  message?: string;
  $metadata?: { httpStatusCode?: number };
  $response?: { statusCode?: number };
}

export function awsErrorName(error: unknown): string {
  return (error as AwsErrorShape | undefined)?.name ?? 'Error';
}

export function httpStatus(error: unknown): number | undefined {
  const shape = error as AwsErrorShape | undefined;
  return shape?.$metadata?.httpStatusCode ?? shape?.$response?.statusCode;
}

export function isTransient(error: unknown): boolean {
  const shape = error as AwsErrorShape | undefined;
  if (!shape || typeof shape !== 'object') return false;
  if (TRANSIENT_NAMES.has(shape.name ?? '')) return true;
  if (shape.code && TRANSIENT_CODES.has(shape.code)) return true;
  const status = httpStatus(error);
  return status !== undefined && (status >= 500 || status === 429);
}

export function errorText(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  // a 5xx HTML page the SDK could not parse says nothing useful beyond its status
  return text.startsWith('Unexpected token') || text.includes('Deserialization error')
    ? `unparseable response (HTTP ${httpStatus(error) ?? '?'})`
    : (text.split('\n')[0] ?? text);
}

/** What to tell a person about a permanent error: the field to fix. Undefined = AWS's message alone. */
export type Explain = (error: unknown) => string | undefined;

const COMMON_HINTS: Explain = (error) => {
  const name = awsErrorName(error);
  const text = errorText(error);
  if (name === 'CredentialsProviderError' || /Could not load credentials/i.test(text)) {
    return `no AWS credentials found (${text}): set aws_credentials in the block, AWS_PROFILE, or the standard AWS_* environment variables`;
  }
  if (/Region is missing/i.test(text)) {
    return 'no AWS region: set aws_credentials.region_name in the block, or AWS_REGION';
  }
  if (name === 'AccessDeniedException' || name === 'UnauthorizedOperation' || name === 'AccessDenied') {
    return `the submitter's AWS identity is not allowed to do this (${text}): grant it the permission named there`;
  }
  if (name === 'UnrecognizedClientException' || name === 'InvalidClientTokenId' || name === 'AuthFailure') {
    return `AWS rejected the credentials (${text}): check aws_credentials or the profile in use`;
  }
  return undefined;
};

/** Runs one AWS call under the retry policy; throws Provider{Transient,Permanent}Error with the SDK error as cause. */
export async function withRetry<T>(
  what: string,
  call: () => Promise<T>,
  policy: RetryPolicy,
  explain: Explain = () => undefined,
): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await call();
    } catch (error) {
      if (!isTransient(error)) {
        const hint = explain(error) ?? COMMON_HINTS(error);
        throw new ProviderPermanentError(
          `${what} failed: ${hint ?? `${awsErrorName(error)}: ${errorText(error)}`}`,
          {
            cause: error,
          },
        );
      }
      if (attempt >= policy.attempts) {
        throw new ProviderTransientError(
          `${what} failed ${attempt} times, last with ${awsErrorName(error)}: ${errorText(error)}`,
          { cause: error },
        );
      }
      await policy.sleep(backoffMs(attempt, policy));
    }
  }
}

/** Full jitter: a random wait up to min(cap, base·2^(attempt-1)). */
export function backoffMs(attempt: number, policy: Pick<RetryPolicy, 'baseMs' | 'capMs' | 'random'>): number {
  return Math.round(policy.random() * Math.min(policy.capMs, policy.baseMs * 2 ** (attempt - 1)));
}

/** The SDK error behind one of ours. */
export function causeOf(error: unknown): unknown {
  return error instanceof Error && 'cause' in error ? error.cause : undefined;
}

type ClientConfig = Record<string, unknown>;

/**
 * Client settings for a block: the SDK's standard chain (AWS_REGION, AWS_PROFILE,
 * AWS_ENDPOINT_URL, ~/.aws, roles…) unless the block's aws_credentials say otherwise.
 * SDK retries are off: every call goes through `withRetry`, so attempts stay bounded.
 */
export function clientConfig(credentials: AwsCredentials, extra: ClientConfig = {}): ClientConfig {
  return {
    maxAttempts: 1,
    // a hung call becomes a TimeoutError (transient) instead of holding the function until it is killed
    requestHandler: { connectionTimeout: 5_000, requestTimeout: 20_000, throwOnRequestTimeout: true },
    ...extra,
    ...(credentials.region_name ? { region: credentials.region_name } : {}),
    ...(credentials.profile_name ? { profile: credentials.profile_name } : {}),
    ...(credentials.aws_access_key_id && credentials.aws_secret_access_key
      ? {
          credentials: {
            accessKeyId: credentials.aws_access_key_id,
            secretAccessKey: credentials.aws_secret_access_key,
            ...(credentials.aws_session_token ? { sessionToken: credentials.aws_session_token } : {}),
          },
        }
      : {}),
  };
}

function cacheKey(credentials: AwsCredentials): string {
  const secret = createHash('sha256')
    .update(`${credentials.aws_secret_access_key ?? ''}|${credentials.aws_session_token ?? ''}`)
    .digest('hex');
  return [credentials.region_name, credentials.profile_name, credentials.aws_access_key_id, secret].join('|');
}

/** An EC2 client and the SDK it came from (its commands). */
export interface Ec2Access {
  client: EC2Client;
  sdk: Ec2Sdk;
}

/**
 * Clients made on first use and kept for the container's life. ECS and Logs are bundled
 * (imported statically, so a bundle keeps only the commands used); EC2 is loaded on first
 * use through `loadEc2` (see ec2-sdk.ts).
 */
export class AwsClients {
  private readonly ecsClients = new Map<string, ECSClient>();
  private readonly ec2Clients = new Map<string, Ec2Access>();
  private readonly logsClients = new Map<string, CloudWatchLogsClient>();

  constructor(
    private readonly extra: ClientConfig = {},
    private readonly loadEc2: Ec2SdkLoader = requireEc2Sdk,
  ) {}

  ecs(credentials: AwsCredentials): ECSClient {
    const key = cacheKey(credentials);
    let client = this.ecsClients.get(key);
    if (!client) {
      client = new ECSClient(clientConfig(credentials, this.extra));
      this.ecsClients.set(key, client);
    }
    return client;
  }

  /** Throws ProviderPermanentError (saying how to do without) when the EC2 SDK cannot be loaded. */
  ec2(credentials: AwsCredentials): Ec2Access {
    const key = cacheKey(credentials);
    let access = this.ec2Clients.get(key);
    if (!access) {
      const sdk = loadEc2Sdk(this.loadEc2);
      access = { client: new sdk.EC2Client(clientConfig(credentials, this.extra)), sdk };
      this.ec2Clients.set(key, access);
    }
    return access;
  }

  /** Logs live where the awslogs driver was told to write them, maybe another region. */
  logs(credentials: AwsCredentials, region: string): CloudWatchLogsClient {
    const key = `${cacheKey(credentials)}|${region}`;
    let client = this.logsClients.get(key);
    if (!client) {
      client = new CloudWatchLogsClient({ ...clientConfig(credentials, this.extra), region });
      this.logsClients.set(key, client);
    }
    return client;
  }

  /** The region a client resolved (for messages). */
  async region(credentials: AwsCredentials): Promise<string | undefined> {
    try {
      return await this.ecs(credentials).config.region();
    } catch {
      return undefined;
    }
  }

  destroy(): void {
    for (const map of [this.ecsClients, this.logsClients]) {
      for (const client of map.values()) client.destroy();
      map.clear();
    }
    for (const { client } of this.ec2Clients.values()) client.destroy();
    this.ec2Clients.clear();
  }
}
