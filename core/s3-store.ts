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
import { InvalidInputError } from './errors.js';
import { checkKey, type DocumentStore } from './store.js';

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
      if (
        error instanceof NoSuchKey ||
        (error instanceof S3ServiceException && error.$metadata.httpStatusCode === 404)
      )
        return undefined;
      throw error;
    }
  }

  async put(key: string, body: string): Promise<void> {
    await this.client.send(
      new PutObjectCommand({
        Bucket: this.bucket,
        Key: this.key(key),
        Body: body,
        ContentType: contentType(key),
      }),
    );
  }

  async putIfAbsent(key: string, body: string): Promise<boolean> {
    try {
      await this.client.send(
        new PutObjectCommand({
          Bucket: this.bucket,
          Key: this.key(key),
          Body: body,
          ContentType: contentType(key),
          IfNoneMatch: '*',
        }),
      );
      return true;
    } catch (error) {
      const status = error instanceof S3ServiceException ? error.$metadata.httpStatusCode : undefined;
      if (status === 412 || status === 409) return false;
      throw error;
    }
  }

  async list(prefix: string): Promise<string[]> {
    const keys: string[] = [];
    const full = this.prefix ? `${this.prefix}/${prefix}` : prefix;
    let token: string | undefined;
    do {
      const page = await this.client.send(
        new ListObjectsV2Command({
          Bucket: this.bucket,
          Prefix: full,
          ...(token ? { ContinuationToken: token } : {}),
        }),
      );
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
