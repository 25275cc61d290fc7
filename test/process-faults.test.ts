// Faults of the process provider against real processes: the supervisor killed, the run
// folder deleted, background children left in the group, grandchildren escaping with
// setsid, output past its cap. (`submitter run` itself killed: process-reattach.test.ts.)
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { readFile, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { FolderStore } from '../core/store.js';
import { parseBlock } from '../providers/blocks.js';
import type { InfraStatus, Target } from '../providers/port.js';
import type { ProcessBlock } from '../providers/process/block.js';
import { createProcessProvider, type ProcessHandle } from '../providers/process/index.js';
import { processAlive } from '../providers/process/proc.js';
import { jsonIfThere, ROOT, tempDir, until } from './helpers.js';

process.chdir(ROOT);

async function setup(command: string[], outputCapBytes?: number) {
  const home = await tempDir();
  const runsDir = join(home, 'process');
  const provider = createProcessProvider({
    runsDir: () => runsDir,
    ...(outputCapBytes ? { outputCapBytes } : {}),
  });
  const target: Target<ProcessBlock> = {
    block: parseBlock({ type: 'process', command }) as ProcessBlock,
    flowRun: { id: randomUUID(), name: 'faults' } as Target['flowRun'],
  };
  const store = new FolderStore(join(home, 'store'));
  const submission = await provider.submit(target, { store });
  const handle: ProcessHandle = submission.handle;
  const dir = join(runsDir, handle.run);
  return { home, provider, target, handle, dir };
}

const json = jsonIfThere;
const pidIn = (path: string) =>
  readFile(path, 'utf8').then(
    (text) => (text.trim() ? Number(text.trim()) : undefined),
    () => undefined,
  );

type Setup = Awaited<ReturnType<typeof setup>>;
const statusOf = (s: Setup) => s.provider.status(s.target, s.handle);
async function finalStatus(s: Setup): Promise<InfraStatus> {
  return until('a final status', async () => {
    const status = await statusOf(s);
    return ['succeeded', 'failed', 'missing'].includes(status.phase) ? status : undefined;
  });
}

describe('process provider faults', () => {
  it('supervisor killed -9: still running while the command lives; cleanup kills the group', async () => {
    const s = await setup(['sleep', '30']);
    const state = await until('state.json', () =>
      json<{ pid: number; supervisor_pid: number }>(join(s.dir, 'state.json')),
    );
    process.kill(state.supervisor_pid, 'SIGKILL');
    await until('the supervisor gone', async () => (processAlive(state.supervisor_pid) ? undefined : true));
    const status = await statusOf(s);
    assert.equal(status.phase, 'running', status.reason);
    assert.match(status.reason ?? '', /supervisor .* is gone/);
    assert.ok(processAlive(state.pid));
    await s.provider.cleanup(s.target, s.handle);
    await until('the command killed', async () => (processAlive(state.pid) ? undefined : true));
    const after = await statusOf(s);
    assert.equal(after.phase, 'missing');
    assert.match(after.reason ?? '', /exit status is unknown/);
  });

  it('run folder deleted mid-run: never reported ended; the supervisor records it again and stop works', async () => {
    const s = await setup(['sleep', '30']);
    const state = await until('state.json', () => json<{ pid: number }>(join(s.dir, 'state.json')));
    await rm(s.dir, { recursive: true, force: true });
    assert.equal((await statusOf(s)).phase, 'running', 'right after the deletion');
    await until('state.json again', () => json(join(s.dir, 'state.json')));
    assert.equal((await statusOf(s)).phase, 'running');
    await s.provider.stop(s.target, s.handle, { reason: 'test', graceSeconds: 0, force: false });
    const final = await finalStatus(s);
    assert.equal(final.phase, 'failed');
    assert.equal(final.exit_code, -15);
    assert.equal(processAlive(state.pid), false);
  });

  it('a command that exits 0 leaving a background child in its group: the child is killed at the end', async () => {
    const pidFile = join(await tempDir(), 'bg.pid');
    const s = await setup(['sh', '-c', `sleep 30 & echo $! > ${pidFile}; exit 0`]);
    const final = await finalStatus(s);
    assert.equal(final.phase, 'succeeded');
    const bg = await until('the background pid', () => pidIn(pidFile));
    assert.equal(processAlive(bg), false, 'the background child was killed');
  });

  it('a grandchild escaping with setsid is tracked and killed on stop, and when the command ends', async () => {
    for (const ending of ['stop', 'exit'] as const) {
      const pidFile = join(await tempDir(), 'escaped.pid');
      const rest = ending === 'stop' ? 'sleep 30' : 'sleep 1';
      const s = await setup(['sh', '-c', `setsid sleep 30 & echo $! > ${pidFile}; ${rest}`]);
      const escaped = await until('the escaped pid', () => pidIn(pidFile));
      await until('it is tracked', async () => {
        const tracked = await json<{ pids: { pid: number }[] }>(join(s.dir, 'tracked.json'));
        return tracked?.pids.some((p) => p.pid === escaped) ? true : undefined;
      });
      if (ending === 'stop')
        await s.provider.stop(s.target, s.handle, { reason: 'test', graceSeconds: 0, force: false });
      const final = await finalStatus(s);
      assert.equal(final.phase, ending === 'stop' ? 'failed' : 'succeeded', `${ending}: ${final.reason}`);
      await until(`${ending}: the escaped grandchild killed`, async () =>
        processAlive(escaped) ? undefined : true,
      );
    }
  });

  it('output.log is capped: past the cap its last part is kept, with a note', async () => {
    const cap = 200_000;
    const script = [
      "const x = 'x'.repeat(40);",
      "for (let i = 0; i < 50000; i++) process.stdout.write('line ' + i + ' ' + x + '\\n');",
      "console.log('the end');",
    ].join(' ');
    const s = await setup(['node', '-e', script], cap);
    assert.equal((await finalStatus(s)).phase, 'succeeded');
    const output = join(s.dir, 'output.log');
    const { size } = await stat(output);
    assert.ok(size <= cap, `output.log is ${size} bytes`);
    const text = await readFile(output, 'utf8');
    assert.match(text, /output\.log passed 200000 bytes: \d+ earlier bytes were dropped/);
    assert.match(text, /line 49999 x+\nthe end\n$/);
    assert.doesNotMatch(text, /^line 0 /m);
  });
});
