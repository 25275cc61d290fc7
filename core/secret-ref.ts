// Secrets passed by reference: a function's environment holds a Secrets Manager ARN, never
// the value; the value is read on first use and kept for the life of the container.
import { SubmitterError } from './errors.js';

type SecretsManagerClient = import('@aws-sdk/client-secrets-manager').SecretsManagerClient;

/** A referenced secret could not be read; the message names the reference and what to check. */
export class SecretUnavailableError extends SubmitterError {}

export interface SecretReader {
  /** The secret's string value (SecretString). */
  read(arn: string): Promise<string>;
}

/** Reads from AWS Secrets Manager; the SDK loads on first use. */
export function secretsManagerReader(client?: SecretsManagerClient): SecretReader {
  const cache = new Map<string, Promise<string>>();
  let shared = client;
  async function fetchValue(arn: string): Promise<string> {
    const sdk = await import('@aws-sdk/client-secrets-manager');
    shared ??= new sdk.SecretsManagerClient({});
    let out: import('@aws-sdk/client-secrets-manager').GetSecretValueCommandOutput;
    try {
      out = await shared.send(new sdk.GetSecretValueCommand({ SecretId: arn }));
    } catch (cause) {
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
