// A moto server for tests: started on a free 127.0.0.1 port, reset between tests,
// stopped by PID. Gives the endpoint, SDK client config and the env vars that point the
// SDK's standard configuration (and so the CLI) at it.
import { type ChildProcess, spawn } from 'node:child_process';
import { createServer } from 'node:net';

export const MOTO_REGION = 'us-east-1';
export const MOTO_CREDENTIALS = { accessKeyId: 'test', secretAccessKey: 'test' } as const;

export interface MotoClientConfig {
  endpoint: string;
  region: string;
  credentials: { accessKeyId: string; secretAccessKey: string };
  /** Fail fast in tests: moto answers at once or not at all. */
  maxAttempts: number;
}

/** `progression`: `immediate`, `manual` (one step per `times` DescribeX calls) or `time` (seconds). */
export type MotoTransition =
  | { progression: 'immediate' }
  | { progression: 'manual'; times: number }
  | { progression: 'time'; seconds: number };

export interface Moto {
  readonly endpoint: string;
  readonly port: number;
  readonly pid: number;
  readonly region: string;
  /** For any SDK v3 client: `new ECSClient(moto.clientConfig())`. */
  clientConfig(): MotoClientConfig;
  /** S3 needs path-style addressing against moto. */
  s3Config(): MotoClientConfig & { forcePathStyle: true };
  /** Env for a child process (or `process.env`) so the SDK's standard configuration finds moto. */
  env(): Record<string, string>;
  /** Forgets every resource (`POST /moto-api/reset`). */
  reset(): Promise<void>;
  /** How fast a model (e.g. `ecs::task`) advances its status. */
  setTransition(model: string, transition: MotoTransition): Promise<void>;
  stop(): Promise<void>;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

const sleep = (ms: number) => new Promise((done) => setTimeout(done, ms));

async function post(url: string, body?: unknown): Promise<void> {
  const response = await fetch(url, {
    method: 'POST',
    ...(body !== undefined
      ? { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } }
      : {}),
  });
  const text = await response.text();
  if (!response.ok) throw new Error(`moto ${url} answered ${response.status}: ${text.slice(0, 200)}`);
}

function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((done) => child.once('exit', () => done()));
}

async function waitReady(endpoint: string, child: ChildProcess, output: () => string): Promise<void> {
  const deadline = Date.now() + 15_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`moto_server exited (${child.exitCode}): ${output()}`);
    try {
      const response = await fetch(`${endpoint}/moto-api/`);
      await response.arrayBuffer();
      if (response.ok) return;
    } catch {
      // not listening yet
    }
    await sleep(50);
  }
  throw new Error(`moto_server did not answer on ${endpoint} within 15 s: ${output()}`);
}

async function launch(port: number): Promise<{ child: ChildProcess; endpoint: string }> {
  const command = process.env.MOTO_SERVER_BIN ?? 'moto_server';
  const child = spawn(command, ['-H', '127.0.0.1', '-p', String(port)], {
    stdio: ['ignore', 'ignore', 'pipe'],
    env: { ...process.env, PYTHONUNBUFFERED: '1' },
  });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-4000);
  });
  const spawned = new Promise<void>((resolve, reject) => {
    child.once('spawn', resolve);
    child.once('error', (error) =>
      reject(
        new Error(`cannot start '${command}' (is moto installed? set MOTO_SERVER_BIN): ${error.message}`),
      ),
    );
  });
  await spawned;
  const endpoint = `http://127.0.0.1:${port}`;
  try {
    await waitReady(endpoint, child, () => stderr);
  } catch (error) {
    child.kill('SIGKILL');
    throw error;
  }
  // moto logs every request on stderr; keep draining it so the pipe never fills
  child.stderr?.resume();
  return { child, endpoint };
}

/** Starts `moto_server -H 127.0.0.1 -p <free port>` and waits until it answers. */
export async function startMoto(): Promise<Moto> {
  let launched: Awaited<ReturnType<typeof launch>> | undefined;
  let lastError: unknown;
  for (let attempt = 0; attempt < 3 && !launched; attempt++) {
    try {
      launched = await launch(await freePort());
    } catch (error) {
      lastError = error; // e.g. the port was taken between probing and binding
    }
  }
  if (!launched) throw lastError;
  const { child, endpoint } = launched;
  const pid = child.pid ?? 0;
  const port = Number(new URL(endpoint).port);
  const config = (): MotoClientConfig => ({
    endpoint,
    region: MOTO_REGION,
    credentials: { ...MOTO_CREDENTIALS },
    maxAttempts: 1,
  });
  return {
    endpoint,
    port,
    pid,
    region: MOTO_REGION,
    clientConfig: config,
    s3Config: () => ({ ...config(), forcePathStyle: true }),
    env: () => ({
      AWS_ENDPOINT_URL: endpoint,
      AWS_REGION: MOTO_REGION,
      AWS_DEFAULT_REGION: MOTO_REGION,
      AWS_ACCESS_KEY_ID: MOTO_CREDENTIALS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: MOTO_CREDENTIALS.secretAccessKey,
      S3_FORCE_PATH_STYLE: 'true',
    }),
    reset: () => post(`${endpoint}/moto-api/reset`),
    setTransition: (model, transition) =>
      post(`${endpoint}/moto-api/state-manager/set-transition`, { model_name: model, transition }),
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const done = exited(child);
      process.kill(pid, 'SIGTERM');
      const timer = setTimeout(() => {
        if (child.exitCode === null && child.signalCode === null) process.kill(pid, 'SIGKILL');
      }, 3000);
      await done;
      clearTimeout(timer);
    },
  };
}
