// A stand-in for the Prefect engine inside a flow run: reads its flow run from the API the
// submitter gave it (PREFECT_API_URL, PREFECT_API_KEY, PREFECT__FLOW_RUN_ID), records what it
// saw in MARKER_FILE, proposes states as the engine would (ENGINE_STATES, e.g. "RUNNING,COMPLETED"),
// then sleeps SLEEP_SECONDS and exits with EXIT_CODE.
import { appendFileSync } from 'node:fs';

const api = process.env.PREFECT_API_URL;
const id = process.env.PREFECT__FLOW_RUN_ID;
const headers = {
  'content-type': 'application/json',
  ...(process.env.PREFECT_API_KEY ? { authorization: `Bearer ${process.env.PREFECT_API_KEY}` } : {}),
};
const seen = await fetch(`${api}/flow_runs/${id}`, { headers });
const run = seen.ok ? await seen.json() : undefined;
if (process.env.MARKER_FILE)
  appendFileSync(
    process.env.MARKER_FILE,
    `${JSON.stringify({ env_id: id, status: seen.status, id: run?.id, state: run?.state?.type })}\n`,
  );
for (const type of (process.env.ENGINE_STATES ?? '').split(',').filter(Boolean)) {
  await fetch(`${api}/flow_runs/${id}/set_state`, {
    method: 'POST',
    headers,
    body: JSON.stringify({
      state: { type, name: type.charAt(0) + type.slice(1).toLowerCase() },
      force: false,
    }),
  });
}
console.log('engine ran with key', process.env.PREFECT_API_KEY);
await new Promise((done) => setTimeout(done, Number(process.env.SLEEP_SECONDS ?? 0) * 1000));
process.exit(Number(process.env.EXIT_CODE ?? 0));
