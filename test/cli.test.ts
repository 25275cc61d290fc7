// The `submitter` command as a user runs it: a separate node process, exit codes, output.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { promisify } from 'node:util';
import { main } from '../cli/main.js';
import { ROOT, SAMPLES, tempDir } from './helpers.js';

const run = promisify(execFile);
const BIN = join(ROOT, 'bin', 'submitter.js');

async function submitter(args: string[], env: NodeJS.ProcessEnv = {}) {
  try {
    const { stdout, stderr } = await run(process.execPath, [BIN, ...args], {
      cwd: ROOT,
      env: { ...process.env, ...env },
    });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

/** The same CLI code in this process (fast); `submitter()` above runs the real command. */
async function inProcess(args: string[]) {
  let stdout = '';
  let stderr = '';
  const code = await main(args, { out: (t) => (stdout += `${t}\n`), err: (t) => (stderr += `${t}\n`) });
  return { code, stdout, stderr };
}

const noStack = (text: string) => assert.doesNotMatch(text, /\n\s+at .+:\d+:\d+/, 'no stack trace');

describe('submitter CLI', () => {
  it('run: the process sample ends Completed with exit 0, showing progress and the report', async () => {
    const home = await tempDir();
    const out = await submitter([
      'run',
      join('events', 'samples', 'process-flow-run.json'),
      '--new-flow-run',
      '--home',
      home,
    ]);
    assert.equal(out.code, 0, out.stderr);
    const report = JSON.parse(out.stdout);
    assert.equal(report.state, 'Completed');
    assert.match(out.stderr, /\[\s*\d+\.\ds\] Prepare/);
    assert.match(out.stderr, /submitted: process prefect-[0-9a-f]{32}/);
    assert.match(out.stderr, /Completed \(status code 0\)/);
  });

  it('run: a block from the block store by slug, with env overrides merged and a null removing a key', async () => {
    const home = await tempDir();
    const out = await submitter([
      'run',
      join('events', 'samples', 'process-by-slug.json'),
      '--new-flow-run',
      '--home',
      home,
      '--blocks',
      SAMPLES,
    ]);
    assert.equal(out.code, 0, out.stderr);
    assert.match(JSON.parse(out.stdout).logs_tail, /parameters: \{"source":"block store"\}/);
  });

  it('run: exit 1 when the run did not complete (Failed with status code 3)', async () => {
    const home = await tempDir();
    const out = await submitter([
      'run',
      join('events', 'samples', 'process-exit-3.json'),
      '--new-flow-run',
      '--home',
      home,
    ]);
    assert.equal(out.code, 1);
    assert.equal(JSON.parse(out.stdout).status_code, 3);
  });

  it('a repeated run of the same flow run adopts the first execution instead of running again', async () => {
    const home = await tempDir();
    const id = randomUUID();
    const file = join(SAMPLES, 'process-flow-run.json');
    const first = await submitter(['run', file, '--flow-run-id', id, '--home', home]);
    const second = await submitter(['run', file, '--flow-run-id', id, '--home', home]);
    assert.equal(first.code, 0);
    assert.equal(second.code, 0);
    assert.match(second.stderr, /already exists .*adopting it instead of starting another/);
    assert.deepEqual(JSON.parse(second.stdout), JSON.parse(first.stdout));
    assert.deepEqual(await readdir(join(home, 'process')), [`prefect-${id.replace(/-/g, '')}`]);
  });

  it('validate: every sample is valid; every invalid sample exits 2 naming the fields, without a stack trace', async () => {
    for (const name of [
      'process-flow-run.json',
      'eventbridge.json',
      'pubsub-push.json',
      'cron.json',
      'deployment.yaml',
      'docker-container.json',
      'kubernetes-job.json',
      'cloud-run-job.json',
      'container-instance-job.json',
    ]) {
      const out = await inProcess(['validate', join(SAMPLES, name), '--blocks', SAMPLES]);
      assert.equal(out.code, 0, `${name}: ${out.stderr}`);
      assert.match(out.stdout, /^valid: /);
    }
    const expected: Record<string, RegExp[]> = {
      'unknown-field.json': [/infrastructure\.comand: unknown field: did you mean 'command'\?/],
      'both-infrastructures.json': [/infrastructure_block: give only one of/],
      'many-problems.json': [
        /5 problems/,
        /flow_run\.id: must be a UUID/,
        /infra_override: .*did you mean 'infra_overrides'/,
        /infrastructure\.cpu: expected number/,
        /infrastructure\.launch_type: .*FARGATE/,
      ],
      'bad-override.json': [/command: expected array.*set by infra_overrides/],
      'unknown-type.json': [/infrastructure\.type: unknown infrastructure type "lambda-function"/],
    };
    for (const [name, patterns] of Object.entries(expected)) {
      const out = await inProcess(['validate', join(SAMPLES, 'invalid', name), '--blocks', SAMPLES]);
      assert.equal(out.code, 2, name);
      for (const pattern of patterns) assert.match(out.stderr, pattern, name);
      noStack(out.stderr);
    }
  });

  it('bad input to run exits 2 with the field named; a missing block slug says where it looked', async () => {
    const home = await tempDir();
    const bad = await submitter(['run', join(SAMPLES, 'invalid', 'unknown-field.json'), '--home', home]);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /infrastructure\.comand/);
    const missing = await submitter(['run', join(SAMPLES, 'process-by-slug.json'), '--home', home]);
    assert.equal(missing.code, 2);
    assert.match(
      missing.stderr,
      /infrastructure block 'process\/hello' was not found in .*blocks\/process\/hello\.\{json,yaml,yml\}/,
    );
    const nofile = await inProcess(['preview', 'nope.json']);
    assert.equal(nofile.code, 2);
    assert.match(nofile.stderr, /nope\.json: no such file/);
    const flag = await submitter(['run', 'x.json', '--bogus']);
    assert.equal(flag.code, 2);
    for (const out of [bad, missing, nofile, flag]) noStack(out.stderr);
  });

  it('preview: prints {provider, request} for the process type, flow-run env included, secrets redacted', async () => {
    const dir = await tempDir();
    const file = join(dir, 'block.json');
    await writeFile(
      file,
      JSON.stringify({ type: 'process', env: { PREFECT_API_KEY: 'canary-pk-123', MODE: 'x' } }),
    );
    const out = await submitter([
      'preview',
      file,
      '--flow-run-id',
      '0b3b3c3e-0000-4000-8000-000000000001',
      '--flow-run-name',
      'nightly',
    ]);
    assert.equal(out.code, 0, out.stderr);
    const preview = JSON.parse(out.stdout);
    assert.equal(preview.provider, 'process');
    assert.deepEqual(preview.request.command, ['python', '-m', 'prefect.engine']);
    assert.equal(preview.request.env.PREFECT__FLOW_RUN_ID, '0b3b3c3e000040008000000000000001');
    assert.equal(preview.request.env.MODE, 'x');
    assert.equal(preview.request.labels['prefect.io/flow-run-name'], 'nightly');
    assert.equal(out.stdout.includes('canary-pk-123'), false);
  });

  it('preview works on a deployment YAML and on an event in an envelope', async () => {
    const yaml = await inProcess(['preview', join(SAMPLES, 'deployment.yaml')]);
    assert.equal(yaml.code, 0, yaml.stderr);
    assert.equal(JSON.parse(yaml.stdout).request.env.GREETING, 'hello from a deployment');
    const eb = await inProcess(['preview', join(SAMPLES, 'pubsub-push.json')]);
    assert.equal(JSON.parse(eb.stdout).request.env.PREFECT__FLOW_RUN_ID, '7a1c2d3e4b5a4c6d8e7f0a1b2c3d4e02');
  });
});

describe('submitter preview with a Prefect API configured', () => {
  it('shows what run sends: PREFECT_API_URL in the environment, the key masked, never its value', async () => {
    const home = await tempDir();
    const key = `pnu_canary_${randomUUID().replaceAll('-', '')}`;
    const out = await submitter(['preview', join('events', 'samples', 'process-flow-run.json')], {
      PREFECT_HOME: home,
      PREFECT_API_URL: 'http://127.0.0.1:4200/api',
      PREFECT_API_KEY: key,
    });
    assert.equal(out.code, 0, out.stderr);
    const { request } = JSON.parse(out.stdout);
    assert.equal(request.env.PREFECT_API_URL, 'http://127.0.0.1:4200/api');
    assert.equal(request.env.PREFECT_API_KEY, '**********');
    assert.doesNotMatch(out.stdout + out.stderr, new RegExp(key));
  });
});
