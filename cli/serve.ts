// `submitter serve [--port N]`: the Pub/Sub push endpoint on this machine — the same trigger
// handler as the Lambda function URL (push requests shaped as function-URL events), its OIDC
// check configured from the same environment (PUBSUB_PUSH_SERVICE_ACCOUNTS, _AUDIENCE,
// _JWKS_URL, _ISSUERS). Each accepted flow run is one local workflow execution, named from its
// id: a redelivered or republished event finds its execution and starts nothing.
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Context } from 'aws-lambda';
import { describeError, InvalidInputError } from '../core/errors.js';
import type { Deps } from '../functions/lib/deps.js';
import { PUSH_AUTH_ENV, type PushVerifier, pushVerifierFromEnv } from '../functions/lib/push-auth.js';
import { LocalExecutions } from '../functions/local/executions.js';
import { type ExecutionOutcome, type RunOptions, startExecution } from '../functions/local/runner.js';
import { createTriggerHandler, type ExecutionStarter } from '../functions/trigger.js';

export interface ServeOptions {
  deps: Deps;
  /** Checks each push (OIDC); undefined: none (the emulator sends no token). */
  verifyPush: PushVerifier | undefined;
  port?: number;
  host?: string;
  /** Passed to each execution (tests shorten the retry waits). */
  run?: Omit<RunOptions, 'deps'>;
  /** Each push request answered: its status (2xx acks it). */
  onDelivery?: (status: number, body: string) => void;
}

export interface Serving {
  /** `http://HOST:PORT/`: where Pub/Sub pushes. */
  readonly url: string;
  /** The executions started by this server, as they end. */
  readonly executions: Promise<ExecutionOutcome>[];
  close(): Promise<void>;
}

/** Starts each flow run's execution in the background; one that exists already is a duplicate. */
function localStarter(
  deps: Deps,
  run: ServeOptions['run'],
  started: Promise<ExecutionOutcome>[],
): ExecutionStarter {
  const executions = new LocalExecutions(deps.store);
  const running = new Set<string>();
  return {
    async start(name, input) {
      if (running.has(name) || (await executions.read(name))) return { id: name, duplicate: true };
      running.add(name);
      const outcome = startExecution(input, { ...run, deps }).catch(
        (error: unknown): ExecutionOutcome => ({
          name,
          started: true,
          status: 'FAILED',
          error: describeError(error),
          transitions: 0,
        }),
      );
      started.push(outcome);
      return { id: name, duplicate: false };
    },
  };
}

async function readBody(request: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(String(chunk)));
  return Buffer.concat(chunks).toString('utf8');
}

function flatHeaders(request: IncomingMessage): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(request.headers)) {
    if (value !== undefined) out[name] = Array.isArray(value) ? value.join(',') : value;
  }
  return out;
}

const CONTEXT = {
  functionName: 'submitter-trigger-local',
  awsRequestId: 'local',
  getRemainingTimeInMillis: () => 30_000,
} as Context;

export async function startServe(options: ServeOptions): Promise<Serving> {
  const executions: Promise<ExecutionOutcome>[] = [];
  const starter = localStarter(options.deps, options.run, executions);
  const verify = options.verifyPush;
  const handler = createTriggerHandler(options.deps, () => starter, {
    ...(verify ? { verifyPush: () => verify } : {}),
  });
  const server: Server = createServer((request, response) => {
    void (async () => {
      let status = 500;
      let body = '{"error":"internal error"}';
      let headers: Record<string, string> = { 'content-type': 'application/json' };
      try {
        if (request.method !== 'POST') {
          status = 405;
          body = '{"error":"Pub/Sub pushes with POST"}';
        } else {
          const url = new URL(request.url ?? '/', 'http://local');
          const answer = await handler(
            {
              version: '2.0',
              rawPath: url.pathname,
              headers: flatHeaders(request),
              requestContext: {
                domainName: request.headers.host,
                http: { method: 'POST', path: url.pathname },
              },
              body: await readBody(request),
              isBase64Encoded: false,
            },
            CONTEXT,
          );
          if (answer && typeof answer === 'object' && 'statusCode' in answer) {
            ({ statusCode: status, body, headers } = answer);
          }
        }
      } catch (error) {
        options.deps.log.error('push request failed; Pub/Sub will redeliver', {
          error: describeError(error),
        });
      }
      options.onDelivery?.(status, body);
      response.writeHead(status, headers).end(body);
    })();
  });
  await new Promise<void>((done) => server.listen(options.port ?? 8080, options.host ?? '127.0.0.1', done));
  const { address, port } = server.address() as AddressInfo;
  return {
    url: `http://${address}:${port}/`,
    executions,
    close: () =>
      new Promise<void>((done) => {
        server.closeAllConnections();
        server.close(() => done());
      }),
  };
}

export interface ServeFlags {
  port?: string;
  home?: string;
  blocks?: string;
  verbose?: boolean;
  'insecure-no-auth'?: boolean;
}

/** `submitter serve`: until SIGINT/SIGTERM; the executions under way are left to finish. */
export async function serveCommand(
  flags: ServeFlags,
  io: { out: (text: string) => void; err: (text: string) => void },
  env: NodeJS.ProcessEnv = process.env,
): Promise<number> {
  const port = flags.port === undefined ? 8080 : Number(flags.port);
  if (!Number.isInteger(port) || port < 0 || port > 65_535) {
    throw new InvalidInputError('Usage', [
      { path: '--port', message: `'${flags.port}' is not a port number` },
    ]);
  }
  let verifyPush: PushVerifier | undefined;
  if (flags['insecure-no-auth']) {
    io.err(
      'warning: --insecure-no-auth: push requests are not authenticated (for the Pub/Sub emulator only)',
    );
  } else if (env[PUSH_AUTH_ENV.serviceAccounts]) {
    verifyPush = pushVerifierFromEnv(env);
  } else {
    throw new InvalidInputError('Usage', [
      {
        path: PUSH_AUTH_ENV.serviceAccounts,
        message: `set ${PUSH_AUTH_ENV.serviceAccounts} (and ${PUSH_AUTH_ENV.audience}: the URL Pub/Sub pushes to) as in the deployment, or pass --insecure-no-auth for the emulator, which sends no token`,
      },
    ]);
  }
  const { localDeps } = await import('./local.js');
  const deps = await localDeps({
    ...(flags.home ? { home: flags.home } : {}),
    ...(flags.blocks ? { blocks: flags.blocks } : {}),
    verbose: flags.verbose ?? false,
    onReport: (report) => io.out(JSON.stringify({ report })),
  });
  const serving = await startServe({ deps, verifyPush, port });
  io.err(`listening for Pub/Sub push on ${serving.url} (Ctrl-C to stop)`);
  await new Promise<void>((done) => {
    process.once('SIGINT', done);
    process.once('SIGTERM', done);
  });
  await serving.close();
  return 0;
}
