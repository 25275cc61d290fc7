// Runs one flow-run command and records what happened, so that status and kill work
// from any process (the local runner, a second `submitter run`, a later invocation),
// just as they do for cloud infrastructure. Plain JavaScript: it starts with bare node.
//
// argv: RUN_DIR CWD COMMAND_JSON [OUTPUT_CAP_BYTES]    (CWD '' = a fresh temporary directory)
// The command's environment is this process's environment.
//
// Records in RUN_DIR: state.json (the command's pid = its process group, and its start
// time), tracked.json (descendants seen outside that group: `setsid` / detached ones),
// output.log (capped: past OUTPUT_CAP_BYTES its last part is kept), result.json (written
// only once the command and everything recorded of it have been killed or have ended).
import { spawn } from 'node:child_process';
import {
  closeSync,
  fstatSync,
  ftruncateSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  readSync,
  renameSync,
  rmSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const [runDir, cwdArg, commandJson, capArg] = process.argv.slice(2);
const command = JSON.parse(commandJson);
const OUTPUT_CAP = Number(capArg) > 0 ? Number(capArg) : 10 * 1024 * 1024;
/** What is kept of output.log when it passes the cap. */
const OUTPUT_KEEP = Math.floor(OUTPUT_CAP / 10);
const TICK_MS = 200;

function record(name, value) {
  const path = join(runDir, name);
  try {
    writeFileSync(`${path}.tmp`, `${JSON.stringify(value)}\n`, { mode: 0o600 });
    renameSync(`${path}.tmp`, path);
  } catch (error) {
    if (error.code !== 'ENOENT') throw error;
    // the run folder was deleted under us: make it again, so that status and stop still find the command
    mkdirSync(runDir, { recursive: true, mode: 0o700 });
    writeFileSync(`${path}.tmp`, `${JSON.stringify(value)}\n`, { mode: 0o600 });
    renameSync(`${path}.tmp`, path);
  }
}

/** /proc/PID/stat → { ppid, pgrp, session, start, zombie } (Linux), or undefined. */
function procStat(pid) {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
    return {
      state: fields[0],
      ppid: Number(fields[1]),
      pgrp: Number(fields[2]),
      session: Number(fields[3]),
      start: fields[19],
    };
  } catch {
    return undefined;
  }
}

/** Alive and the same process that was recorded (its start time matches), not a zombie. */
function sameAlive(entry) {
  const stat = procStat(entry.pid);
  if (stat) return stat.state !== 'Z' && (entry.start === undefined || stat.start === entry.start);
  if (existsProc()) return false;
  try {
    process.kill(entry.pid, 0);
    return true;
  } catch (error) {
    return error.code === 'EPERM';
  }
}

let hasProc;
function existsProc() {
  hasProc ??= procStat(process.pid) !== undefined;
  return hasProc;
}

function kill(pid, signal) {
  try {
    process.kill(pid, signal);
  } catch {}
}

const cwd = cwdArg || mkdtempSync(join(tmpdir(), 'prefect-'));
// 0600: the command's output may print its secrets
// a+: appended to by the command, read back by the cap
const output = openSync(join(runDir, 'output.log'), 'a+', 0o600);

/** Past the cap, keep the last part (from a line start) in place: the command appends to the same file. */
function capOutput() {
  try {
    cutOutput();
  } catch (error) {
    // never the reason a run goes unrecorded: the log just grows until the next try
    process.stderr.write(`output cap: ${error.message}\n`);
  }
}
function cutOutput() {
  const { size } = fstatSync(output);
  if (size <= OUTPUT_CAP) return;
  const keep = Buffer.alloc(OUTPUT_KEEP);
  const read = readSync(output, keep, 0, OUTPUT_KEEP, size - OUTPUT_KEEP);
  let tail = keep.subarray(0, read);
  const newline = tail.indexOf(10);
  if (newline >= 0 && newline < tail.length - 1) tail = tail.subarray(newline + 1);
  const note = `[output.log passed ${OUTPUT_CAP} bytes: ${size - tail.length} earlier bytes were dropped, the last part is kept]\n`;
  ftruncateSync(output, 0);
  writeSync(output, note);
  writeSync(output, tail);
}

/** pid → start time of the command's descendants that left its process group. */
const tracked = new Map();
let childEntry;

/** Every process in the command's group or session, or descended from it or from one already tracked. */
function scanDescendants() {
  if (!childEntry || !existsProc()) return;
  let entries;
  try {
    entries = readdirSync('/proc').filter((name) => /^\d+$/.test(name));
  } catch {
    return;
  }
  const stats = new Map();
  for (const name of entries) {
    const stat = procStat(name);
    if (stat && stat.state !== 'Z') stats.set(Number(name), stat);
  }
  const roots = new Set([childEntry.pid, ...tracked.keys()]);
  let changed = false;
  for (let grew = true; grew; ) {
    grew = false;
    for (const [pid, stat] of stats) {
      if (roots.has(pid)) continue;
      const inGroup = stat.pgrp === childEntry.pid;
      if (inGroup || stat.session === childEntry.pid || roots.has(stat.ppid)) {
        roots.add(pid);
        grew = true;
        // the group is killed as a whole; the rest is killed one by one
        if (!inGroup && !tracked.has(pid)) {
          tracked.set(pid, stat.start);
          changed = true;
        }
      }
    }
  }
  if (changed) record('tracked.json', { pids: [...tracked].map(([pid, start]) => ({ pid, start })) });
}

/** Kills the command's process group and every tracked descendant still alive. */
function killAll(signal) {
  if (childEntry) kill(-childEntry.pid, signal);
  for (const [pid, start] of tracked) if (sameAlive({ pid, start })) kill(pid, signal);
}

let done = false;
let ticker;
function finish(result) {
  if (done) return;
  done = true;
  clearInterval(ticker);
  // The run has ended when its command has: whatever it left running in its group, or that
  // was seen descending from it, is killed before the result says so.
  scanDescendants();
  killAll('SIGKILL');
  capOutput();
  record('result.json', { ...result, ended_at: new Date().toISOString() });
  closeSync(output);
  if (!cwdArg) rmSync(cwd, { recursive: true, force: true });
}

// detached: the command leads its own session and process group, so kill reaches everything it started
const child = spawn(command[0], command.slice(1), {
  cwd,
  env: process.env,
  stdio: ['ignore', output, output],
  detached: true,
});
child.on('spawn', () => {
  childEntry = { pid: child.pid, start: procStat(child.pid)?.start };
  const startedAt = new Date().toISOString();
  const state = () => ({
    pid: child.pid,
    ...(childEntry.start ? { start: childEntry.start } : {}),
    supervisor_pid: process.pid,
    started_at: startedAt,
  });
  record('state.json', state());
  ticker = setInterval(() => {
    // the run folder deleted under us: record the command again, so that it is still seen and stopped
    try {
      readFileSync(join(runDir, 'state.json'));
    } catch {
      record('state.json', state());
      if (tracked.size > 0)
        record('tracked.json', { pids: [...tracked].map(([pid, start]) => ({ pid, start })) });
    }
    scanDescendants();
    capOutput();
  }, TICK_MS);
});
child.on('error', (error) => {
  finish({ exit_code: null, error: error.code ?? 'ERROR', message: error.message });
});
child.on('exit', (code, signal) => {
  finish({ exit_code: code, signal });
});
for (const signal of ['SIGTERM', 'SIGINT']) {
  process.on(signal, () => {
    scanDescendants();
    killAll(signal);
  });
}
