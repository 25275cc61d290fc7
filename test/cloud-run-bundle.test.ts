// The deployed cloud-run-job function's bundle, built with the CDK app's esbuild settings, run
// from a folder without node_modules (as in Lambda) against the Cloud Run fake: the bundled
// Google SDK (protos, REST fallback, google-auth-library) works there. Prints its size and
// its cold start next to bare node's (figures, not limits: the Google SDK is large).
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { stat, writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { build } from 'esbuild';
import { esbuildOptions, providerFunction } from '../infra-cdk/bundling.js';
import { ROOT, tempDir } from './helpers.js';
import { type GoogleFake, startGoogleFake } from './support/google-fake.js';

const run = promisify(execFile);
let google: GoogleFake;
let bundle: string;
let inputs: string[];

before(async () => {
  const dir = await tempDir('submitter-gcp-bundle-');
  bundle = join(dir, 'index.mjs');
  const result = await build(esbuildOptions(ROOT, providerFunction('cloud-run-job'), bundle));
  const output = result.metafile.outputs[relative(ROOT, bundle).replace(/\\/g, '/')];
  inputs = Object.keys(output?.inputs ?? {});
  google = await startGoogleFake();
});
after(async () => {
  await google?.close();
});

async function wallMs(args: string[], cwd: string): Promise<number> {
  const started = performance.now();
  await run(process.execPath, args, { cwd });
  return performance.now() - started;
}

describe('the cloud-run-job function bundle', () => {
  it('holds the Cloud Run provider and the Google SDK, and no other provider', () => {
    const providers = inputs.filter((path) => /^providers\/[^/]+\/index\.ts$/.test(path));
    assert.deepEqual(providers, ['providers/cloud-run-job/index.ts']);
    assert.ok(inputs.some((path) => path.includes('node_modules/@google-cloud/run/')));
    assert.ok(!inputs.some((path) => path.includes('node_modules/@kubernetes/')));
  });

  it('submits from a folder without node_modules: one job, one execution', async (t) => {
    const dir = await tempDir();
    const id = randomUUID();
    const event = {
      flow_run: { id, name: 'bundled', flow_name: 'etl' },
      infrastructure: {
        type: 'cloud-run-job',
        image: 'europe-docker.pkg.dev/fake-project/flows/etl:1',
        credentials: { service_account_info: google.key },
        keep_job: true,
      },
    };
    const eventFile = join(dir, 'event.json');
    await writeFile(eventFile, JSON.stringify(event));
    const { NODE_PATH: _nodePath, ...base } = process.env;
    const { stdout } = await run(
      process.execPath,
      [join(ROOT, 'test', 'support', 'google-bundle-probe.mjs'), bundle, eventFile],
      {
        cwd: dir,
        env: {
          ...base,
          CLOUD_RUN_API_ENDPOINT: google.url,
          SUBMITTER_STORE: join(dir, 'store'),
          LOG_LEVEL: 'error',
        },
      },
    );
    const out = JSON.parse(stdout) as {
      submitted?: { infra?: { identifier?: string } };
      error?: unknown;
      ms: number;
      submitMs: number;
    };
    assert.equal(out.error, undefined, stdout);
    assert.match(out.submitted?.infra?.identifier ?? '', /\/jobs\/bundled-[0-9a-f]{12}\/executions\//);
    const jobs = [...google.state.jobs.values()].filter((job) => job.labels['prefect-io-flow-run-id'] === id);
    assert.equal(jobs.length, 1);
    assert.equal(jobs[0]?.executions.length, 1);

    const { size } = await stat(bundle);
    const bare = await wallMs(['-e', ''], dir);
    const loaded = await wallMs(
      ['-e', `await import(${JSON.stringify(bundle)})`, '--input-type=module'],
      dir,
    );
    t.diagnostic(
      `bundle ${(size / 1e6).toFixed(2)} MB; import ${out.ms.toFixed(0)} ms, first submit (loads the SDK) ${out.submitMs.toFixed(0)} ms; node + import ${loaded.toFixed(0)} ms vs bare node ${bare.toFixed(0)} ms (×${(loaded / bare).toFixed(1)})`,
    );
  });
});
