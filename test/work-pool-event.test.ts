// The Prefect 3 form of the flow-run event (`work_pool` + `job_variables`) through the one path:
// the event rule, the work-pool store, rendering + the pool type's adapter, the pin taken at
// acceptance, and the `submitter` command (work-pools put|get|list, run from a prefect.yaml).
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { promisify } from 'node:util';
import { main } from '../cli/main.js';
import { InvalidInputError } from '../core/errors.js';
import { FolderStore } from '../core/store.js';
import { unwrapCron } from '../events/envelopes.js';
import { parseFlowRunEvent } from '../events/schema.js';
import { loadRun } from '../functions/lib/context.js';
import { accept } from '../functions/lib/intake.js';
import { withWorkPools } from '../prefect3/pool-target.js';
import { WorkPoolStore } from '../prefect3/work-pool.js';
import { BlockStore } from '../providers/block-store.js';
import { findProblems, resolveTarget } from '../providers/resolve.js';
import { ROOT, invalidInput as rejection, tempDir, testDeps } from './helpers.js';

const FLOW_RUN = { id: '0b3b3c3e-0000-4000-8000-0000000000a1', name: 'wp-run' };

function problemsOf(fn: () => unknown): { path: string; message: string }[] {
  try {
    fn();
  } catch (error) {
    assert.ok(error instanceof InvalidInputError, String(error));
    return error.problems;
  }
  assert.fail('expected an InvalidInputError');
}

async function store() {
  return withWorkPools(new BlockStore(new FolderStore(await tempDir())));
}

async function cli(args: string[]) {
  let stdout = '';
  let stderr = '';
  const code = await main(args, { out: (t) => (stdout += `${t}\n`), err: (t) => (stderr += `${t}\n`) });
  return { code, stdout, stderr };
}

describe('the work_pool event form', () => {
  it('takes exactly one of infrastructure, infrastructure_block and work_pool', () => {
    const both = problemsOf(() =>
      parseFlowRunEvent({ flow_run: FLOW_RUN, work_pool: { name: 'a' }, infrastructure_block: 'process/x' }),
    );
    assert.deepEqual(
      both.map((p) => p.path),
      ['work_pool'],
    );
    assert.match(both[0]?.message ?? '', /not 'infrastructure_block' and 'work_pool'/);
    const none = problemsOf(() => parseFlowRunEvent({ flow_run: FLOW_RUN }));
    assert.match(none[0]?.message ?? '', /'work_pool' \(Prefect 3\)/);
  });

  it('refuses job_variables without a work pool and infra_overrides with one, saying where they go', () => {
    const jobVars = problemsOf(() =>
      parseFlowRunEvent({ flow_run: FLOW_RUN, infrastructure_block: 'process/x', job_variables: { a: 1 } }),
    );
    assert.equal(jobVars[0]?.path, 'job_variables');
    assert.match(jobVars[0]?.message ?? '', /use 'infra_overrides'/);
    const overrides = problemsOf(() =>
      parseFlowRunEvent({ flow_run: FLOW_RUN, work_pool: { name: 'a' }, infra_overrides: { 'env.A': '1' } }),
    );
    assert.equal(overrides[0]?.path, 'infra_overrides');
    assert.match(overrides[0]?.message ?? '', /job_variables/);
  });

  it('refuses a pool with neither name nor type, a template without a type, and a name that is not a file name', () => {
    assert.equal(
      problemsOf(() => parseFlowRunEvent({ flow_run: FLOW_RUN, work_pool: {} }))[0]?.path,
      'work_pool.name',
    );
    assert.equal(
      problemsOf(() =>
        parseFlowRunEvent({
          flow_run: FLOW_RUN,
          work_pool: { base_job_template: { job_configuration: {} } },
        }),
      )[0]?.path,
      'work_pool.type',
    );
    assert.equal(
      problemsOf(() => parseFlowRunEvent({ flow_run: FLOW_RUN, work_pool: { name: '../etc/passwd' } }))[0]
        ?.path,
      'work_pool.name',
    );
  });

  it('an inline process pool renders the default template: the command split, job variables applied', async () => {
    const event = parseFlowRunEvent({
      flow_run: FLOW_RUN,
      work_pool: { type: 'process' },
      job_variables: { command: "python -c 'print(1)'", 'env.STAGE': 'prod', working_dir: '/srv' },
    });
    const target = await resolveTarget(event, await store());
    assert.equal(target.block.type, 'process');
    assert.deepEqual(target.block.command, ['python', '-c', 'print(1)']);
    assert.equal(target.block.env.STAGE, 'prod');
    assert.equal(target.source, 'work-pool(inline process)');
    assert.ok(target.block.type === 'process' && target.block.working_dir === '/srv');
  });

  it("no command: Prefect 3's worker default, not Prefect 2's", async () => {
    const target = await resolveTarget(
      parseFlowRunEvent({ flow_run: FLOW_RUN, work_pool: { type: 'process:push' } }),
      await store(),
    );
    assert.deepEqual(target.block.command, ['prefect', 'flow-run', 'execute']);
  });

  it('a job variable the template does not know is refused naming it, with the closest name', async () => {
    const error = await rejection(
      resolveTarget(
        parseFlowRunEvent({
          flow_run: FLOW_RUN,
          work_pool: { type: 'process' },
          job_variables: { comand: 'x' },
        }),
        await store(),
      ),
    );
    assert.equal(error.problems[0]?.path, 'job_variables.comand');
    assert.match(error.problems[0]?.message ?? '', /did you mean 'command'/);
  });

  it('an unknown pool type is refused with the types there are', async () => {
    const error = await rejection(
      resolveTarget(parseFlowRunEvent({ flow_run: FLOW_RUN, work_pool: { type: 'ecss' } }), await store()),
    );
    assert.equal(error.problems[0]?.path, 'work_pool.type');
    assert.match(error.problems[0]?.message ?? '', /did you mean 'ecs'/);
  });
});

