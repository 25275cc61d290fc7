// The real workflow definition, run by the ASL interpreter, on the real process provider.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { unwrap } from '../events/envelopes.js';
import { accept } from '../functions/lib/intake.js';
import { cancelKey } from '../functions/lib/state.js';
import { startExecution } from '../functions/local/runner.js';
import { idempotencyKey } from '../providers/identity.js';
import { processProvider } from '../providers/process/index.js';
import { pidAlive, ROOT, sample, sleep, testDeps } from './helpers.js';

process.chdir(ROOT); // the samples' commands are relative to the repository

async function runSample(
  name: string,
  edit: (event: Record<string, unknown>) => void = () => undefined,
  extra = {},
) {
  const { deps, home, reports } = await testDeps(extra);
  const event = await sample(name);
  (event.flow_run as Record<string, unknown>).id = randomUUID();
  edit(event);
  const accepted = await accept(deps, unwrap(event));
  const outcome = await startExecution(accepted.input, { deps });
  return { outcome, reports, home, deps, flowRunId: accepted.input.flow_run_id };
}

async function childPid(home: string, flowRunId: string): Promise<number> {
  const state = JSON.parse(
    await readFile(join(home, 'process', idempotencyKey(flowRunId), 'state.json'), 'utf8'),
  );
  return state.pid as number;
}

describe('workflow on the process provider', () => {
  it('runs the sample flow run to Completed, with the flow-run id and parameters handed over', async () => {
    const { outcome, reports, flowRunId } = await runSample('process-flow-run.json');
    assert.equal(outcome.status, 'SUCCEEDED');
    assert.equal(reports.length, 1);
    const report = reports[0];
    assert.equal(report?.state, 'Completed');
    assert.equal(report?.status_code, 0);
    assert.match(report?.logs_tail ?? '', new RegExp(`hello from flow run ${flowRunId.replace(/-/g, '')}`));
    assert.match(report?.logs_tail ?? '', /parameters: \{"name":"world","count":3\}/);
    assert.deepEqual(outcome.state?.report, report);
    assert.ok(outcome.transitions >= 5 && outcome.transitions < 12, `transitions: ${outcome.transitions}`);
  });

  it('ends Failed with the status code when the command exits 3', async () => {
    const { reports } = await runSample('process-exit-3.json');
    assert.equal(reports[0]?.state, 'Failed');
    assert.equal(reports[0]?.status_code, 3);
  });

  it('ends Crashed with a reason when the program does not exist', async () => {
    const { reports } = await runSample('process-missing-binary.json');
    assert.equal(reports[0]?.state, 'Crashed');
    assert.equal(reports[0]?.status_code, null);
    assert.match(reports[0]?.reason ?? '', /could not be started.*ENOENT.*change the block's `command`/);
  });

  it('kills the process and ends Crashed when the run timeout passes', async () => {
    const { reports, home, flowRunId } = await runSample('process-long.json', (event) => {
      event.timeouts = { run_seconds: 1 };
    });
    assert.equal(reports[0]?.state, 'Crashed');
    assert.match(reports[0]?.reason ?? '', /run timeout/);
    assert.equal(pidAlive(await childPid(home, flowRunId)), false, 'the subprocess is gone');
  });

  it('ends Cancelled and kills the process when cancellation is requested during the run', async () => {
    const { deps, home, reports } = await testDeps();
    const event = await sample('process-long.json');
    (event.flow_run as Record<string, unknown>).id = randomUUID();
    const accepted = await accept(deps, unwrap(event));
    const flowRunId = accepted.input.flow_run_id;
    let sawRunning = false;
    const done = startExecution(accepted.input, {
      deps,
      onEvent: (e) => {
        if (e.type === 'StateFailed' && typeof e.Cause === 'string' && e.Cause.startsWith('running'))
          sawRunning = true;
      },
    });
    while (!sawRunning) await sleep(50);
    const pid = await childPid(home, flowRunId);
    assert.equal(pidAlive(pid), true);
    await deps.store.put(cancelKey(flowRunId), '{}');
    await done;
    assert.equal(reports[0]?.state, 'Cancelled');
    assert.equal(reports[0]?.status_code, -15, 'ended by SIGTERM');
    assert.equal(pidAlive(pid), false);
  });

  it('ends Crashed and removes the subprocess when the infrastructure never starts in time', async () => {
    // The real process provider, except that it never reports the process as started
    // (as an image pull that never ends would): the start timeout must end it and clean up.
    const stuck: typeof processProvider = {
      ...processProvider,
      status: async (target, handle) => {
        const real = await processProvider.status(target, handle);
        return real.phase === 'running' ? { phase: 'pending', reason: 'pulling image' } : real;
      },
    };
    const { reports, home, flowRunId } = await runSample(
      'process-long.json',
      (event) => {
        event.timeouts = { start_seconds: 1 };
      },
      { loadProvider: async () => stuck },
    );
    assert.equal(reports[0]?.state, 'Crashed');
    assert.match(reports[0]?.reason ?? '', /start timeout: .*within 1 s \(last seen: pulling image\)/);
    assert.equal(pidAlive(await childPid(home, flowRunId)), false);
  });
});
