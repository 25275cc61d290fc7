// Prefect 3 `process` work pool → the process block. The job configuration's fields are the
// Prefect 2 block's (command, env, labels, name, stream_output, working_dir); the command is
// one string and defaults to the worker's `prefect flow-run execute`.
// Facts: src/prefect/workers/process.py (ProcessJobConfiguration) at PrefectHQ/prefect ce79dd3.
import type { WorkPoolAdapter } from '../../prefect3/adapter.js';
import { baseFieldsOf, given, refuseUnknown } from '../../prefect3/job-config.js';

const KNOWN = ['command', 'env', 'labels', 'name', 'stream_output', 'working_dir'] as const;

export const workPool: WorkPoolAdapter = {
  poolTypes: ['process'],
  blockType: 'process',
  toBlock(config, context) {
    refuseUnknown(config, KNOWN, context);
    const block: Record<string, unknown> = { type: 'process', ...baseFieldsOf(config, context) };
    for (const key of ['stream_output', 'working_dir'] as const) {
      const value = given(config, key);
      if (value !== undefined) block[key] = value;
    }
    return block;
  },
};
