// Child process for the "ECS path loads no other cloud's SDK" test: runs the deployed ECS
// function's handler (submit → watch until final → cleanup) against AWS_ENDPOINT_URL, then
// prints every module it loaded: ESM URLs (traced by hooks) and the CommonJS cache.
// Usage: node --import tsx test/support/ecs-load-probe.ts EVENT_FILE TRACE_FILE
import { readFile } from 'node:fs/promises';
import { createRequire, register } from 'node:module';

const [eventFile = '', traceFile = ''] = process.argv.slice(2);
register('./trace-loads.mjs', import.meta.url, { data: { file: traceFile } });

const event = JSON.parse(await readFile(eventFile, 'utf8')) as { flow_run: { id: string } };
const { handler } = await import('../../functions/infra/ecs-task.js');
const { FolderStore } = await import('../../core/store.js');
const store = new FolderStore(process.env.SUBMITTER_STORE ?? '');
const eventRef = `runs/${event.flow_run.id}/event.json`;
await store.put(eventRef, JSON.stringify(event));

const context = {
  functionName: 'submitter-infra-ecs-task',
  awsRequestId: 'probe',
  getRemainingTimeInMillis: () => 60_000,
} as unknown as Parameters<typeof handler>[1];
let state: Record<string, unknown> = {
  flow_run_id: event.flow_run.id,
  event_ref: eventRef,
  run: {
    flow_run_id: event.flow_run.id,
    provider: 'ecs-task',
    source: 'inline',
    function: 'submitter-infra-ecs-task',
    poll: { first_seconds: 1, cap_seconds: 1, growth: 1 },
    timeouts: { start_seconds: 60, run_seconds: 600 },
    grace_seconds: 1,
  },
};
const invoke = (op: string) => handler({ op, state } as never, context) as Promise<Record<string, unknown>>;
state = await invoke('submit');
for (let polls = 0; !state.result && polls < 50; polls++) {
  try {
    state = await invoke('watch');
  } catch (error) {
    if (!(error instanceof Error && error.name.startsWith('PollAgainIn'))) throw error;
  }
}
await invoke('cleanup');
const traced = (await readFile(traceFile, 'utf8')).split('\n').filter(Boolean);
const cjs = Object.keys(createRequire(import.meta.url).cache);
process.stdout.write(`${JSON.stringify({ result: state.result, esm: traced, cjs })}\n`);
