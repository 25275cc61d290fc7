// A routable HTTP(S) fake of a provider's API for tests: routes by method and path pattern
// (`GET /apis/batch/v1/namespaces/:ns/jobs/:name`) over state shared by all routes, answers
// from recorded fixtures, faults injected per route or AWS operation, and every call recorded.
// In proxy mode, what no route matches goes to an upstream (moto). Binds 127.0.0.1 on a free
// port; runs in the test's process; `close()` drops hung and streaming connections.
//
//   const fake = await startHttpFake({ state: { jobs: new Map<string, unknown>() } });
//   fake.route('POST /v2/projects/:project/locations/:location/jobs', (request, state) => {
//     state.jobs.set(request.params.location ?? '', request.json);
//     return { status: 200, body: { name: 'operations/1' } };
//   });
//   fake.route('POST /apis/batch/v1/namespaces/:ns/jobs', fixture('kubernetes', 'create-job', 'already-exists'));
//   fake.inject({ route: 'POST /v2/projects/:project/locations/:location/jobs', status: 503, retryAfter: 2 });
//   fake.inject({ route: 'RunTask', kind: 'hang', times: 2 }); // proxy mode: by AWS operation
//   fake.callsOf('POST /v2/projects/:project/locations/:location/jobs'); // [{route, body, outcome, ...}]
//
// Certificates for `tls`: selfSignedCert() and mutualTlsMaterial(dir) in tls.ts.
import { readFileSync } from 'node:fs';
import {
  createServer,
  type IncomingHttpHeaders,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import { createServer as createTlsServer } from 'node:https';
import type { Socket } from 'node:net';
import { join } from 'node:path';
import { z } from 'zod';

export interface FakeRequest {
  method: string;
  /** The path without the query string, e.g. `/apis/batch/v1/namespaces/default/jobs/pi`. */
  path: string;
  /** The route's `:name` segments, decoded. */
  params: Record<string, string>;
  query: URLSearchParams;
  headers: IncomingHttpHeaders;
  raw: Buffer;
  text: string;
  /** The body parsed as JSON, when it is JSON (by content type, or without one); else undefined. */
  json: unknown;
  /** The AWS operation (`x-amz-target`'s last part, or the `Action` of a query-protocol call), if any. */
  operation: string | undefined;
}

/** An answer: a body that is not a string or bytes is sent as JSON. */
export interface FakeAnswer {
  status: number;
  headers?: Record<string, string>;
  body?: unknown;
}

/** An answer sent as its chunks come (logs, watches); it ends when they do, or at `close()`. */
export interface StreamedAnswer {
  status: number;
  headers?: Record<string, string>;
  stream: AsyncIterable<string | Uint8Array>;
}

export type Answer = FakeAnswer | StreamedAnswer;
export type Handler<S> = (request: FakeRequest, state: S) => Answer | Promise<Answer>;

export interface RouteSpec<S> {
  /** `METHOD /path/:param/...`; also the route's name unless `name` is given. */
  route: string;
  answer: Handler<S> | Answer;
  name?: string;
}

/** What the client gets instead of (`before`) or after (`after`) the route, or the upstream, ran. */
export type FaultAnswer =
  | {
      /** e.g. 409, 429, 500, 502, 503 (or 400 for AWS throttling). */
      status: number;
      /** Sent as the `Retry-After` header (seconds, or an HTTP date). */
      retryAfter?: number | string;
      headers?: Record<string, string>;
      /** The provider's error body, e.g. `{"error":{"code":503,"status":"UNAVAILABLE",...}}`. */
      body?: unknown;
    }
  /** No answer until the client gives up; `close()` drops the connection. */
  | { kind: 'hang' }
  /** The connection is reset (TCP RST) without an answer. */
  | { kind: 'reset' };

export type Fault = FaultAnswer & {
  /** A route's name or pattern, or an AWS operation (`RunTask`), or `METHOD /path` of an unrouted call. */
  route: string;
  /** How many matching calls to fail, from the next one on; default 1. */
  times?: number;
  /** `after`: the route or upstream ran (the effect happened), then the answer is lost. Default `before`. */
  when?: 'before' | 'after';
};

export interface FakeCall {
  /** The route's name; else the AWS operation; else `METHOD /path`. */
  route: string;
  method: string;
  path: string;
  params: Record<string, string>;
  operation: string | undefined;
  /** JSON parsed, a form as an object, other text as it is; undefined when empty. */
  body: unknown;
  /** `ok`: the route's (or the upstream's) answer was sent. */
  outcome: 'ok' | 'unmatched' | 'fault' | 'hang' | 'reset' | 'error';
  /** The status the client got (none for `hang` and `reset`, nor while the call is under way). */
  status?: number;
  /** The injected fault, as given to `inject`. */
  fault?: Fault;
}

export interface TlsMaterial {
  cert: string;
  key: string;
  /** The CA that signs client certificates, with `requestCert`. */
  ca?: string;
  /** Mutual TLS: refuse clients without a certificate signed by `ca`. */
  requestCert?: boolean;
}

export interface HttpFakeOptions<S> {
  /** The fake's resources, shared by all routes (and left to the test to inspect). */
  state: S;
  routes?: RouteSpec<S>[];
  /** Proxy mode: unmatched requests go there (e.g. moto's endpoint). */
  upstream?: string;
  /** Serve HTTPS with this certificate (see `selfSignedCert()`, `mutualTlsMaterial()`). */
  tls?: TlsMaterial;
}

export interface HttpFake<S> {
  /** `http://127.0.0.1:PORT` or `https://127.0.0.1:PORT`. */
  readonly url: string;
  readonly state: S;
  readonly calls: FakeCall[];
  route(route: string, answer: Handler<S> | Answer, options?: { name?: string }): void;
  inject(fault: Fault): void;
  /** Calls by route name, pattern or AWS operation, in order. */
  callsOf(route: string): FakeCall[];
  /** Forgets the calls and the faults left (not the routes, nor the state). */
  clear(): void;
  close(): Promise<void>;
}

// ---------------------------------------------------------------------------------------------
// Fixtures

export const FIXTURES = join(import.meta.dirname, '..', 'fixtures');

/** A fixture with the whole answer; any other JSON is a body. */
const FullAnswerFixture = z
  .object({
    status: z.number().int(),
    headers: z.record(z.string(), z.string()).optional(),
    body: z.unknown(),
  })
  .strict();

/**
 * A recorded provider answer: `test/fixtures/<provider>/<api>-<kase>.json`, either a response body
 * (answered with 200) or exactly `{status, headers?, body}`.
 */
export function fixture(provider: string, api: string, kase: string): FakeAnswer {
  const file = join(FIXTURES, provider, `${api}-${kase}.json`);
  const parsed: unknown = JSON.parse(readFileSync(file, 'utf8'));
  const full = FullAnswerFixture.safeParse(parsed);
  if (!full.success) return { status: 200, body: parsed };
  const { status, headers, body } = full.data;
  return headers ? { status, headers, body } : { status, body };
}

// ---------------------------------------------------------------------------------------------
// Requests

interface CompiledRoute<S> {
  name: string;
  pattern: string;
  method: string;
  segments: string[];
  answer: Handler<S> | Answer;
}

function compile<S>(spec: RouteSpec<S>): CompiledRoute<S> {
  const [method, path, ...rest] = spec.route.trim().split(/\s+/);
  if (!method || !path?.startsWith('/') || rest.length) {
    throw new Error(`a route is 'METHOD /path/:param', got ${JSON.stringify(spec.route)}`);
  }
  return {
    name: spec.name ?? `${method.toUpperCase()} ${path}`,
    pattern: `${method.toUpperCase()} ${path}`,
    method: method.toUpperCase(),
    segments: path.split('/').filter(Boolean),
    answer: spec.answer,
  };
}

/** The params of `path` under the route, or undefined when it does not match. */
function matchPath(segments: string[], path: string): Record<string, string> | undefined {
  const parts = path.split('/').filter(Boolean);
  if (parts.length !== segments.length) return undefined;
  const params: Record<string, string> = {};
  for (let i = 0; i < segments.length; i++) {
    const want = segments[i] ?? '';
    const got = parts[i] ?? '';
    if (want.startsWith(':')) params[want.slice(1)] = decodeURIComponent(got);
    else if (want !== got) return undefined;
  }
  return params;
}

function awsOperation(
  headers: IncomingHttpHeaders,
  query: URLSearchParams,
  text: string,
): string | undefined {
  const target = headers['x-amz-target'];
  if (typeof target === 'string') return target.split('.').at(-1) ?? target;
  const action = query.get('Action');
  if (action) return action;
  if (headers['content-type']?.includes('x-www-form-urlencoded')) {
    return new URLSearchParams(text).get('Action') ?? undefined;
  }
  return undefined;
}

function parseJson(text: string, contentType: string | undefined): unknown {
  if (!text || (contentType && !contentType.includes('json'))) return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

async function readRequest(request: IncomingMessage): Promise<Omit<FakeRequest, 'params'>> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(String(chunk)));
  const raw = Buffer.concat(chunks);
  const text = raw.toString('utf8');
  const url = new URL(request.url ?? '/', 'http://fake');
  const contentType = request.headers['content-type'];
  return {
    method: request.method ?? 'GET',
    path: url.pathname,
    query: url.searchParams,
    headers: request.headers,
    raw,
    text,
    json: parseJson(text, contentType),
    operation: awsOperation(request.headers, url.searchParams, text),
  };
}

