// The `process` provider: the flow run as a local subprocess, run by a small detached
// supervisor that records its pid, output and exit in a run folder named by the
// idempotency key. A second submit for the same flow run finds the folder and adopts it.
import { spawn } from 'node:child_process';
import { mkdir, open, readFile, stat, writeFile } from 'node:fs/promises';
import { constants } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ProviderPermanentError } from '../../core/errors.js';
import { pidAlive } from '../../core/pid.js';
import { idempotencyKey } from '../identity.js';
import type { InfraStatus, Provider, Submission, Target } from '../port.js';
import type { ProcessBlock } from './block.js';
import { buildProcessRequest, type ProcessRequest } from './build.js';
import { processSpec } from './spec.js';

const SUPERVISOR = fileURLToPath(new URL('./supervisor.mjs', import.meta.url));
const TAIL_BYTES = 4096;
const TAIL_LINES = 20;
const CLEANUP_GRACE_SECONDS = 10;

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
    const lines = buffer.toString('utf8').split('\n');
    if (lines.at(-1) === '') lines.pop();
    return lines.slice(-TAIL_LINES).join('\n');
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

const sleep = (ms: number) => new Promise((done) => setTimeout(done, ms));

export function createProcessProvider(
  options: ProcessProviderOptions = {},
): Provider<ProcessBlock, ProcessRequest> {
  const runsDir = options.runsDir ?? defaultRunsDir;
  const runDir = (key: string) => {
    if (!/^[A-Za-z0-9_-]+$/.test(key))
      throw new ProviderPermanentError(`'${key}' is not a process run identifier`);
    return join(runsDir(), key);
  };

  async function status(_target: Target<ProcessBlock>, identifier: string): Promise<InfraStatus> {
    const dir = runDir(identifier);
    const meta = await readJson<RunMeta>(join(dir, 'meta.json'));
    const state = await readJson<RunState>(join(dir, 'state.json'));
    const links = { output: join(dir, 'output.log') };
    // Liveness first, result second: a supervisor found gone has already written its result,
    // so a run that ends between the two reads is seen as ended, never as missing.
    const supervisorAlive = pidAlive(state?.supervisor_pid ?? meta?.supervisor_pid);
    const result = await readJson<RunResult>(join(dir, 'result.json'));
    if (result) {
      const logs_tail = await tail(links.output);
      const base = { links, ...(logs_tail !== undefined ? { logs_tail } : {}) };
      if (result.error) {
        const hint =
          result.error === 'ENOENT'
            ? ": the program was not found; install it or change the block's `command`"
            : '';
        return {
          ...base,
          phase: 'failed',
          exit_code: null,
          reason: `the command could not be started (${result.message})${hint}`,
        };
      }
      if (result.signal) {
        return {
          ...base,
          phase: 'failed',
          exit_code: -signalNumber(result.signal),
          reason: `the process was ended by ${result.signal}`,
        };
      }
      if (result.exit_code === 0) return { ...base, phase: 'succeeded', exit_code: 0 };
      return {
        ...base,
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
      return { phase: 'missing', reason: `no process run '${identifier}' in ${runsDir()}` };
    }
    if (meta.supervisor_pid !== undefined && !supervisorAlive) {
      return { phase: 'missing', reason: 'the process supervisor exited before starting the command' };
    }
    return { phase: 'pending', reason: 'starting the process' };
  }

  async function kill(target: Target<ProcessBlock>, identifier: string, graceSeconds: number): Promise<void> {
    const dir = runDir(identifier);
    const state = await readJson<RunState>(join(dir, 'state.json'));
    if (!state || (await readJson<RunResult>(join(dir, 'result.json')))) return;
    const signalGroup = (signal: NodeJS.Signals) => {
      try {
        process.kill(-state.pid, signal);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'ESRCH') throw error;
      }
    };
    signalGroup('SIGTERM');
    const deadline = Date.now() + graceSeconds * 1000;
    while (Date.now() < deadline) {
      if ((await status(target, identifier)).phase !== 'running') return;
      await sleep(100);
    }
    signalGroup('SIGKILL');
    // the supervisor records the SIGKILL; wait for it briefly so status is final
    for (let i = 0; i < 50 && (await status(target, identifier)).phase === 'running'; i++) await sleep(100);
  }

  return {
    ...processSpec,

    async submit(target): Promise<Submission> {
      const request = buildProcessRequest(target);
      const key = request.idempotency_key;
      const dir = runDir(key);
      await mkdir(runsDir(), { recursive: true });
      try {
        await mkdir(dir); // atomic: exactly one submit creates the run
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'EEXIST') return { identifier: key, adopted: true };
        throw error;
      }
      const meta: RunMeta = { flow_run_id: target.flowRun.id, submitted_at: new Date().toISOString() };
      await writeFile(join(dir, 'meta.json'), JSON.stringify(meta));
      const env: NodeJS.ProcessEnv = { ...process.env };
      for (const name of request.unset_env) delete env[name];
      Object.assign(env, request.env);
      const log = await open(join(dir, 'supervisor.log'), 'a');
      try {
        const supervisor = spawn(
          process.execPath,
          [SUPERVISOR, dir, request.working_dir ?? '', JSON.stringify(request.command)],
          {
            env,
            detached: true,
            stdio: ['ignore', 'ignore', log.fd],
          },
        );
        supervisor.unref();
        await writeFile(join(dir, 'meta.json'), JSON.stringify({ ...meta, supervisor_pid: supervisor.pid }));
      } finally {
        await log.close();
      }
      return { identifier: key, adopted: false };
    },

    status,
    kill,

    async cleanup(target, identifier) {
      const key = identifier ?? idempotencyKey(target.flowRun.id);
      if ((await status(target, key)).phase === 'running') await kill(target, key, CLEANUP_GRACE_SECONDS);
      // The run folder stays: it holds the output log and marks the flow run as started.
    },
  };
}

export const processProvider = createProcessProvider();
