import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { localDeps } from '../cli/local.js';
import { InvalidInputError } from '../core/errors.js';
import type { Deps } from '../functions/lib/deps.js';
import type { Report } from '../functions/lib/state.js';
import type { ProviderLoader } from '../providers/registry.js';

export const ROOT = resolve(import.meta.dirname, '..');
export const SAMPLES = join(ROOT, 'events', 'samples');

const made: string[] = [];
// Each test file runs in its own process: what it made goes when it ends.
process.on('exit', () => {
  for (const dir of made) rmSync(dir, { recursive: true, force: true });
});

export async function tempDir(prefix = 'submitter-test-'): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  made.push(dir);
  return dir;
}

export async function readJson<T = unknown>(path: string): Promise<T> {
  return JSON.parse(await readFile(path, 'utf8')) as T;
}

export async function sample<T = Record<string, unknown>>(name: string): Promise<T> {
  return readJson<T>(join(SAMPLES, name));
}

/** Local deps in a fresh state folder, collecting reports. */
export async function testDeps(
  options: { home?: string; blocks?: string; loadProvider?: ProviderLoader; env?: NodeJS.ProcessEnv } = {},
): Promise<{ deps: Deps; home: string; reports: Report[] }> {
  const home = options.home ?? (await tempDir());
  const reports: Report[] = [];
  const deps = await localDeps({
    home,
    ...(options.blocks ? { blocks: options.blocks } : {}),
    ...(options.loadProvider ? { loadProvider: options.loadProvider } : {}),
    env: { ...process.env, LOG_LEVEL: 'error', PREFECT_HOME: join(home, 'prefect-home'), ...options.env },
    onReport: (report) => reports.push(report),
  });
  return { deps, home, reports };
}

export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

export const sleep = (ms: number) => new Promise((done) => setTimeout(done, ms));

/** Polls `look` every 50 ms until it gives a value; fails the test after `ms`. */
export async function until<T>(
  what: string,
  look: () => T | undefined | Promise<T | undefined>,
  ms = 10_000,
): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const value = await look();
    if (value !== undefined) return value;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

/** A JSON file's content, or undefined while it does not exist (or is half-written). */
export function jsonIfThere<T>(path: string): Promise<T | undefined> {
  return readFile(path, 'utf8').then(
    (text) => JSON.parse(text) as T,
    () => undefined,
  );
}

/** The InvalidInputError a promise rejects with (anything else, or no rejection, fails the test). */
export async function invalidInput(promise: Promise<unknown>): Promise<InvalidInputError> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof InvalidInputError, String(error));
    return error;
  }
  assert.fail('expected an InvalidInputError');
}

/** Its problems as path → message. */
export function problemMap(error: InvalidInputError): Map<string, string> {
  return new Map(error.problems.map((p) => [p.path, p.message]));
}
