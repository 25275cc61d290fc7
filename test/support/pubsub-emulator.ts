// Google's Pub/Sub emulator (google-cloud-cli-pubsub-emulator, Java) for tests: started on a free
// port (its launcher execs java, so the process started is the emulator), topics, push
// subscriptions and publishing over its REST API. `pubsubEmulatorMissing()` says why it cannot run.
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer } from 'node:net';

export const EMULATOR =
  process.env.PUBSUB_EMULATOR_BIN ??
  '/usr/lib/google-cloud-sdk/platform/pubsub-emulator/bin/cloud-pubsub-emulator';

export function pubsubEmulatorMissing(): string | undefined {
  return existsSync(EMULATOR) ? undefined : `the Pub/Sub emulator is not installed (${EMULATOR})`;
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  await new Promise<void>((done) => server.close(() => done()));
  return port;
}

export interface PubSubEmulator {
  /** `http://127.0.0.1:PORT` */
  readonly url: string;
  readonly project: string;
  createTopic(topic: string): Promise<void>;
  /** A push subscription to `endpoint`, acked by its 2xx answers. */
  createPushSubscription(name: string, topic: string, endpoint: string): Promise<void>;
  /** Publishes one message (data as text); returns its message id. */
  publish(topic: string, data: string, attributes?: Record<string, string>): Promise<string>;
  stop(): Promise<void>;
}

export async function startPubSubEmulator(project = 'submitter-test'): Promise<PubSubEmulator> {
  const port = await freePort();
  const child: ChildProcess = spawn(EMULATOR, [`--host=127.0.0.1`, `--port=${port}`], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString('utf8')).slice(-4000);
  });
  const url = `http://127.0.0.1:${port}`;
  const until = Date.now() + 30_000;
  for (;;) {
    try {
      const answer = await fetch(`${url}/`);
      if (answer.ok) break;
    } catch {
      // not listening yet
    }
    if (child.exitCode !== null || Date.now() > until) {
      child.kill('SIGKILL');
      throw new Error(`the Pub/Sub emulator did not start: ${stderr}`);
    }
    await new Promise((done) => setTimeout(done, 100));
  }
  async function call(method: string, path: string, body: unknown): Promise<unknown> {
    const answer = await fetch(`${url}/v1/${path}`, {
      method,
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    const text = await answer.text();
    if (!answer.ok) throw new Error(`${method} ${path}: HTTP ${answer.status}: ${text}`);
    return JSON.parse(text || '{}');
  }
  return {
    url,
    project,
    async createTopic(topic) {
      await call('PUT', `projects/${project}/topics/${topic}`, {});
    },
    async createPushSubscription(name, topic, endpoint) {
      await call('PUT', `projects/${project}/subscriptions/${name}`, {
        topic: `projects/${project}/topics/${topic}`,
        pushConfig: { pushEndpoint: endpoint },
        ackDeadlineSeconds: 10,
      });
    },
    async publish(topic, data, attributes = {}) {
      const out = (await call('POST', `projects/${project}/topics/${topic}:publish`, {
        messages: [{ data: Buffer.from(data).toString('base64'), attributes }],
      })) as { messageIds?: string[] };
      return out.messageIds?.[0] ?? '';
    },
    async stop() {
      if (child.exitCode !== null) return;
      const exited = new Promise<void>((done) => child.once('exit', () => done()));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
    },
  };
}