function recordedBody(request: Omit<FakeRequest, 'params'>): unknown {
  if (!request.text) return undefined;
  if (request.json !== undefined) return request.json;
  if (request.headers['content-type']?.includes('x-www-form-urlencoded'))
    return Object.fromEntries(new URLSearchParams(request.text));
  return request.text;
}

// ---------------------------------------------------------------------------------------------
// Answers

function isStreamed(answer: Answer): answer is StreamedAnswer {
  return 'stream' in answer;
}

function send(response: ServerResponse, answer: FakeAnswer): void {
  const headers: Record<string, string> = { ...answer.headers };
  let payload: Buffer | undefined;
  if (typeof answer.body === 'string') payload = Buffer.from(answer.body);
  else if (answer.body instanceof Uint8Array) payload = Buffer.from(answer.body);
  else if (answer.body !== undefined) {
    payload = Buffer.from(JSON.stringify(answer.body));
    if (!Object.keys(headers).some((name) => name.toLowerCase() === 'content-type'))
      headers['content-type'] = 'application/json';
  }
  headers['content-length'] = String(payload?.length ?? 0);
  response.writeHead(answer.status, headers);
  response.end(payload);
}

async function sendStream(response: ServerResponse, answer: StreamedAnswer): Promise<void> {
  response.writeHead(answer.status, { 'content-type': 'application/octet-stream', ...answer.headers });
  response.flushHeaders();
  for await (const chunk of answer.stream) {
    if (response.destroyed) return;
    response.write(chunk);
  }
  response.end();
}

