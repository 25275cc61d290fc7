// The `process` provider: the flow run as a local subprocess, run by a small detached
// supervisor that records its pid, output and exit in a run folder named by the
// idempotency key, as a driver of the shared runtime. create makes the folder, start
// spawns the supervisor (a folder without one is resumed), stop signals the process group.
import { spawn } from 'node:child_process';
import { mkdir, open, readFile, stat, writeFile } from 'node:fs/promises';
import { constants } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as z from 'zod';
import { ProviderPermanentError } from '../../core/errors.js';
import { pidAlive } from '../../core/pid.js';
import type { InfraStatus, Provider, Target } from '../port.js';
import { type Driver, defineProvider, type RuntimeOptions } from '../runtime/provider.js';
import type { ProcessBlock } from './block.js';
import type { ProcessRequest } from './build.js';
import { processSpec } from './spec.js';

const SUPERVISOR = fileURLToPath(new URL('./supervisor.mjs', import.meta.url));
const TAIL_BYTES = 8192;
/** How long stop waits (× 50 ms) for a starting supervisor to record the command's pid. */
const STATE_WAIT_STEPS = 60;

interface RunState {
  pid: number;
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
}

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
});
export type ProcessHandle = z.infer<typeof ProcessHandleSchema>;

export function createProcessProvider(
  options: ProcessProviderOptions = {},
): Provider<ProcessBlock, ProcessRequest, ProcessHandle> {
  const runsDir = options.runsDir ?? defaultRunsDir;
  const runDir = (handle: ProcessHandle) => join(runsDir(), ProcessHandleSchema.parse(handle).run);

  async function status(handle: ProcessHandle): Promise<InfraStatus> {
    const dir = runDir(handle);
    const meta = await readJson<RunMeta>(join(dir, 'meta.json'));
    const state = await readJson<RunState>(join(dir, 'state.json'));
    const links = { output: join(dir, 'output.log') };
    // Liveness first, result second: a supervisor found gone has already written its result,
    // so a run that ends between the two reads is seen as ended, never as missing.
    const supervisorAlive = pidAlive(state?.supervisor_pid ?? meta?.supervisor_pid);
    const result = await readJson<RunResult>(join(dir, 'result.json'));
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
      if (supervisorAlive) {
        return { phase: 'running', reason: `pid ${state.pid}`, links: { ...links, pid: String(state.pid) } };
      }
      return {
        phase: 'missing',
        reason: `the process (pid ${state.pid}) ended without recording a result; was the machine restarted?`,
        links,
      };
    }
    if (!meta) {
      const exists = await stat(dir).then(
        () => true,
        () => false,
      );
      if (exists) return { phase: 'pending', reason: 'starting the process' };
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
    try {
      const supervisor = spawn(
        process.execPath,
        [SUPERVISOR, dir, request.working_dir ?? '', JSON.stringify(request.command)],
        { env, detached: true, stdio: ['ignore', 'ignore', log.fd] },
      );
      supervisor.unref();
      await writeFile(join(dir, 'meta.json'), JSON.stringify({ ...meta, supervisor_pid: supervisor.pid }), {
        mode: 0o600,
      });
    } finally {
      await log.close();
    }
    return handle;
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
      return { handle, started: meta?.supervisor_pid !== undefined };
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

    async stop(_target, handle, request) {
      const dir = runDir(handle);
      const signal = request.force ? 'SIGKILL' : 'SIGTERM';
      let state = await readJson<RunState>(join(dir, 'state.json'));
      // started but not yet running the command: give the supervisor a moment to record the pid
      const meta = await readJson<RunMeta>(join(dir, 'meta.json'));
      for (let i = 0; !state && i < STATE_WAIT_STEPS && pidAlive(meta?.supervisor_pid); i++) {
        await new Promise((done) => setTimeout(done, 50));
        state = await readJson<RunState>(join(dir, 'state.json'));
      }
      if (await readJson<RunResult>(join(dir, 'result.json'))) return;
      const pid = state ? -state.pid : meta?.supervisor_pid;
      if (pid === undefined) return;
      try {
        process.kill(pid, signal);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'ESRCH') throw error;
      }
    },

    logs: (_target, handle) => tail(join(runDir(handle), 'output.log')),
    // The run folder stays after the run: it holds the output log and marks the flow run as started.
  };

  return defineProvider(processSpec, driver, options.runtime);
}

export const processProvider = createProcessProvider();
