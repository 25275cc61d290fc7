// The moto test helper itself: starts on a free port, resets, stops by PID.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CreateBucketCommand, ListBucketsCommand, S3Client } from '@aws-sdk/client-s3';
import { pidAlive } from './helpers.js';
import { startMoto } from './support/moto.js';

describe('test/support/moto', () => {
  it('starts moto on 127.0.0.1, forgets everything on reset and stops by PID', async () => {
    const moto = await startMoto();
    try {
      assert.match(moto.endpoint, /^http:\/\/127\.0\.0\.1:\d+$/);
      assert.equal(pidAlive(moto.pid), true);
      const s3 = new S3Client(moto.s3Config());
      await s3.send(new CreateBucketCommand({ Bucket: 'kept-until-reset' }));
      assert.deepEqual(
        ((await s3.send(new ListBucketsCommand({}))).Buckets ?? []).map((b) => b.Name),
        ['kept-until-reset'],
      );
      await moto.reset();
      assert.deepEqual((await s3.send(new ListBucketsCommand({}))).Buckets ?? [], []);
      s3.destroy();
    } finally {
      await moto.stop();
    }
    assert.equal(pidAlive(moto.pid), false);
  });
});
