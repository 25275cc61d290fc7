// The S3 document store and the block store on it, against moto's S3 over the wire;
// and the CLI's `blocks put|get|list --blocks s3://…` pointed at moto by AWS_ENDPOINT_URL.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, beforeEach, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { BlockNotFoundError } from '../core/errors.js';
import { S3Store, StoreUnavailableError } from '../core/s3-store.js';
import { BlockStore } from '../providers/block-store.js';
import { parseBlock } from '../providers/blocks.js';
import { ROOT, tempDir } from './helpers.js';
import { type Moto, startMoto } from './support/moto.js';

const run = promisify(execFile);
const BUCKET = 'submitter-blocks';

let moto: Moto;
let s3: S3Client;

before(async () => {
  moto = await startMoto();
  s3 = new S3Client(moto.s3Config());
});
after(async () => {
  s3.destroy();
  await moto.stop();
});
beforeEach(async () => {
  await moto.reset();
  await s3.send(new CreateBucketCommand({ Bucket: BUCKET }));
});

describe('S3Store on moto', () => {
  it('puts, gets and lists documents under its prefix only', async () => {
    const store = S3Store.fromUrl(`s3://${BUCKET}/team-a/`, s3);
    const other = S3Store.fromUrl(`s3://${BUCKET}/team-b`, s3);
    assert.equal(store.location, `s3://${BUCKET}/team-a`);
    await store.put('runs/1/event.json', '{"a":1}');
    await store.put('runs/2/event.json', '{"a":2}');
    await other.put('runs/3/event.json', '{"a":3}');
    assert.equal(await store.get('runs/1/event.json'), '{"a":1}');
    assert.equal(await store.get('runs/9/event.json'), undefined);
    assert.deepEqual(await store.list('runs/'), ['runs/1/event.json', 'runs/2/event.json']);
    assert.deepEqual(await other.list(''), ['runs/3/event.json']);
  });

  it('putIfAbsent: of 20 concurrent writers of one key exactly one wins, and the first body stays', async () => {
    const store = S3Store.fromUrl(`s3://${BUCKET}`, s3);
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) => store.putIfAbsent('executions/fr-x.json', `writer ${i}`)),
    );
    assert.equal(results.filter(Boolean).length, 1);
    const winner = results.indexOf(true);
    assert.equal(await store.get('executions/fr-x.json'), `writer ${winner}`);
    assert.equal(await store.putIfAbsent('executions/fr-x.json', 'late'), false);
  });

  it('a missing bucket is an error that names it, not "block not found"', async () => {
    const store = S3Store.fromUrl('s3://no-such-bucket-here/blocks', s3);
    await assert.rejects(store.get('blocks/ecs-task/prod.json'), (error: unknown) => {
      assert.ok(error instanceof StoreUnavailableError);
      assert.match(error.message, /bucket 'no-such-bucket-here' does not exist/);
      return true;
    });
  });

  it('blocks round-trip and resolve by slug; YAML documents are accepted', async () => {
    const blocks = new BlockStore(S3Store.fromUrl(`s3://${BUCKET}/prefix`, s3));
    await blocks.put('ecs-task/prod', { type: 'ecs-task', image: 'flows:1', cpu: 512, memory: 1024 });
    await blocks.store.put(
      'blocks/ecs-task/dev.yaml',
      'type: ecs-task\nimage: flows:dev\nlaunch_type: EC2\n',
    );
    assert.deepEqual(await blocks.list(), ['ecs-task/dev', 'ecs-task/prod']);
    const prod = parseBlock(await blocks.get('ecs-task/prod'));
    assert.ok(prod.type === 'ecs-task');
    assert.deepEqual([prod.image, prod.cpu, prod.memory], ['flows:1', 512, 1024]);
    const dev = parseBlock(await blocks.get('ecs-task/dev'));
    assert.ok(dev.type === 'ecs-task');
    assert.equal(dev.launch_type, 'EC2');
    await assert.rejects(blocks.get('ecs-task/missing'), BlockNotFoundError);
  });
});

describe('submitter blocks --blocks s3://… (CLI against moto)', () => {
  async function submitter(args: string[]) {
    try {
      const out = await run(process.execPath, [join(ROOT, 'bin', 'submitter.js'), ...args], {
        cwd: ROOT,
        env: { ...process.env, ...moto.env() },
      });
      return { code: 0, ...out };
    } catch (error) {
      const e = error as { code: number; stdout: string; stderr: string };
      return { code: e.code, stdout: e.stdout, stderr: e.stderr };
    }
  }

  it('put, list and get (redacted) a block in a bucket', async () => {
    const dir = await tempDir();
    const file = join(dir, 'block.json');
    const secret = 'canary-s3-block-5e1d';
    await writeFile(
      file,
      JSON.stringify({
        type: 'ecs-task',
        image: 'flows:1',
        aws_credentials: { aws_access_key_id: 'AKIAEXAMPLE', aws_secret_access_key: secret },
      }),
    );
    const location = `s3://${BUCKET}/shared`;
    const put = await submitter(['blocks', 'put', file, '--name', 'prod', '--blocks', location]);
    assert.equal(put.code, 0, put.stderr);
    assert.match(
      put.stdout,
      /saved ecs-task\/prod \(s3:\/\/submitter-blocks\/shared\/blocks\/ecs-task\/prod\.json\)/,
    );
    const list = await submitter(['blocks', 'list', '--blocks', location]);
    assert.equal(list.stdout.trim(), 'ecs-task/prod');
    const get = await submitter(['blocks', 'get', 'ecs-task/prod', '--blocks', location]);
    assert.equal(get.code, 0, get.stderr);
    assert.equal(JSON.parse(get.stdout).image, 'flows:1');
    assert.doesNotMatch(get.stdout + get.stderr, new RegExp(secret));
    const stored = await S3Store.fromUrl(location, s3).get('blocks/ecs-task/prod.json');
    assert.match(stored ?? '', new RegExp(secret), 'stored as given; only shown redacted');
  });
});
