// The Docker Engine API over node:http / node:https (no SDK): where the engine is
// (DOCKER_HOST: unix:///path or tcp://host:port), mutual TLS with DOCKER_TLS_VERIFY +
// DOCKER_CERT_PATH (ca.pem, cert.pem, key.pem) locally, or in AWS the same PEMs from a
// Secrets Manager secret named by the deployment (DOCKER_TLS_SECRET_ARN), read on first use.
// Non-2xx answers become EngineError, which carries what classifyHttp reads (status, body).
import { readFile } from 'node:fs/promises';
import { Agent as HttpAgent, request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { homedir } from 'node:os';
import { join } from 'node:path';
import * as z from 'zod';
import { SubmitterError } from '../../core/errors.js';
import type { SecretReader } from '../../core/secret-ref.js';
import { DOCKER_ENV } from './deployment.js';

/** The Engine API version every path is sent under (Docker 20.10 and later speak it). */
export const ENGINE_API_VERSION = 'v1.41';
export const DEFAULT_DOCKER_HOST = 'unix:///var/run/docker.sock';

export interface TlsFiles {
  ca: string;
  cert: string;
  key: string;
}

export const TlsSecretSchema = z.strictObject({
  ca: z.string().includes('BEGIN CERTIFICATE', { message: 'expected the CA certificate (PEM)' }),
  cert: z.string().includes('BEGIN CERTIFICATE', { message: 'expected the client certificate (PEM)' }),
  key: z.string().includes('PRIVATE KEY', { message: "expected the client certificate's key (PEM)" }),
});

/** The engine's settings could not be used: the message names the variable to fix. */
export class EngineConfigError extends SubmitterError {}

export type Endpoint =
  | { kind: 'unix'; socketPath: string; label: string }
  | { kind: 'tcp'; host: string; port: number; label: string };

/** `unix:///var/run/docker.sock`, `tcp://10.0.0.5:2376` (also `http://`/`https://` forms and a bare path). */
export function parseDockerHost(value: string): Endpoint {
  if (value.startsWith('/')) return { kind: 'unix', socketPath: value, label: `unix://${value}` };
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new EngineConfigError(
      `${DOCKER_ENV.host}='${value}' is not an engine address: use unix:///var/run/docker.sock or tcp://HOST:PORT`,
    );
  }
  if (url.protocol === 'unix:') {
    const socketPath = url.pathname || url.host;
    return { kind: 'unix', socketPath, label: `unix://${socketPath}` };
  }
  if (['tcp:', 'http:', 'https:'].includes(url.protocol) && url.hostname) {
    const port = url.port ? Number(url.port) : 2376;
    return { kind: 'tcp', host: url.hostname.replace(/^\[|\]$/g, ''), port, label: `tcp://${url.host}` };
  }
  throw new EngineConfigError(
    `${DOCKER_ENV.host}='${value}': only unix:// and tcp:// engines are supported (ssh:// is not)`,
  );
}

export interface EngineConnection {
  endpoint: Endpoint;
  /** Mutual TLS material; absent: plain HTTP over TCP, or the unix socket. */
  tls?: TlsFiles;
}

/** From DOCKER_HOST / DOCKER_TLS_VERIFY / DOCKER_CERT_PATH, or DOCKER_TLS_SECRET_ARN (read with `secrets`). */
export async function connectionFromEnv(
  env: NodeJS.ProcessEnv,
  secrets?: SecretReader,
): Promise<EngineConnection> {
  const endpoint = parseDockerHost(env[DOCKER_ENV.host] || DEFAULT_DOCKER_HOST);
  const secretArn = env[DOCKER_ENV.tlsSecret];
  const verify = env[DOCKER_ENV.tlsVerify];
  if (secretArn) {
    if (!secrets) throw new EngineConfigError(`${DOCKER_ENV.tlsSecret} is set but no secret reader is given`);
    const text = await secrets.read(secretArn);
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = undefined;
    }
    const material = TlsSecretSchema.safeParse(parsed);
    if (!material.success) {
      throw new EngineConfigError(
        `secret ${secretArn} (${DOCKER_ENV.tlsSecret}) must be JSON {"ca": PEM, "cert": PEM, "key": PEM}: ${material.error.issues.map((i) => `${i.path.join('.') || '(value)'}: ${i.message}`).join('; ')}`,
      );
    }
    return { endpoint, tls: material.data };
  }
  if (verify && verify !== '0' && verify.toLowerCase() !== 'false') {
    const dir = env[DOCKER_ENV.certPath] || join(homedir(), '.docker');
    const read = async (name: string) => {
      try {
        return await readFile(join(dir, name), 'utf8');
      } catch (cause) {
        throw new EngineConfigError(
          `${DOCKER_ENV.tlsVerify} is set but ${join(dir, name)} cannot be read: put ca.pem, cert.pem and key.pem in ${DOCKER_ENV.certPath}`,
          { cause },
        );
      }
    };
    return {
      endpoint,
      tls: { ca: await read('ca.pem'), cert: await read('cert.pem'), key: await read('key.pem') },
    };
  }
  return { endpoint };
}