describe('a schedule on a Prefect 3 deployment', () => {
  it('a cron tick carries the work pool and job variables into the event, one flow run per tick', async () => {
    const input = {
      deployment: { id: 'dep-1', name: 'nightly', flow_name: 'etl' },
      work_pool: { type: 'process' },
      job_variables: { command: 'echo tick' },
      scheduled_time: '2026-12-02T06:00:00Z',
    };
    const first = unwrapCron(input);
    assert.deepEqual(unwrapCron(input).event, first.event);
    const target = await resolveTarget(parseFlowRunEvent(first.event), await store());
    assert.deepEqual(target.block.command, ['echo', 'tick']);
    assert.equal(target.flowRun.deployment_name, 'nightly');
  });
});

describe('work pools in the store', () => {
  it('put, get and list; a pool with no template uses its type default', async () => {
    const blocks = await store();
    const pools = new WorkPoolStore(blocks.store);
    await pools.put('local', { type: 'process' });
    await pools.put('yaml-pool', { type: 'process' }, 'yaml');
    assert.deepEqual(await pools.list(), ['local', 'yaml-pool']);
    assert.equal((await pools.get('yaml-pool')).type, 'process');
    const target = await resolveTarget(
      parseFlowRunEvent({
        flow_run: FLOW_RUN,
        work_pool: { name: 'local' },
        job_variables: { 'env.A': 'b' },
      }),
      blocks,
    );
    assert.equal(target.source, 'work-pool/local');
    assert.equal(target.block.env.A, 'b');
  });

  it("a pool's own template is rendered, block placeholders from the store and variables from variables.json", async () => {
    const blocks = await store();
    await blocks.store.put('variables.json', JSON.stringify({ stage: 'staging' }));
    await blocks.put('secret/token', { type: 'secret', value: 'not-really-secret-value' });
    const template = {
      job_configuration: {
        command: '{{ command }}',
        env: { STAGE: '{{ prefect.variables.stage }}', TOKEN_REF: 'ref-{{ prefect.blocks.secret.token }}' },
      },
      variables: { type: 'object', properties: { command: { type: 'string', default: 'echo hi' } } },
    };
    await new WorkPoolStore(blocks.store).put('custom', { type: 'process', base_job_template: template });
    const target = await resolveTarget(
      parseFlowRunEvent({ flow_run: FLOW_RUN, work_pool: { name: 'custom' } }),
      blocks,
    );
    assert.deepEqual(target.block.command, ['echo', 'hi']);
    assert.equal(target.block.env.STAGE, 'staging');
    assert.equal(target.block.env.TOKEN_REF, 'ref-not-really-secret-value');
  });

  it('a missing pool says how to save one; a paused pool does not run; a wrong type is refused at put', async () => {
    const blocks = await store();
    const missing = await findProblems({ flow_run: FLOW_RUN, work_pool: { name: 'nope' } }, blocks);
    assert.equal(missing[0]?.path, 'work_pool(nope)');
    assert.match(missing[0]?.message ?? '', /submitter work-pools put FILE --name nope/);
    await blocks.store.put('work-pools/paused.json', JSON.stringify({ type: 'process', is_paused: true }));
    const paused = await findProblems({ flow_run: FLOW_RUN, work_pool: { name: 'paused' } }, blocks);
    assert.equal(paused[0]?.path, 'work-pools/paused.json.is_paused');
    await rejection(new WorkPoolStore(blocks.store).put('bad', { type: 'no-such-type' }));
    assert.deepEqual(await new WorkPoolStore(blocks.store).list(), ['paused']);
  });
});

