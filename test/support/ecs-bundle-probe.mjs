// Child process for the ECS bundle test: imports the ECS function's bundle (as Lambda would,
// from a folder with no node_modules) and runs its handler's submit for one event, against
// AWS_ENDPOINT_URL. Prints {"state": …} or {"error": {"name", "message"}}.
// Usage: node test/support/ecs-bundle-probe.mjs BUNDLE_FILE EVENT_FILE   (SUBMITTER_STORE set)
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';

const [bundle = '', eventFile = ''] = process.argv.slice(2);
const event = JSON.parse(await readFile(eventFile, 'utf8'));
const id = event.flow_run.id;
const eventRef = `runs/${id}/event.json`;
const stored = join(process.env.SUBMITTER_STORE ?? '', ...eventRef.split('/'));
await mkdir(dirname(stored), { recursive: true });
await writeFile(stored, JSON.stringify(event));

const { handler } = await import(pathToFileURL(bundle).href);
const state = {
  flow_run_id: id,
  event_ref: eventRef,
  run: {
    flow_run_id: id,
    provider: 'ecs-task',
    source: 'inline',
    function: 'submitter-infra-ecs-task',
    poll: { first_seconds: 1, cap_seconds: 1, growth: 1 },
    timeouts: { start_seconds: 60, run_seconds: 600 },
    grace_seconds: 1,
  },
};
const context = {
  functionName: 'submitter-infra-ecs-task',
  awsRequestId: 'probe',
  getRemainingTimeInMillis: () => 60_000,
};
try {
  const after = await handler({ op: 'submit', state }, context);
  process.stdout.write(`${JSON.stringify({ state: after })}\n`);
} catch (error) {
  process.stdout.write(`${JSON.stringify({ error: { name: error?.name, message: error?.message } })}\n`);
}
