// An HTTP proxy in front of an AWS fake (moto) that records every call and injects
// faults by operation: answer with throttling or a 5xx instead of forwarding ("before"),
// or forward and then lose the answer behind a 5xx ("after": the call took effect, the
// caller cannot know). Binds 127.0.0.1 on a free port; runs in the test's process.
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Fault {
  /** Operation name, e.g. `RunTask`, `DescribeTasks`, `DescribeSubnets`. */
  operation: string;
  /** How many matching calls to fail, from the next one on. */
  times: number;
  /** `throttle` = 400 ThrottlingException; `500` = 500 ServerException; `hang` = no answer until the caller gives up. */
  kind: 'throttle' | '500' | 'hang';
  /** `after` forwards the call first, then answers 500 (the effect happened, the answer is lost). */
  when?: 'before' | 'after';
}

export interface RecordedCall {
  operation: string;
  /** The JSON body for JSON-protocol services (ECS, Logs); the form for query ones (EC2). */
  body: unknown;
  /** What the caller got: `ok`, or the fault injected. */
  outcome: 'ok' | Fault['kind'];
}

export interface FaultProxy {
  readonly endpoint: string;
  readonly calls: RecordedCall[];
  inject(fault: Fault): void;
  /** Calls of one operation, in order. */
  callsOf(operation: string): RecordedCall[];
  clear(): void;
  close(): Promise<void>;
}

function operationOf(request: IncomingMessage, body: string): string {
  const target = request.headers['x-amz-target'];
  if (typeof target === 'string') return target.split('.').at(-1) ?? target;
  const action = new URLSearchParams(body).get('Action');
  return action ?? `${request.method} ${request.url}`;
}

function parseBody(body: string, contentType: string | undefined): unknown {
  if (!body) return undefined;
  if (contentType?.includes('json')) {
    try {
      return JSON.parse(body);
    } catch {
      return body;
    }
  }
  if (contentType?.includes('x-www-form-urlencoded')) return Object.fromEntries(new URLSearchParams(body));
  return body;
}

const FAULT_ANSWERS = {
  throttle: {
    status: 400,
    type: 'ThrottlingException',
    message: 'Rate exceeded (injected by the test proxy)',
  },
  '500': { status: 500, type: 'ServerException', message: 'Service error (injected by the test proxy)' },
} as const;

export async function startFaultProxy(upstream: string): Promise<FaultProxy> {
  const faults: (Fault & { left: number })[] = [];
  const calls: RecordedCall[] = [];

  const server: Server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', async () => {
      const raw = Buffer.concat(chunks);
      const text = raw.toString('utf8');
      const operation = operationOf(request, text);
      const fault = faults.find((f) => f.operation === operation && f.left > 0);
      const record: RecordedCall = {
        operation,
        body: parseBody(text, request.headers['content-type']),
        outcome: fault ? fault.kind : 'ok',
      };
      calls.push(record);
      const answerFault = (kind: Fault['kind']) => {
        if (kind === 'hang') return; // the caller's timeout ends it (close() drops the connection)
        const answer = FAULT_ANSWERS[kind];
        response.writeHead(answer.status, {
          'content-type': 'application/x-amz-json-1.1',
          'x-amzn-errortype': answer.type,
          'x-amzn-requestid': `proxy-${calls.length}`,
        });
        response.end(JSON.stringify({ __type: answer.type, message: answer.message }));
      };
      if (fault) fault.left--;
      if (fault && fault.when !== 'after') return answerFault(fault.kind);
      try {
        const headers: Record<string, string> = {};
        for (const [name, value] of Object.entries(request.headers)) {
          if (typeof value === 'string' && !['host', 'content-length', 'connection'].includes(name))
            headers[name] = value;
        }
        const upstreamResponse = await fetch(`${upstream}${request.url ?? '/'}`, {
          method: request.method ?? 'GET',
          headers,
          ...(raw.length && request.method !== 'GET' && request.method !== 'HEAD' ? { body: raw } : {}),
        });
        const answer = Buffer.from(await upstreamResponse.arrayBuffer());
        if (fault) return answerFault(fault.kind); // the call took effect upstream; its answer is lost
        const out: Record<string, string> = {};
        upstreamResponse.headers.forEach((value, name) => {
          if (!['content-length', 'transfer-encoding', 'connection', 'content-encoding'].includes(name))
            out[name] = value;
        });
        response.writeHead(upstreamResponse.status, { ...out, 'content-length': String(answer.length) });
        response.end(answer);
      } catch (error) {
        response.writeHead(502, { 'content-type': 'text/plain' });
        response.end(`proxy could not reach ${upstream}: ${String(error)}`);
      }
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    calls,
    inject: (fault) => faults.push({ ...fault, left: fault.times }),
    callsOf: (operation) => calls.filter((call) => call.operation === operation),
    clear() {
      calls.length = 0;
      faults.length = 0;
    },
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
