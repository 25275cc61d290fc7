// `submitter run` killed mid-run (kill -9), then run again: the second run resumes the
// orphaned local execution — Submit adopts the running process, Watch follows it to its
// end — instead of leaving the flow run unwatched.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { main } from '../cli/main.js';
import { idempotencyKey } from '../providers/identity.js';
import { processAlive } from '../providers/process/proc.js';
import { jsonIfThere, ROOT, sample, tempDir, until } from './helpers.js';

process.chdir(ROOT);

const json = jsonIfThere;

describe('submitter run reattaches', () => {
  it('`submitter run` killed mid-run, then run again: the second resumes the execution to its end', async () => {
    const home = await tempDir();
    const event = await sample('process-long.json');
    const infrastructure = event.infrastructure as Record<string, unknown>;
    const marker = join(home, 'marker.txt');
    infrastructure.env = { SLEEP_SECONDS: '4', MARKER_FILE: marker };
    const file = join(home, 'event.json');
    await writeFile(file, JSON.stringify(event));
    const id = randomUUID();
    const args = ['run', file, '--flow-run-id', id, '--home', home, '--quiet'];
    const first = spawn(process.execPath, [join(ROOT, 'bin', 'submitter.js'), ...args], {
      stdio: 'ignore',
      env: { ...process.env, LOG_LEVEL: 'error' },
    });
    const stateFile = join(home, 'process', idempotencyKey(id), 'state.json');
    const state = await until('the flow run started', () => json<{ pid: number }>(stateFile), 30_000);
    first.kill('SIGKILL');
    await new Promise((done) => first.once('exit', done));
    assert.ok(processAlive(state.pid), 'the flow run outlives its submitter');

    const out: string[] = [];
    const err: string[] = [];
    const code = await main(['run', file, '--flow-run-id', id, '--home', home], {
      out: (text) => out.push(text),
      err: (text) => err.push(text),
    });
    assert.match(err.join('\n'), /is gone; resuming the execution/);
    assert.equal(code, 0, err.join('\n'));
    const report = JSON.parse(out.join('\n')) as { state: string; status_code: number };
    assert.deepEqual([report.state, report.status_code], ['Completed', 0]);
    const lines = (await readFile(marker, 'utf8')).trim().split('\n');
    assert.equal(lines.length, 1, 'the resumed execution adopted the running process');
  });
});
