// The same event delivered 20 times produces exactly one subprocess: within one process
// (concurrent deliveries) and across separate `submitter run` processes.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { promisify } from 'node:util';
import { unwrap } from '../events/envelopes.js';
import { accept } from '../functions/lib/intake.js';
import { startExecution } from '../functions/local/runner.js';
import { ROOT, sample, tempDir, testDeps } from './helpers.js';

process.chdir(ROOT);
const run = promisify(execFile);

async function eventWithMarker(marker: string) {
  const event = await sample('process-flow-run.json');
  (event.flow_run as Record<string, unknown>).id = randomUUID();
  const infrastructure = event.infrastructure as Record<string, unknown>;
  infrastructure.env = { MARKER_FILE: marker, SLEEP_SECONDS: '1' };
  return event;
}

async function starts(marker: string): Promise<string[]> {
  const text = await readFile(marker, 'utf8').catch(() => '');
  return text.split('\n').filter(Boolean);
}

describe('duplicate deliveries', () => {
  it('20 concurrent deliveries in one process: one execution, one subprocess, one report for all', async () => {
    const { deps, home } = await testDeps();
    const marker = join(home, 'starts.txt');
    const event = await eventWithMarker(marker);
    const outcomes = await Promise.all(
      Array.from({ length: 20 }, async () => {
        const accepted = await accept(deps, unwrap(structuredClone(event)));
        return startExecution(accepted.input, { deps });
      }),
    );
    assert.equal(outcomes.filter((o) => o.started).length, 1, 'exactly one execution started');
    assert.equal((await starts(marker)).length, 1, 'exactly one subprocess ran');
    const reports = outcomes.map((o) => JSON.stringify(o.state?.report));
    assert.equal(new Set(reports).size, 1, 'every delivery sees the same report');
    assert.equal(JSON.parse(reports[0] ?? '{}').state, 'Completed');
  });

  it('20 separate `submitter run` processes: one subprocess', async () => {
    const home = await tempDir();
    const marker = join(home, 'starts.txt');
    const file = join(home, 'event.json');
    await writeFile(file, JSON.stringify(await eventWithMarker(marker)));
    const results = await Promise.all(
      Array.from({ length: 20 }, () =>
        run(process.execPath, [join(ROOT, 'bin', 'submitter.js'), 'run', file, '--home', home, '--quiet'], {
          cwd: ROOT,
        }).then(({ stdout }) => JSON.parse(stdout) as { state: string; identifier: string }),
      ),
    );
    assert.equal((await starts(marker)).length, 1, 'exactly one subprocess ran');
    assert.deepEqual(new Set(results.map((r) => r.state)), new Set(['Completed']));
    assert.equal(new Set(results.map((r) => r.identifier)).size, 1);
  });
});