/** The answer for an injected status fault. */
function faultAnswer(fault: Extract<FaultAnswer, { status: number }>): FakeAnswer {
  const headers: Record<string, string> = { ...fault.headers };
  if (fault.retryAfter !== undefined) headers['retry-after'] = String(fault.retryAfter);
  return { status: fault.status, headers, body: fault.body };
}

const HOP_HEADERS = ['host', 'content-length', 'connection', 'transfer-encoding'];

async function forward(upstream: string, request: IncomingMessage, raw: Buffer): Promise<FakeAnswer> {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(request.headers)) {
    if (typeof value === 'string' && !HOP_HEADERS.includes(name)) headers[name] = value;
  }
  const method = request.method ?? 'GET';
  const answer = await fetch(`${upstream}${request.url ?? '/'}`, {
    method,
    headers,
    ...(raw.length && method !== 'GET' && method !== 'HEAD' ? { body: raw } : {}),
  });
  const body = Buffer.from(await answer.arrayBuffer());
  const out: Record<string, string> = {};
  answer.headers.forEach((value, name) => {
    // fetch has decoded the body already
    if (!HOP_HEADERS.includes(name) && name !== 'content-encoding') out[name] = value;
  });
  return { status: answer.status, headers: out, body };
}

// ---------------------------------------------------------------------------------------------
// The server

