// Report: the Prefect API hears about crashes (over real HTTP, the fake Prefect server), and no secret reaches the
// workflow state, the report, the logs or the progress output.
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
import { causeMessage } from '../functions/report.js';
import { ROOT, sample, tempDir, testDeps } from './helpers.js';
import { startPrefectFake } from './support/prefect-fake.js';

process.chdir(ROOT);

describe('report', () => {
  async function runWith(
    name: string,
    env: NodeJS.ProcessEnv,
    edit: (e: Record<string, unknown>) => void = () => undefined,
  ) {
    const { deps, reports, home } = await testDeps({ env });
    const event = await sample(name);
    (event.flow_run as Record<string, unknown>).id = randomUUID();
    edit(event);
    const accepted = await accept(deps, unwrap(event));
    const outcome = await startExecution(accepted.input, { deps });
    return { outcome, reports, home, id: accepted.input.flow_run_id };
  }

  // against the fake Prefect server (test/support/prefect-fake.ts): the flow run exists there
  async function runOnFake(name: string, key?: string) {
    const fake = await startPrefectFake(key ? { authorization: `Bearer ${key}` } : {});
    try {
      const flowRun = fake.addFlowRun();
      const env = { PREFECT_API_URL: fake.apiUrl, ...(key ? { PREFECT_API_KEY: key } : {}) };
      const out = await runWith(name, env, (e) => {
        (e.flow_run as Record<string, unknown>).id = flowRun.id;
      });
      const proposals = fake.http
        .callsOf('POST /api/flow_runs/:id/set_state')
        .map((c) => (c.body as { state: { type: string; message: string } }).state);
      return { ...out, proposals, flowRun: fake.flowRun(flowRun.id) };
    } finally {
      await fake.close();
    }
  }

  it('proposes Crashed to the Prefect API when the infrastructure failed, with the API key', async () => {
    const { reports, proposals, flowRun } = await runOnFake('process-missing-binary.json', 'pnu_test_key');
    assert.equal(reports[0]?.state, 'Crashed');
    assert.deepEqual(
      proposals.map((p) => p.type),
      ['PENDING', 'CRASHED'],
    );
    assert.match(proposals[1]?.message ?? '', /could not be started/);
    assert.equal(flowRun?.state?.type, 'CRASHED', 'accepted with the Bearer key');
  });

  it('leaves Completed and Failed to the engine: only Pending is proposed', async () => {
    for (const name of ['process-flow-run.json', 'process-exit-3.json']) {
      const { proposals } = await runOnFake(name);
      assert.deepEqual(
        proposals.map((p) => p.type),
        ['PENDING'],
        name,
      );
    }
  });

  it('reads the message out of a Lambda error Cause', () => {
    const cause = JSON.stringify({
      errorType: 'ProviderPermanentError',
      errorMessage: 'cluster not found',
      trace: [],
    });
    assert.equal(
      causeMessage({ Error: 'ProviderPermanentError', Cause: cause }),
      'ProviderPermanentError: cluster not found',
    );
    assert.equal(causeMessage({ Error: 'States.Timeout' }), 'States.Timeout');
  });

  it('keeps a canary secret out of workflow state, report, execution record and CLI output', async () => {
    const canary = `canary-${randomUUID()}`;
    const leak = (e: Record<string, unknown>) => {
      // the flow prints its environment's secret: even then it must not come back out
      e.infrastructure = {
        type: 'process',
        command: [
          'node',
          '-e',
          'console.log("key is", process.env.PREFECT_API_KEY, process.env.DB_PASSWORD)',
        ],
        env: { PREFECT_API_KEY: canary, DB_PASSWORD: `${canary}-db` },
      };
    };
    const { outcome, reports, home, id } = await runWith('process-flow-run.json', {}, leak);
    assert.equal(reports[0]?.state, 'Completed');
    assert.match(reports[0]?.logs_tail ?? '', /key is \*+ \*+/);
    for (const text of [JSON.stringify(outcome.state), JSON.stringify(reports)])
      assert.equal(text.includes(canary), false);
    const record = await readFile(join(home, 'store', 'executions', `fr-${id}.json`), 'utf8');
    assert.equal(record.includes(canary), false, 'execution record');

    const dir = await tempDir();
    const file = join(dir, 'event.json');
    const event = await sample('process-flow-run.json');
    leak(event);
    await writeFile(file, JSON.stringify(event));
    const cli = await promisify(execFile)(
      process.execPath,
      [join(ROOT, 'bin', 'submitter.js'), 'run', file, '--new-flow-run', '--home', dir, '--verbose'],
      { cwd: ROOT },
    );
    assert.equal(`${cli.stdout}${cli.stderr}`.includes(canary), false, 'CLI output, verbose logs included');
    const preview = await promisify(execFile)(
      process.execPath,
      [join(ROOT, 'bin', 'submitter.js'), 'preview', file],
      { cwd: ROOT },
    );
    assert.equal(preview.stdout.includes(canary), false, 'preview');
  });
});
