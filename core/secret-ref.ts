// Secrets passed by reference: a function's environment holds a Secrets Manager ARN, never
// the value; the value is read on first use and kept for the life of the container.
import { classifyAws } from '../providers/runtime/classify.js';
import { causeOf, type RetryPolicy, retrying } from '../providers/runtime/retry.js';
import { ProviderTransientError, SubmitterError } from './errors.js';

type SecretsManagerClient = import('@aws-sdk/client-secrets-manager').SecretsManagerClient;

/** A referenced secret could not be read; the message names the reference and what to check. */
export class SecretUnavailableError extends SubmitterError {}

export interface SecretReader {
  /** The secret's string value (SecretString). */
  read(arn: string): Promise<string>;
}

/** Reads from AWS Secrets Manager; the SDK loads on first use. */
export function secretsManagerReader(
  client?: SecretsManagerClient,
  options: { retry?: Partial<RetryPolicy> } = {},
): SecretReader {
  const cache = new Map<string, Promise<string>>();
  let shared = client;
  async function fetchValue(arn: string): Promise<string> {
    const sdk = await import('@aws-sdk/client-secrets-manager');
    shared ??= new sdk.SecretsManagerClient({});
    const client = shared;
    let out: import('@aws-sdk/client-secrets-manager').GetSecretValueCommandOutput;
    try {
      // throttling, 5xx and timeouts are tried again by the runtime's loop before anyone hears of them
      out = await retrying(
        'GetSecretValue',
        () => client.send(new sdk.GetSecretValueCommand({ SecretId: arn })),
        {
          classifiers: [classifyAws],
          ...(options.retry ? { policy: options.retry } : {}),
        },
      );
    } catch (error) {
      if (error instanceof ProviderTransientError) {
        throw new ProviderTransientError(
          `cannot read secret ${arn} yet: ${error.message}; it is read again on the next attempt`,
          {
            cause: error,
          },
        );
      }
      const cause = causeOf(error) ?? error;
      const name = cause instanceof Error ? cause.name : 'Error';
      const hint =
        name === 'ResourceNotFoundException'
          ? 'no such secret: fix the ARN in the deployment configuration'
          : name === 'AccessDeniedException'
            ? "the function's role may not read it: redeploy with this ARN in the configuration"
            : 'Secrets Manager did not answer; it is read again on the next attempt';
      throw new SecretUnavailableError(`cannot read secret ${arn} (${name}): ${hint}`, { cause });
    }
    if (typeof out.SecretString !== 'string') {
      throw new SecretUnavailableError(
        `secret ${arn} holds no string value: store the secret as text (SecretString), not binary`,
      );
    }
    return out.SecretString;
  }
  return {
    read(arn) {
      let value = cache.get(arn);
      if (!value) {
        value = fetchValue(arn);
        cache.set(arn, value);
        // a failed read is not kept: the next use tries again
        value.catch(() => cache.delete(arn));
      }
      return value;
    },
  };
}
