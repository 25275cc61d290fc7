// What the process provider knows of live processes: on Linux from /proc (a zombie is
// not alive; a recorded start time tells a reused pid from the recorded process), else
// from kill(pid, 0). The supervisor (plain JavaScript) reads /proc the same way.
import { readdirSync, readFileSync } from 'node:fs';

/** A recorded process: its pid and, on Linux, its start time (field 22 of /proc/PID/stat). */
export interface ProcessEntry {
  pid: number;
  start?: string;
}

interface ProcStat {
  state: string;
  pgrp: number;
  start: string;
}

function procStat(pid: number | string): ProcStat | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  const [state, , pgrp] = fields;
  const start = fields[19];
  if (state === undefined || pgrp === undefined || start === undefined) return undefined;
  return { state, pgrp: Number(pgrp), start };
}

let procAvailable: boolean | undefined;
function hasProc(): boolean {
  procAvailable ??= procStat(process.pid) !== undefined;
  return procAvailable;
}

function killZero(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** True while this process lives (not a zombie) and, when its start time was recorded, is that process. */
export function processAlive(entry: ProcessEntry | number | undefined): boolean {
  const { pid, start } = typeof entry === 'number' ? { pid: entry, start: undefined } : (entry ?? { pid: 0 });
  if (!Number.isInteger(pid) || pid <= 0) return false;
  if (!hasProc()) return killZero(pid);
  const stat = procStat(pid);
  return stat !== undefined && stat.state !== 'Z' && (start === undefined || stat.start === start);
}

/**
 * True while any live process is in the process group the recorded leader made. A pid
 * is not handed out again while a group of that number has members, so a leader pid
 * now used by another process means the recorded group is empty.
 */
export function groupAlive(leader: ProcessEntry): boolean {
  if (!hasProc()) return killZero(-leader.pid);
  const stat = procStat(leader.pid);
  if (stat && leader.start !== undefined && stat.start !== leader.start) return false;
  if (stat && stat.state !== 'Z') return true;
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const member = procStat(name);
    if (member && member.pgrp === leader.pid && member.state !== 'Z') return true;
  }
  return false;
}

function send(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code !== 'ESRCH' && code !== 'EPERM') throw error;
  }
}

/** Signals the recorded group (when it is still that group) and each recorded process still alive. */
export function signalRecorded(
  leader: ProcessEntry,
  others: readonly ProcessEntry[],
  signal: NodeJS.Signals,
): void {
  if (groupAlive(leader)) send(-leader.pid, signal);
  for (const entry of others) if (processAlive(entry)) send(entry.pid, signal);
}

export function anyAlive(leader: ProcessEntry, others: readonly ProcessEntry[]): boolean {
  return groupAlive(leader) || others.some((entry) => processAlive(entry));
}
