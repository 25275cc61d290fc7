// AWS calls for the ECS provider: clients from the SDK's standard configuration (plus
// the block's aws_credentials), every call under the runtime's retry loop (AWS
// classifier: throttling, 5xx, timeouts, dropped connections are transient) with the
// AWS hints for permanent errors.
import { createHash } from 'node:crypto';
import { CloudWatchLogsClient } from '@aws-sdk/client-cloudwatch-logs';
import type { EC2Client } from '@aws-sdk/client-ec2';
import { ECSClient } from '@aws-sdk/client-ecs';
import { classifyAws, errorName, errorText } from '../runtime/classify.js';
import { type RetryPolicy, retrying } from '../runtime/retry.js';
import type { AwsCredentials } from './block.js';
import { type Ec2Sdk, type Ec2SdkLoader, loadEc2Sdk, requireEc2Sdk } from './ec2-sdk.js';

export { errorText } from '../runtime/classify.js';
export { backoffMs, causeOf, DEFAULT_RETRY, type RetryPolicy } from '../runtime/retry.js';

export function awsErrorName(error: unknown): string {
  return errorName(error);
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

/** One AWS call under the runtime's retry loop, with the AWS hints for permanent errors. */
export function withRetry<T>(
  what: string,
  call: () => Promise<T>,
  policy: Partial<RetryPolicy>,
  explain: Explain = () => undefined,
): Promise<T> {
  return retrying(what, call, {
    policy,
    classifiers: [classifyAws],
    explain: (error) => explain(error) ?? COMMON_HINTS(error),
  });
}

type ClientConfig = Record<string, unknown>;

/**
 * Client settings for a block: the SDK's standard chain (AWS_REGION, AWS_PROFILE,
 * AWS_ENDPOINT_URL, ~/.aws, roles…) unless the block's aws_credentials say otherwise.
 * SDK retries are off: every call goes through the runtime's retry loop, so attempts stay bounded.
 */
export function clientConfig(credentials: AwsCredentials, extra: ClientConfig = {}): ClientConfig {
  return {
    maxAttempts: 1,
    // a hung call becomes a TimeoutError (transient) instead of holding the function until it is killed
    requestHandler: { connectionTimeout: 5_000, requestTimeout: 20_000, throwOnRequestTimeout: true },
    ...extra,
    ...(credentials.region_name ? { region: credentials.region_name } : {}),
    ...(credentials.aws_client_parameters?.endpoint_url
      ? { endpoint: credentials.aws_client_parameters.endpoint_url }
      : {}),
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
  return [
    credentials.region_name,
    credentials.aws_client_parameters?.endpoint_url,
    credentials.profile_name,
    credentials.aws_access_key_id,
    secret,
  ].join('|');
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