describe('a work-pool run in the workflow', () => {
  it('every step uses the block pinned at acceptance, even when the pool is edited mid-run', async () => {
    const { deps } = await testDeps();
    const pools = new WorkPoolStore(deps.blocks.store);
    await pools.put('pinned', { type: 'process' });
    const id = randomUUID();
    const accepted = await accept(deps, {
      kind: 'flow-run-event',
      event: { flow_run: { id }, work_pool: { name: 'pinned' }, job_variables: { command: 'echo first' } },
    });
    assert.deepEqual(accepted.target.block.command, ['echo', 'first']);
    const template = {
      job_configuration: { command: 'echo edited' },
      variables: { type: 'object', properties: {} },
    };
    await pools.put('pinned', { type: 'process', base_job_template: template });
    const loaded = await loadRun(deps, accepted.input.event_ref);
    assert.deepEqual(loaded.block.command, ['echo', 'first']);
    assert.equal(loaded.source, 'work-pool/pinned');
  });

  it('a saved pool whose type this deployment has not enabled is refused at the door', async () => {
    const { deps } = await testDeps({
      env: { PROVIDER_FUNCTIONS: JSON.stringify({ 'ecs-task': 'fn-ecs' }) },
    });
    await new WorkPoolStore(deps.blocks.store).put('local', { type: 'process' });
    const error = await rejection(
      accept(deps, {
        kind: 'flow-run-event',
        event: { flow_run: { id: randomUUID() }, work_pool: { name: 'local' } },
      }),
    );
    assert.equal(error.problems[0]?.path, 'work_pool.type');
    assert.match(error.problems[0]?.message ?? '', /'process' is not enabled/);
  });
});

describe('submitter work-pools and a prefect.yaml run', () => {
  it('put a bare base job template with --type, get shows it, list names it; without --type it says what to add', async () => {
    const dir = await tempDir();
    const file = join(dir, 'template.json');
    await writeFile(file, await readFile(join(ROOT, 'prefect3', 'templates', 'process.json'), 'utf8'));
    const blocks = join(dir, 'blocks');
    const noType = await cli(['work-pools', 'put', file, '--name', 'p', '--blocks', blocks]);
    assert.equal(noType.code, 2);
    assert.match(noType.stderr, /--type/);
    const put = await cli([
      'work-pools',
      'put',
      file,
      '--name',
      'p',
      '--type',
      'process',
      '--blocks',
      blocks,
    ]);
    assert.equal(put.code, 0, put.stderr);
    const got = await cli(['work-pools', 'get', 'p', '--blocks', blocks]);
    assert.equal(got.code, 0, got.stderr);
    const pool = JSON.parse(got.stdout);
    assert.equal(pool.type, 'process');
    assert.equal(pool.base_job_template.job_configuration.command, '{{ command }}');
    assert.equal((await cli(['work-pools', 'list', '--blocks', blocks])).stdout, 'p\n');
    const missing = await cli(['work-pools', 'get', 'q', '--blocks', blocks]);
    assert.equal(missing.code, 2);
  });

  it('run: a prefect.yaml deployment on a process pool runs end to end as a real process, exit 0', async () => {
    const dir = await tempDir();
    const blocks = join(dir, 'blocks');
    await writeFile(join(dir, 'pool.json'), JSON.stringify({ type: 'process' }));
    assert.equal(
      (
        await cli([
          'work-pools',
          'put',
          join(dir, 'pool.json'),
          '--name',
          'local-process',
          '--blocks',
          blocks,
        ])
      ).code,
      0,
    );
    const { stdout, stderr } = await promisify(execFile)(
      process.execPath,
      [
        join(ROOT, 'bin', 'submitter.js'),
        'run',
        join(ROOT, 'test', 'fixtures', 'prefect-yaml', 'process-local.yaml'),
        '--deployment',
        'goodbye',
        '--blocks',
        blocks,
        '--home',
        join(dir, 'home'),
        '--job-variable',
        'command=sh -c "echo ran $PREFECT__FLOW_RUN_ID in $(pwd)"',
        '--job-variable',
        `working_dir=${dir}`,
      ],
      { cwd: ROOT },
    );
    const report = JSON.parse(stdout);
    assert.equal(report.state, 'Completed', stderr);
    assert.equal(report.flow_run_name, 'goodbye-run');
    assert.equal(report.logs_tail, `ran ${report.flow_run_id.replaceAll('-', '')} in ${dir}`);
    assert.match(stderr, /\(work-pool\/local-process\)/);
  });
});
