// Status diagnosis from DescribeTasks answers moto cannot produce (non-zero exits, failed
// starts, pull errors, vanished tasks). Each answer is served over HTTP in ECS's wire format
// to the real provider and SDK client, so deserialisation is part of what is tested.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ProviderPermanentError, ProviderTransientError } from '../core/errors.js';
import { FolderStore } from '../core/store.js';
import { parseBlock } from '../providers/blocks.js';
import type { EcsTaskBlock } from '../providers/ecs-task/block.js';
import { createEcsTaskProvider } from '../providers/ecs-task/index.js';
import type { InfraStatus, Target } from '../providers/port.js';
import { ROOT, tempDir } from './helpers.js';

const TASK_ARN = 'arn:aws:ecs:us-east-1:123456789012:task/prod/5a1c0e2b9d8f4e6a8b7c6d5e4f3a2b1c';
const HANDLE = { cluster: 'prod', taskArn: TASK_ARN, container: 'prefect' };
const FIXTURES = join(ROOT, 'test', 'fixtures', 'ecs');

let server: Server;
let endpoint = '';
/** What the fake answers DescribeTasks with next: a fixture name, or an HTTP status to fail with. */
let answer: string | number = 'pending';
const seen: string[] = [];

before(async () => {
  server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', async () => {
      const operation =
        String(request.headers['x-amz-target'] ?? '')
          .split('.')
          .at(-1) ?? '';
      seen.push(operation);
      if (typeof answer === 'number') {
        response.writeHead(answer, { 'content-type': 'application/x-amz-json-1.1' });
        response.end(JSON.stringify({ __type: answer === 400 ? 'ThrottlingException' : 'ServerException' }));
        return;
      }
      if (operation !== 'DescribeTasks') {
        response.writeHead(400, { 'content-type': 'application/x-amz-json-1.1' });
        response.end(JSON.stringify({ __type: 'ClientException', message: `unexpected ${operation}` }));
        return;
      }
      const body = await readFile(join(FIXTURES, `describe-tasks-${answer}.json`));
      response.writeHead(200, { 'content-type': 'application/x-amz-json-1.1' });
      response.end(body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

after(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

function target(fields: Record<string, unknown> = {}): Target<EcsTaskBlock> {
  const block = parseBlock({ type: 'ecs-task', image: 'flows:1', cluster: 'prod', ...fields });
  assert.ok(block.type === 'ecs-task');
  return { block, flowRun: { id: '0b3b3c3e-0000-4000-8000-000000000001', parameters: {}, tags: [] } };
}

function provider() {
  return createEcsTaskProvider({
    clientConfig: {
      endpoint,
      region: 'us-east-1',
      credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
    },
    retry: { attempts: 2, baseMs: 1, capMs: 2 },
  });
}

async function statusFor(fixture: string, fields: Record<string, unknown> = {}): Promise<InfraStatus> {
  answer = fixture;
  return provider().status(target(fields), {
    ...HANDLE,
    container: typeof fields.container_name === 'string' ? fields.container_name : 'prefect',
  });
}

describe('ecs-task status from recorded DescribeTasks answers', () => {
  it('a non-zero exit of the named container: failed with its status code', async () => {
    const status = await statusFor('nonzero-exit');
    assert.equal(status.phase, 'failed');
    assert.equal(status.exit_code, 1);
    assert.match(status.reason ?? '', /container 'prefect' exited with status code 1/);
    assert.equal(status.links?.task_arn, TASK_ARN);
    assert.match(
      status.links?.console ?? '',
      /us-east-1\.console\.aws\.amazon\.com\/ecs\/v2\/clusters\/prod\/tasks\/5a1c/,
    );
  });

  it('exit code 0: succeeded', async () => {
    const status = await statusFor('succeeded');
    assert.deepEqual([status.phase, status.exit_code], ['succeeded', 0]);
  });

  it('TaskFailedToStart with no containers: a crash (no exit code) that says it never ran', async () => {
    const status = await statusFor('failed-to-start-no-containers');
    assert.equal(status.phase, 'failed');
    assert.equal(status.exit_code, null);
    assert.match(
      status.reason ?? '',
      /the task failed to start \(TaskFailedToStart: Timeout waiting for network interface.*\) before any container ran/,
    );
  });

  it('ResourceInitializationError: points at the execution role and secrets', async () => {
    const status = await statusFor('failed-to-start-secrets');
    assert.equal(status.exit_code, null);
    assert.match(
      status.reason ?? '',
      /could not be initialised .*execution role cannot read one of the 'secrets'/,
    );
  });

  it('CannotPullContainerError: says the image could not be pulled and what to check', async () => {
    const status = await statusFor('cannot-pull');
    assert.equal(status.phase, 'failed');
    assert.equal(status.exit_code, null);
    assert.match(status.reason ?? '', /image could not be pulled \(CannotPullContainerError: .*nope:latest/);
    assert.match(status.reason ?? '', /public IP, a NAT gateway or VPC endpoints/);
  });

  it('out of memory: the exit code and a hint to raise memory', async () => {
    const status = await statusFor('out-of-memory');
    assert.equal(status.exit_code, 137);
    assert.match(status.reason ?? '', /ran out of memory .*raise 'memory'/);
  });

  it('an essential sidecar exited first: a crash naming the sidecar', async () => {
    const status = await statusFor('sidecar-exited');
    assert.equal(status.exit_code, null);
    assert.match(status.reason ?? '', /essential container 'envoy' exited with status code 2/);
  });

  it('a task that disappeared: missing', async () => {
    const status = await statusFor('missing');
    assert.equal(status.phase, 'missing');
    assert.match(status.reason ?? '', /is not in cluster 'prod'/);
  });

  it('pending, and stopping after a failed start, count as not started (the start timeout applies)', async () => {
    assert.equal((await statusFor('pending')).phase, 'pending');
    const stopping = await statusFor('deprovisioning-after-failed-start');
    assert.equal(stopping.phase, 'pending');
    assert.match(stopping.reason ?? '', /deprovisioning \(CannotPullContainerError/);
  });

  it('stopped by a user: the signal exit code and why it stopped', async () => {
    const status = await statusFor('stopped-by-user');
    assert.equal(status.exit_code, 143);
    assert.match(
      status.reason ?? '',
      /after the task was stopped \(UserInitiated: Stopped by the flow-run submitter\)/,
    );
  });

  it('a wrong container_name is named in the reason', async () => {
    const status = await statusFor('succeeded', { container_name: 'flow' });
    assert.equal(status.exit_code, null);
    assert.match(status.reason ?? '', /no container named 'flow' \(it has prefect\): fix 'container_name'/);
  });

  it('throttled DescribeTasks: retried, then ProviderTransientError (the watch looks again later)', async () => {
    seen.length = 0;
    answer = 400;
    await assert.rejects(provider().status(target(), HANDLE), (error: unknown) => {
      assert.ok(error instanceof ProviderTransientError);
      assert.match(error.message, /DescribeTasks failed 2 times, last with ThrottlingException/);
      return true;
    });
    assert.deepEqual(seen, ['DescribeTasks', 'DescribeTasks'], 'bounded: exactly the policy attempts');
  });
});

describe('ecs-task configuration errors', () => {
  it('no region anywhere: a permanent error that says where to set one', async () => {
    const saved = { ...process.env };
    try {
      for (const name of ['AWS_REGION', 'AWS_DEFAULT_REGION', 'AWS_PROFILE']) delete process.env[name];
      process.env.AWS_CONFIG_FILE = join(FIXTURES, 'no-such-aws-config');
      process.env.AWS_SHARED_CREDENTIALS_FILE = join(FIXTURES, 'no-such-aws-credentials');
      const regionless = createEcsTaskProvider({
        clientConfig: { endpoint, credentials: { accessKeyId: 'test', secretAccessKey: 'test' } },
        retry: { attempts: 1 },
      });
      await assert.rejects(
        regionless.submit(target(), { store: new FolderStore(await tempDir()) }),
        (error: unknown) => {
          assert.ok(error instanceof ProviderPermanentError, String(error));
          assert.match(
            error.message,
            /no AWS region: set aws_credentials\.region_name in the block, or AWS_REGION/,
          );
          return true;
        },
      );
    } finally {
      process.env = saved;
    }
  });
});
