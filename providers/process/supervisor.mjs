// Runs one flow-run command and records what happened, so that status and kill work
// from any process (the local runner, a second `submitter run`, a later invocation),
// just as they do for cloud infrastructure. Plain JavaScript: it starts with bare node.
//
// argv: RUN_DIR CWD COMMAND_JSON    (CWD '' = a fresh temporary directory)
// The command's environment is this process's environment.
import { spawn } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const [runDir, cwdArg, commandJson] = process.argv.slice(2);
const command = JSON.parse(commandJson);

function record(name, value) {
  const path = join(runDir, name);
  writeFileSync(`${path}.tmp`, `${JSON.stringify(value)}\n`, { mode: 0o600 });
  renameSync(`${path}.tmp`, path);
}

const cwd = cwdArg || mkdtempSync(join(tmpdir(), 'prefect-'));
// 0600: the command's output may print its secrets
const output = openSync(join(runDir, 'output.log'), 'a', 0o600);
let done = false;
function finish(result) {
  if (done) return;
  done = true;
  record('result.json', { ...result, ended_at: new Date().toISOString() });
  closeSync(output);
  if (!cwdArg) rmSync(cwd, { recursive: true, force: true });
}

// detached: the command leads its own process group, so kill reaches everything it started
const child = spawn(command[0], command.slice(1), {
  cwd,
  env: process.env,
  stdio: ['ignore', output, output],
  detached: true,
});
child.on('spawn', () => {
  record('state.json', { pid: child.pid, supervisor_pid: process.pid, started_at: new Date().toISOString() });
});
child.on('error', (error) => {
  finish({ exit_code: null, error: error.code ?? 'ERROR', message: error.message });
});
child.on('exit', (code, signal) => {
  finish({ exit_code: code, signal });
});
for (const signal of ['SIGTERM', 'SIGINT']) {
  process.on(signal, () => {
    try {
      process.kill(-child.pid, signal);
    } catch {}
  });
}
