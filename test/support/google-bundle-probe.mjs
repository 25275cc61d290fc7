// Child process for the Cloud Run bundle test: imports the cloud-run-job function's bundle (as
// Lambda would, from a folder with no node_modules), runs its handler's submit for one event
// against CLOUD_RUN_API_ENDPOINT, and prints {"submitted", "ms", "submitMs"} or
// {"error": {"name", "message"}}; `ms` is how long the import took (the cold start's share).
// Usage: node test/support/google-bundle-probe.mjs BUNDLE_FILE EVENT_FILE   (SUBMITTER_STORE set)
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

const started = performance.now();
const { handler } = await import(pathToFileURL(bundle).href);
const ms = performance.now() - started;
const state = {
  flow_run_id: id,
  event_ref: eventRef,
  run: {
    flow_run_id: id,
    provider: 'cloud-run-job',
    source: 'inline',
    function: 'submitter-infra-cloud-run-job',
    poll: { first_seconds: 1, cap_seconds: 1, growth: 1 },
    timeouts: { start_seconds: 60, run_seconds: 600 },
    grace_seconds: 1,
  },
};
const context = {
  functionName: 'submitter-infra-cloud-run-job',
  awsRequestId: 'probe',
  getRemainingTimeInMillis: () => 60_000,
};
try {
  const submitting = performance.now();
  const submitted = await handler({ op: 'submit', state }, context);
  // the first submit loads the Google SDK (and makes five calls to a local fake)
  const submitMs = performance.now() - submitting;
  process.stdout.write(`${JSON.stringify({ submitted, ms, submitMs })}\n`);
} catch (error) {
  process.stdout.write(`${JSON.stringify({ error: { name: error?.name, message: error?.message }, ms })}\n`);
}