export async function startHttpFake<S>(options: HttpFakeOptions<S>): Promise<HttpFake<S>> {
  const { state, upstream } = options;
  const routes: CompiledRoute<S>[] = (options.routes ?? []).map(compile);
  const faults: { fault: Fault; left: number }[] = [];
  const calls: FakeCall[] = [];
  const sockets = new Set<Socket>();

  const nameMatches = (name: string, route: CompiledRoute<S> | undefined, call: FakeCall) =>
    name === call.route || name === route?.pattern || name === call.operation;

  async function handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const read = await readRequest(request);
    let route: CompiledRoute<S> | undefined;
    let params: Record<string, string> = {};
    for (const candidate of routes) {
      const matched = candidate.method === read.method ? matchPath(candidate.segments, read.path) : undefined;
      if (matched) {
        route = candidate;
        params = matched;
        break;
      }
    }
    const call: FakeCall = {
      route: route?.name ?? read.operation ?? `${read.method} ${read.path}`,
      method: read.method,
      path: read.path,
      params,
      operation: read.operation,
      body: recordedBody(read),
      outcome: 'ok',
    };
    calls.push(call);
    const entry = faults.find((f) => f.left > 0 && nameMatches(f.fault.route, route, call));
    if (entry) {
      entry.left--;
      call.fault = entry.fault;
    }
    const fault = entry?.fault;
    const injectFault = (injected: Fault) => {
      if ('kind' in injected) {
        call.outcome = injected.kind;
        // a hung call is answered by no one: the client's timeout, or close(), ends it
        if (injected.kind === 'reset') request.socket.resetAndDestroy();
        return;
      }
      call.outcome = 'fault';
      call.status = injected.status;
      send(response, faultAnswer(injected));
    };
    if (fault && fault.when !== 'after') return injectFault(fault);

    let answer: Answer;
    try {
      if (route) {
        answer =
          typeof route.answer === 'function' ? await route.answer({ ...read, params }, state) : route.answer;
      } else if (upstream) {
        answer = await forward(upstream, request, read.raw);
      } else {
        call.outcome = 'unmatched';
        const name = `${read.method} ${read.path}`;
        answer = { status: 404, body: { error: `the fake has no route for ${name}`, route: name } };
      }
    } catch (error) {
      call.outcome = 'error';
      answer = route
        ? { status: 500, body: { error: `the fake's route failed: ${String(error)}`, route: call.route } }
        : { status: 502, body: { error: `the fake could not reach ${upstream}: ${String(error)}` } };
    }
    if (fault) return injectFault(fault); // the call took effect; its answer is lost
    call.status = answer.status;
    if (isStreamed(answer)) await sendStream(response, answer);
    else send(response, answer);
  }

  const listener = (request: IncomingMessage, response: ServerResponse) => {
    handle(request, response).catch((error: unknown) => {
      if (!response.headersSent) send(response, { status: 500, body: { error: String(error) } });
      else response.destroy();
    });
  };
  const server: Server = options.tls
    ? createTlsServer(
        {
          cert: options.tls.cert,
          key: options.tls.key,
          ...(options.tls.ca ? { ca: options.tls.ca } : {}),
          ...(options.tls.requestCert ? { requestCert: true, rejectUnauthorized: true } : {}),
        },
        listener,
      )
    : createServer(listener);
  // the TCP sockets (under TLS too): close() drops them, hung calls and streams included
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('the fake is not listening on a port');
  const { port } = address;

  return {
    url: `${options.tls ? 'https' : 'http'}://127.0.0.1:${port}`,
    state,
    calls,
    route(pattern, answer, routeOptions = {}) {
      routes.push(compile({ route: pattern, answer, ...routeOptions }));
    },
    inject(fault) {
      faults.push({ fault, left: fault.times ?? 1 });
    },
    callsOf(name) {
      const patterns = new Map(routes.map((route) => [route.name, route.pattern]));
      return calls.filter(
        (call) => call.route === name || call.operation === name || patterns.get(call.route) === name,
      );
    },
    clear() {
      calls.length = 0;
      faults.length = 0;
    },
    close: () =>
      new Promise((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
