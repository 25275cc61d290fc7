// Secrets by reference: the Prefect API key read from Secrets Manager (moto, over the wire)
// only when a Crashed state is proposed, and sent to a local Prefect API; never in the env.
import assert from 'node:assert/strict';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import { after, before, describe, it } from 'node:test';
import {
  CreateSecretCommand,
  PutSecretValueCommand,
  SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import { SecretUnavailableError, secretsManagerReader } from '../core/secret-ref.js';
import { PREFECT_KEY_SECRET_ENV, prefectFromEnv } from '../functions/lib/prefect-from-env.js';
import { startFaultProxy } from './support/fault-proxy.js';
import { type Moto, startMoto } from './support/moto.js';

let moto: Moto;
let client: SecretsManagerClient;
let prefect: Server;
let prefectUrl: string;
const seen: { url: string; headers: IncomingHttpHeaders }[] = [];
let prefectFailures = 0;

before(async () => {
  moto = await startMoto();
  client = new SecretsManagerClient(moto.clientConfig());
  prefect = createServer((request, response) => {
    seen.push({ url: request.url ?? '', headers: request.headers });
    request.resume();
    request.on('end', () => {
      if (prefectFailures > 0) {
        prefectFailures--;
        response.writeHead(503, { 'retry-after': '0' }).end('busy');
        return;
      }
      response
        .writeHead(201, { 'content-type': 'application/json' })
        .end('{"status":"ACCEPT","state":null,"details":{"type":"accept_details"}}');
    });
  });
  await new Promise<void>((done) => prefect.listen(0, '127.0.0.1', done));
  const address = prefect.address();
  prefectUrl = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}/api`;
});

after(async () => {
  client.destroy();
  await new Promise<void>((done) => prefect.close(() => done()));
  await moto.stop();
});

async function secret(name: string, value: string): Promise<string> {
  const out = await client.send(new CreateSecretCommand({ Name: name, SecretString: value }));
  assert.ok(out.ARN);
  return out.ARN;
}

describe('secrets by reference', () => {
  it('proposes Crashed with the key read from Secrets Manager, without the key in the environment', async () => {
    const arn = await secret('prefect-api-key', 'pnu_canary_key');
    const reads: string[] = [];
    const reader = secretsManagerReader(client);
    const api = prefectFromEnv(
      { PREFECT_API_URL: prefectUrl, [PREFECT_KEY_SECRET_ENV]: arn },
      {
        secrets: {
          read: async (ref) => {
            reads.push(ref);
            return reader.read(ref);
          },
        },
      },
    );
    assert.ok(api);
    assert.deepEqual(reads, [], 'nothing is read before it is needed');
    await api.proposeCrashed('11111111-2222-4333-8444-555555555555', 'the task never started');
    const request = seen.at(-1);
    assert.equal(request?.url, '/api/flow_runs/11111111-2222-4333-8444-555555555555/set_state');
    assert.equal(request?.headers.authorization, 'Bearer pnu_canary_key');
    assert.deepEqual(reads, [arn]);
  });

  it('reads a secret once per container, and again after a failed read', async () => {
    const arn = await secret('cached', 'first');
    const reader = secretsManagerReader(client);
    assert.equal(await reader.read(arn), 'first');
    await client.send(new PutSecretValueCommand({ SecretId: arn, SecretString: 'second' }));
    assert.equal(await reader.read(arn), 'first', 'cached for the life of the container');
    assert.equal(
      await secretsManagerReader(client).read(arn),
      'second',
      'a new container reads the new value',
    );

    // by name, so the same reference can come into existence between two reads
    const missing = 'appears-later';
    await assert.rejects(
      () => reader.read(missing),
      (error: Error) =>
        error instanceof SecretUnavailableError &&
        error.message.includes(missing) &&
        /ResourceNotFoundException\): no such secret: fix the ARN/.test(error.message),
    );
    await secret(missing, 'now it exists');
    assert.equal(await reader.read(missing), 'now it exists', 'a failed read is not cached');
  });

  it('uses PREFECT_API_KEY directly when no secret is referenced (local runs), and nothing without a URL', async () => {
    const api = prefectFromEnv({ PREFECT_API_URL: prefectUrl, PREFECT_API_KEY: 'local-key' });
    await api?.proposeCrashed('11111111-2222-4333-8444-666666666666', 'x');
    assert.equal(seen.at(-1)?.headers.authorization, 'Bearer local-key');
    assert.equal(prefectFromEnv({}), undefined);
  });

  it('throttled secret reads and a busy Prefect API are tried again by the runtime, not given up on', async () => {
    const arn = await secret('throttled', 'pnu_after_throttling');
    const proxy = await startFaultProxy(moto.endpoint);
    const proxied = new SecretsManagerClient({
      ...moto.clientConfig(),
      endpoint: proxy.endpoint,
      maxAttempts: 1,
    });
    try {
      proxy.inject({ operation: 'GetSecretValue', times: 2, kind: 'throttle' });
      const reader = secretsManagerReader(proxied, { retry: { baseMs: 1, capMs: 2 } });
      assert.equal(await reader.read(arn), 'pnu_after_throttling');
      assert.deepEqual(
        proxy.callsOf('GetSecretValue').map((c) => c.outcome),
        ['throttle', 'throttle', 'ok'],
      );
      prefectFailures = 2;
      const before = seen.length;
      await prefectFromEnv({ PREFECT_API_URL: prefectUrl, PREFECT_API_KEY: 'k' })?.proposeCrashed(
        '11111111-2222-4333-8444-777777777777',
        'gone',
      );
      assert.equal(seen.length - before, 3, 'two 503s, then the state was set');
    } finally {
      proxied.destroy();
      await proxy.close();
    }
  });
});
