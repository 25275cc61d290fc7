// The document store on S3: `s3://bucket/prefix`. Endpoint, region and credentials come
// from the SDK's standard configuration (AWS_REGION, AWS_ENDPOINT_URL, profiles…).
import {
  GetObjectCommand,
  ListObjectsV2Command,
  NoSuchKey,
  PutObjectCommand,
  S3Client,
  S3ServiceException,
} from '@aws-sdk/client-s3';
import { InvalidInputError, SubmitterError } from './errors.js';
import { checkKey, type DocumentStore } from './store.js';

/** The store cannot be used as configured (missing bucket, no access, no conditional writes). */
export class StoreUnavailableError extends SubmitterError {}

const CONFLICT_ATTEMPTS = 5;

export class S3Store implements DocumentStore {
  constructor(
    readonly client: S3Client,
    readonly bucket: string,
    readonly prefix: string = '',
  ) {}

  static fromUrl(url: string, client?: S3Client): S3Store {
    const match = /^s3:\/\/([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])(?:\/(.*))?$/.exec(url);
    if (!match?.[1]) {
      throw new InvalidInputError('Invalid S3 location', [
        { path: 'store', message: `'${url}' must look like s3://bucket or s3://bucket/prefix` },
      ]);
    }
    const prefix = (match[2] ?? '').replace(/^\/+|\/+$/g, '');
    return new S3Store(
      client ?? new S3Client({ forcePathStyle: process.env.S3_FORCE_PATH_STYLE === 'true' }),
      match[1],
      prefix,
    );
  }

  get location(): string {
    return `s3://${this.bucket}${this.prefix ? `/${this.prefix}` : ''}`;
  }

  private key(key: string): string {
    return this.prefix ? `${this.prefix}/${checkKey(key)}` : checkKey(key);
  }

  async get(key: string): Promise<string | undefined> {
    try {
      const out = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: this.key(key) }));
      return (await out.Body?.transformToString('utf8')) ?? '';
    } catch (error) {
      if (error instanceof NoSuchKey || (error instanceof S3ServiceException && error.name === 'NotFound'))
        return undefined;
      throw this.explain(error);
    }
  }

  /** A missing bucket or a refused read says which bucket and what to do, instead of "not found". */
  private explain(error: unknown): unknown {
    if (!(error instanceof S3ServiceException)) return error;
    if (error.name === 'NoSuchBucket') {
      return new StoreUnavailableError(
        `bucket '${this.bucket}' does not exist (store ${this.location}): create it, or fix the s3:// location`,
        { cause: error },
      );
    }
    if (error.$metadata.httpStatusCode === 403) {
      return new StoreUnavailableError(
        `access to ${this.location} was denied (${error.name}): the submitter's role needs s3:GetObject, ` +
          's3:PutObject and s3:ListBucket on it (without ListBucket, S3 answers 403 for keys that do not exist)',
        { cause: error },
      );
    }
    return error;
  }

  private putCommand(key: string, body: string, extra: { IfNoneMatch?: string } = {}): PutObjectCommand {
    return new PutObjectCommand({
      Bucket: this.bucket,
      Key: this.key(key),
      Body: body,
      ContentType: contentType(key),
      ...extra,
    });
  }

  async put(key: string, body: string): Promise<void> {
    try {
      await this.client.send(this.putCommand(key, body));
    } catch (error) {
      throw this.explain(error);
    }
  }

  /**
   * S3 conditional write (`If-None-Match: *`): exactly one concurrent caller creates the key.
   * AWS S3 has it since 2024 and moto 5 implements it; an endpoint that does not (501) is an
   * error, never a silent unconditional write, since exactly-once starts depend on it.
   */
  async putIfAbsent(key: string, body: string): Promise<boolean> {
    for (let attempt = 1; ; attempt++) {
      try {
        await this.client.send(this.putCommand(key, body, { IfNoneMatch: '*' }));
        return true;
      } catch (error) {
        const status = error instanceof S3ServiceException ? error.$metadata.httpStatusCode : undefined;
        if (status === 412) return false;
        // 409 ConditionalRequestConflict: another conditional write of this key is in flight; ask again
        if (status === 409 && attempt < CONFLICT_ATTEMPTS) {
          await new Promise((done) => setTimeout(done, 50 * attempt));
          continue;
        }
        if (status === 501) {
          throw new StoreUnavailableError(
            `${this.location} does not support conditional writes (If-None-Match), which the store needs to ` +
              'record each flow run once: use AWS S3 (or moto ≥ 5, or another endpoint that implements them)',
            { cause: error },
          );
        }
        throw this.explain(error);
      }
    }
  }

  async list(prefix: string): Promise<string[]> {
    const keys: string[] = [];
    const full = this.prefix ? `${this.prefix}/${prefix}` : prefix;
    let token: string | undefined;
    do {
      const page = await this.client
        .send(
          new ListObjectsV2Command({
            Bucket: this.bucket,
            Prefix: full,
            ...(token ? { ContinuationToken: token } : {}),
          }),
        )
        .catch((error: unknown) => {
          throw this.explain(error);
        });
      for (const object of page.Contents ?? []) {
        if (object.Key) keys.push(this.prefix ? object.Key.slice(this.prefix.length + 1) : object.Key);
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
    return keys.sort();
  }
}

function contentType(key: string): string {
  return key.endsWith('.json')
    ? 'application/json'
    : key.endsWith('.yaml') || key.endsWith('.yml')
      ? 'application/yaml'
      : 'text/plain';
}
