// `submitter validate FILE --remote` for cloud-run-job: jobs.create with validateOnly through the
// real client against the Cloud Run fake; Google's verdict printed, nothing created.
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { main } from '../cli/main.js';
import { tempDir } from './helpers.js';
import { type GoogleFake, startGoogleFake } from './support/google-fake.js';

let google: GoogleFake;
before(async () => {
  google = await startGoogleFake();
  process.env.CLOUD_RUN_API_ENDPOINT = google.url;
});
after(async () => {
  delete process.env.CLOUD_RUN_API_ENDPOINT;
  await google?.close();
});

async function validate(block: Record<string, unknown>, extra: string[] = ['--remote']) {
  const file = join(await tempDir(), 'block.json');
  await writeFile(
    file,
    JSON.stringify({
      type: 'cloud-run-job',
      image: 'europe-docker.pkg.dev/fake-project/flows/etl:1',
      credentials: { service_account_info: google.key },
      ...block,
    }),
  );
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(['validate', file, ...extra], {
    out: (text) => out.push(text),
    err: (text) => err.push(text),
  });
  return { code, out: out.join('\n'), err: err.join('\n') };
}

describe('validate --remote (cloud-run-job)', () => {
  it('Google accepts it: exit 0, nothing created', async () => {
    const result = await validate({});
    assert.equal(result.code, 0, result.err);
    assert.match(result.out, /^valid: /m);
    assert.match(
      result.out,
      /remote: Google accepts the job projects\/fake-project\/locations\/us-central1\/jobs\//,
    );
    assert.equal(google.state.jobs.size, 0);
    const sent = google.fake.calls.filter((c) => c.route.startsWith('POST /v2/'));
    assert.equal(sent.length, 1);
  });

  it('Google refuses (a missing image; no permission): exit 1 with Google’s words, nothing created', async () => {
    const missing = await validate({ image: 'europe-docker.pkg.dev/fake-project/flows/missing:1' });
    assert.equal(missing.code, 1);
    assert.match(missing.err, /remote: Google refuses the job: .*INVALID_ARGUMENT: Image not found/);
    const denied = await validate({ project: 'forbidden-project' });
    assert.equal(denied.code, 1);
    assert.match(denied.err, /PERMISSION_DENIED: Permission 'run\.jobs\.create' denied/);
    assert.equal(google.state.jobs.size, 0);
    assert.ok(!(missing.err + denied.err).includes(google.key.private_key?.split('\n')[1] ?? '-'));
  });

  it('without --remote nothing is asked; another type is refused with a usage error', async () => {
    const calls = google.fake.calls.length;
    const local = await validate({}, []);
    assert.equal(local.code, 0);
    assert.equal(google.fake.calls.length, calls);
    const file = join(await tempDir(), 'docker.json');
    await writeFile(file, JSON.stringify({ type: 'docker-container' }));
    const err: string[] = [];
    const code = await main(['validate', file, '--remote'], { out: () => {}, err: (t) => err.push(t) });
    assert.equal(code, 2);
    assert.match(err.join('\n'), /--remote checks cloud-run-job blocks/);
  });
});
