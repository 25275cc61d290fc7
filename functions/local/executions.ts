// The local stand-in for Step Functions' execution names: one execution per name, ever.
// A second start with the same name adopts the first (waits for its result) instead of
// running again — across concurrent calls in one process and across processes. An
// execution whose owner process died (a `submitter run` killed) is taken over by the next
// start, once, and resumed: Step Functions would have kept running it.
import type { DocumentStore } from '../../core/store.js';
import { processAlive } from '../../providers/process/proc.js';

export interface ExecutionRecord {
  name: string;
  input: unknown;
  status: 'RUNNING' | 'SUCCEEDED' | 'FAILED';
  owner_pid: number;
  started_at: string;
  /** How many times it was taken over from an owner that died. */
  resumes?: number;
  output?: unknown;
  error?: string;
}

const key = (name: string) => `executions/${name}.json`;
const sleep = (ms: number) => new Promise((done) => setTimeout(done, ms));

export class LocalExecutions {
  constructor(readonly store: DocumentStore) {}

  /** The new execution's record when this call owns it; undefined when one with this name exists. */
  async start(name: string, input: unknown): Promise<ExecutionRecord | undefined> {
    const record: ExecutionRecord = {
      name,
      input,
      status: 'RUNNING',
      owner_pid: process.pid,
      started_at: new Date().toISOString(),
    };
    return (await this.store.putIfAbsent(key(name), JSON.stringify(record))) ? record : undefined;
  }

  async read(name: string): Promise<ExecutionRecord | undefined> {
    const body = await this.store.get(key(name));
    if (!body) return undefined;
    try {
      return JSON.parse(body) as ExecutionRecord;
    } catch {
      return undefined; // being written right now
    }
  }

  async finish(record: ExecutionRecord): Promise<void> {
    await this.store.put(key(record.name), JSON.stringify(record));
  }

  /** Waits until the execution ends, or its owner process is gone (then it is returned RUNNING: an orphan). */
  async wait(name: string, pollMs = 100): Promise<ExecutionRecord> {
    for (;;) {
      const record = await this.read(name);
      if (record && record.status !== 'RUNNING') return record;
      if (record && !processAlive(record.owner_pid)) return record;
      await sleep(pollMs);
    }
  }

  /** Makes this process the owner of an orphaned execution; undefined when another start took it first. */
  async takeOver(orphan: ExecutionRecord): Promise<ExecutionRecord | undefined> {
    const resumes = (orphan.resumes ?? 0) + 1;
    const marker = { from_pid: orphan.owner_pid, by_pid: process.pid, at: new Date().toISOString() };
    if (
      !(await this.store.putIfAbsent(
        `executions/${orphan.name}.resume-${resumes}.json`,
        JSON.stringify(marker),
      ))
    )
      return undefined;
    const record: ExecutionRecord = { ...orphan, owner_pid: process.pid, resumes };
    await this.store.put(key(orphan.name), JSON.stringify(record));
    return record;
  }
}