/** A non-2xx answer of the engine: `status` and `body` as classifyHttp reads them. */
export class EngineError extends SubmitterError {
  constructor(
    readonly what: string,
    readonly status: number,
    readonly body: string,
    readonly headers: IncomingHttpHeaders,
  ) {
    super(`${what}: HTTP ${status}: ${engineMessage(body)}`);
  }
}

/** The engine's `{"message": …}`, or the start of the body. */
export function engineMessage(body: string): string {
  try {
    const parsed: unknown = JSON.parse(body);
    if (parsed && typeof parsed === 'object' && 'message' in parsed && typeof parsed.message === 'string')
      return parsed.message;
  } catch {
    // not JSON
  }
  return body.trim().slice(0, 300) || '(no message)';
}

/** A call that got no answer in time (classifyNetwork takes TimeoutError as transient). */
export class EngineTimeoutError extends Error {
  override name = 'TimeoutError';
}

export interface EngineRequest {
  query?: Record<string, string | number | boolean | undefined>;
  body?: unknown;
  headers?: Record<string, string>;
  /** Give up waiting for the answer after this long (ms). */
  timeoutMs?: number;
}

export interface EngineAnswer {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

export interface EngineClient {
  readonly label: string;
  /** Any answer; throws only when there is none (network, timeout). */
  send(method: string, path: string, request?: EngineRequest): Promise<EngineAnswer>;
  /** A 2xx answer's body; EngineError otherwise. */
  call(what: string, method: string, path: string, request?: EngineRequest): Promise<Buffer>;
  close(): void;
}

const DEFAULT_TIMEOUT_MS = 30_000;

export function engineClient(connection: EngineConnection): EngineClient {
  const { endpoint, tls } = connection;
  const agent = tls
    ? new HttpsAgent({ keepAlive: true, ca: tls.ca, cert: tls.cert, key: tls.key })
    : new HttpAgent({ keepAlive: true });

  function send(method: string, path: string, request: EngineRequest = {}): Promise<EngineAnswer> {
    const search = new URLSearchParams();
    for (const [key, value] of Object.entries(request.query ?? {}))
      if (value !== undefined) search.set(key, String(value));
    const query = search.size ? `?${search}` : '';
    const payload = request.body === undefined ? undefined : Buffer.from(JSON.stringify(request.body));
    const headers: Record<string, string> = {
      ...request.headers,
      ...(payload ? { 'content-type': 'application/json', 'content-length': String(payload.length) } : {}),
    };
    const options = {
      ...(endpoint.kind === 'unix'
        ? { socketPath: endpoint.socketPath }
        : { host: endpoint.host, port: endpoint.port }),
      method,
      path: `/${ENGINE_API_VERSION}${path}${query}`,
      headers,
      agent,
    };
    const timeoutMs = request.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    return new Promise<EngineAnswer>((resolve, reject) => {
      const call = (tls ? httpsRequest : httpRequest)(options, (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('end', () =>
          resolve({
            status: response.statusCode ?? 0,
            headers: response.headers,
            body: Buffer.concat(chunks),
          }),
        );
        response.on('error', reject);
      });
      call.setTimeout(timeoutMs, () =>
        call.destroy(
          new EngineTimeoutError(`${method} ${path}: no answer from ${endpoint.label} in ${timeoutMs} ms`),
        ),
      );
      call.on('error', reject);
      call.end(payload);
    });
  }

  return {
    label: endpoint.label,
    send,
    async call(what, method, path, request) {
      const answer = await send(method, path, request);
      if (answer.status < 200 || answer.status > 299)
        throw new EngineError(
          `${what} (${endpoint.label})`,
          answer.status,
          answer.body.toString('utf8'),
          answer.headers,
        );
      return answer.body;
    },
    close: () => agent.destroy(),
  };
}

/** The `docker logs` stream without a TTY: frames of [stream, 0, 0, 0, size (u32 BE)] + payload. */
export function demultiplex(stream: Buffer): string {
  const parts: Buffer[] = [];
  let offset = 0;
  while (offset + 8 <= stream.length) {
    const kind = stream[offset];
    const size = stream.readUInt32BE(offset + 4);
    if (kind === undefined || kind > 2 || stream[offset + 1] !== 0) {
      // not multiplexed (a container with a TTY): the bytes are the output
      return stream.toString('utf8');
    }
    parts.push(stream.subarray(offset + 8, offset + 8 + size));
    offset += 8 + size;
  }
  if (offset === 0 && stream.length > 0) return stream.toString('utf8');
  return Buffer.concat(parts).toString('utf8');
}
