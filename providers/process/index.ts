// The `process` provider: the flow run as a local subprocess, run by a small detached
// supervisor that records its pid, output and exit in a run folder named by the
// idempotency key, as a driver of the shared runtime. create makes the folder, start
// spawns the supervisor (a folder without one is resumed), stop signals the process group
// and every descendant the supervisor saw leave it. A run is never reported ended while
// its recorded group lives (the supervisor killed, the folder deleted), and cleanup kills
// what was recorded whatever status says.
import { spawn } from 'node:child_process';
import { mkdir, open, readFile, stat, writeFile } from 'node:fs/promises';
import { constants } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as z from 'zod';
import { ProviderPermanentError } from '../../core/errors.js';
import type { InfraStatus, Provider, Target } from '../port.js';
import { type Driver, defineProvider, type RuntimeOptions } from '../runtime/provider.js';
import type { ProcessBlock } from './block.js';
import type { ProcessRequest } from './build.js';
import { anyAlive, type ProcessEntry, processAlive, signalRecorded } from './proc.js';
import { processSpec } from './spec.js';

const SUPERVISOR = fileURLToPath(new URL('./supervisor.mjs', import.meta.url));
const TAIL_BYTES = 8192;
/** How long stop waits (× 50 ms) for a starting supervisor to record the command's pid. */
const STATE_WAIT_STEPS = 60;

interface RunState {
  pid: number;
  /** The command's start time (/proc), telling it from a later process with its pid. */
  start?: string;
  supervisor_pid: number;
  started_at: string;
}
interface RunResult {
  exit_code: number | null;
  signal?: NodeJS.Signals | null;
  error?: string;
  message?: string;
  ended_at: string;
}
interface RunMeta {
  flow_run_id: string;
  supervisor_pid?: number;
  submitted_at: string;
}

export interface ProcessProviderOptions {
  /** Folder for run records; default `$SUBMITTER_HOME/process` (SUBMITTER_HOME defaults to `.submitter`). */
  runsDir?: () => string;
  runtime?: RuntimeOptions;
  /** output.log past this many bytes keeps its last tenth (default 10 MB, or $SUBMITTER_OUTPUT_CAP_BYTES). */
  outputCapBytes?: number;
}

export const DEFAULT_OUTPUT_CAP_BYTES = 10 * 1024 * 1024;

function defaultRunsDir(): string {
  return resolve(process.env.SUBMITTER_HOME ?? '.submitter', 'process');
}

async function readJson<T>(path: string): Promise<T | undefined> {
  try {
    return JSON.parse(await readFile(path, 'utf8')) as T;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || error instanceof SyntaxError) return undefined;
    throw error;
  }
}

