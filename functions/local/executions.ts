// The local stand-in for Step Functions' execution names: one execution per name, ever.
// A second start with the same name adopts the first (waits for its result) instead of
// running again — across concurrent calls in one process and across processes.
import { pidAlive } from '../../core/pid.js';
import type { DocumentStore } from '../../core/store.js';

export interface ExecutionRecord {
  name: string;
  input: unknown;
  status: 'RUNNING' | 'SUCCEEDED' | 'FAILED';
  owner_pid: number;
  started_at: string;
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

  /** Waits until the execution ends (or its owner process is gone). */
  async wait(name: string, pollMs = 100): Promise<ExecutionRecord> {
    for (;;) {
      const record = await this.read(name);
      if (record && record.status !== 'RUNNING') return record;
      if (record && !pidAlive(record.owner_pid)) {
        return {
          ...record,
          status: 'FAILED',
          error: `the process that ran it (pid ${record.owner_pid}) ended before it finished`,
        };
      }
      await sleep(pollMs);
    }
  }
}