async function tail(path: string): Promise<string | undefined> {
  let handle: Awaited<ReturnType<typeof open>> | undefined;
  try {
    handle = await open(path, 'r');
    const { size } = await handle.stat();
    const length = Math.min(size, TAIL_BYTES);
    const buffer = Buffer.alloc(length);
    await handle.read(buffer, 0, length, size - length);
    return buffer.toString('utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  } finally {
    await handle?.close();
  }
}

function signalNumber(signal: NodeJS.Signals): number {
  return constants.signals[signal] ?? 1;
}

/** What Submit saves for a process run: the run folder's key (the idempotency key). */
export const ProcessHandleSchema = z.object({
  run: z.string().regex(/^[A-Za-z0-9_-]+$/, 'expected a process run key'),
  /** The supervisor, so that a run whose folder was deleted is still seen while it lives. */
  supervisor_pid: z.number().int().positive().optional(),
});
export type ProcessHandle = z.infer<typeof ProcessHandleSchema>;

export function createProcessProvider(
  options: ProcessProviderOptions = {},
): Provider<ProcessBlock, ProcessRequest, ProcessHandle> {
  const runsDir = options.runsDir ?? defaultRunsDir;
  const runDir = (handle: ProcessHandle) => join(runsDir(), ProcessHandleSchema.parse(handle).run);
  const fromEnv = Number(process.env.SUBMITTER_OUTPUT_CAP_BYTES);
  const outputCap = options.outputCapBytes ?? (fromEnv > 0 ? fromEnv : DEFAULT_OUTPUT_CAP_BYTES);

  /** The command's group leader and the descendants the supervisor saw leave its group. */
  async function recorded(dir: string): Promise<{ state?: RunState; tracked: ProcessEntry[] }> {
    const state = await readJson<RunState>(join(dir, 'state.json'));
    const tracked = (await readJson<{ pids: ProcessEntry[] }>(join(dir, 'tracked.json')))?.pids ?? [];
    return state ? { state, tracked } : { tracked };
  }
  const leader = (state: RunState): ProcessEntry =>
    state.start === undefined ? { pid: state.pid } : { pid: state.pid, start: state.start };

  async function status(handle: ProcessHandle): Promise<InfraStatus> {
    const dir = runDir(handle);
    const meta = await readJson<RunMeta>(join(dir, 'meta.json'));
    const { state, tracked } = await recorded(dir);
    const links = { output: join(dir, 'output.log') };
    // Liveness first, result second: a supervisor found gone has already written its result,
    // so a run that ends between the two reads is seen as ended, never as missing.
    const supervisorPid = state?.supervisor_pid ?? meta?.supervisor_pid ?? handle.supervisor_pid;
    const supervisorAlive = processAlive(supervisorPid);
    const commandAlive = state !== undefined && anyAlive(leader(state), tracked);
    const result = await readJson<RunResult>(join(dir, 'result.json'));
    if (result && commandAlive) {
      // the supervisor kills what the command left before it records the result: not over yet
      return {
        phase: 'running',
        reason: `the command exited; what it left running (process group ${state?.pid}) is being ended`,
        links,
      };
    }
    if (result) {
      if (result.error) {
        const hint =
          result.error === 'ENOENT'
            ? ": the program was not found; install it or change the block's `command`"
            : '';
        return {
          links,
          phase: 'failed',
          exit_code: null,
          reason: `the command could not be started (${result.message})${hint}`,
        };
      }
      if (result.signal) {
        return {
          links,
          phase: 'failed',
          exit_code: -signalNumber(result.signal),
          reason: `the process was ended by ${result.signal}`,
        };
      }
      if (result.exit_code === 0) return { links, phase: 'succeeded', exit_code: 0 };
      return {
        links,
        phase: 'failed',
        exit_code: result.exit_code,
        reason: `the process exited with status code ${result.exit_code}`,
      };
    }
    if (state) {
      const running = { ...links, pid: String(state.pid) };
      if (supervisorAlive) return { phase: 'running', reason: `pid ${state.pid}`, links: running };
      if (commandAlive) {
        return {
          phase: 'running',
          reason: `pid ${state.pid}: its supervisor (pid ${state.supervisor_pid}) is gone, so its exit status will not be known; the run is watched until its processes end`,
          links: running,
        };
      }
      return {
        phase: 'missing',
        reason: `the process (pid ${state.pid}) and its supervisor (pid ${state.supervisor_pid}) ended without recording a result (was the supervisor killed, or the machine restarted?); the exit status is unknown`,
        links,
      };
    }
    if (!meta) {
      const exists = await stat(dir).then(
        () => true,
        () => false,
      );
      if (exists) return { phase: 'pending', reason: 'starting the process' };
      if (supervisorAlive) {
        // deleted under a live supervisor: it records the run again within a moment
        return {
          phase: 'running',
          reason: `the run folder ${dir} was deleted; its supervisor (pid ${supervisorPid}) lives`,
        };
      }
      return { phase: 'missing', reason: `no process run '${handle.run}' in ${runsDir()}` };
    }
    if (meta.supervisor_pid !== undefined && !supervisorAlive) {
      return { phase: 'missing', reason: 'the process supervisor exited before starting the command' };
    }
    return { phase: 'pending', reason: 'starting the process' };
  }

  /** Spawns the detached supervisor for a created run folder. */
  async function start(target: Target<ProcessBlock>, request: ProcessRequest, handle: ProcessHandle) {
    const dir = runDir(handle);
    const meta: RunMeta = { flow_run_id: target.flowRun.id, submitted_at: new Date().toISOString() };
    const env: NodeJS.ProcessEnv = { ...process.env };
    for (const name of request.unset_env) delete env[name];
    Object.assign(env, request.env);
    const log = await open(join(dir, 'supervisor.log'), 'a', 0o600);
    let supervisorPid: number | undefined;
    try {
      const supervisor = spawn(
        process.execPath,
        [SUPERVISOR, dir, request.working_dir ?? '', JSON.stringify(request.command), String(outputCap)],
        { env, detached: true, stdio: ['ignore', 'ignore', log.fd] },
      );
      supervisor.unref();
      supervisorPid = supervisor.pid;
      await writeFile(join(dir, 'meta.json'), JSON.stringify({ ...meta, supervisor_pid: supervisor.pid }), {
        mode: 0o600,
      });
    } finally {
      await log.close();
    }
    return supervisorPid === undefined ? handle : { ...handle, supervisor_pid: supervisorPid };
  }

  /**
   * Signals what was recorded of the run: its process group and tracked descendants, or,
   * while the supervisor has not recorded the command yet, the supervisor (which forwards).
   */
  async function signalRun(handle: ProcessHandle, signal: NodeJS.Signals): Promise<void> {
    const dir = runDir(handle);
    let { state, tracked } = await recorded(dir);
    // started but not yet running the command: give the supervisor a moment to record the pid
    const meta = await readJson<RunMeta>(join(dir, 'meta.json'));
    const supervisorPid = meta?.supervisor_pid ?? handle.supervisor_pid;
    for (let i = 0; !state && i < STATE_WAIT_STEPS && processAlive(supervisorPid); i++) {
      await new Promise((done) => setTimeout(done, 50));
      ({ state, tracked } = await recorded(dir));
    }
    if (state) {
      signalRecorded(leader(state), tracked, signal);
      return;
    }
    if (supervisorPid !== undefined && processAlive(supervisorPid)) {
      try {
        process.kill(supervisorPid, signal);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'ESRCH') throw error;
      }
    }
  }

  const driver: Driver<ProcessBlock, ProcessRequest, ProcessHandle> = {
    handleSchema: ProcessHandleSchema,
    identify: (handle) => handle.run,

    async find(_target, request) {
      const handle = { run: request.idempotency_key };
      const dir = runDir(handle);
      const exists = await stat(dir).then(
        () => true,
        () => false,
      );
      if (!exists) return undefined;
      const meta = await readJson<RunMeta>(join(dir, 'meta.json'));
      // a state without meta: the folder was deleted and the supervisor recorded the command again
      const state = await readJson<RunState>(join(dir, 'state.json'));
      const supervisorPid = meta?.supervisor_pid ?? state?.supervisor_pid;
      return {
        handle: supervisorPid === undefined ? handle : { ...handle, supervisor_pid: supervisorPid },
        started: supervisorPid !== undefined,
      };
    },

    async create(_target, request) {
      const handle = { run: request.idempotency_key };
      // 0700 / 0600: a run's output, environment and result are its owner's alone
      await mkdir(runsDir(), { recursive: true, mode: 0o700 });
      try {
        await mkdir(runDir(handle), { mode: 0o700 }); // atomic: exactly one submit creates the run folder
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'EEXIST')
          throw new ProviderPermanentError(`process run '${handle.run}' exists already`, {
            cause: error,
            kind: 'conflict',
          });
        throw error;
      }
      return { handle, started: false };
    },

    start,
    status: (_target, handle) => status(handle),

    stop: (_target, handle, request) => signalRun(handle, request.force ? 'SIGKILL' : 'SIGTERM'),

    // The run is over when cleanup runs: whatever status says (a supervisor killed, a folder
    // rewritten), what was recorded of it is killed. The run folder stays: it holds the
    // output log and marks the flow run as started.
    async remove(_target, request, handle) {
      await signalRun(handle ?? { run: request.idempotency_key }, 'SIGKILL');
    },

    logs: (_target, handle) => tail(join(runDir(handle), 'output.log')),
  };

  return defineProvider(processSpec, driver, options.runtime);
}

export const processProvider = createProcessProvider();
