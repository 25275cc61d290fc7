// A stand-in for `python -m prefect.engine` that runs anywhere Node does: prints what
// the submitter gave it, then exits with EXIT_CODE (default 0) after SLEEP_SECONDS.
const id = process.env.PREFECT__FLOW_RUN_ID;
const parameters = JSON.parse(process.env.SUBMITTER_FLOW_RUN_PARAMETERS ?? '{}');
console.log(`hello from flow run ${id}`);
console.log(`parameters: ${JSON.stringify(parameters)}`);
if (process.env.MARKER_FILE) {
  const { appendFileSync } = await import('node:fs');
  appendFileSync(process.env.MARKER_FILE, `${process.pid} ${id}\n`);
}
const seconds = Number(process.env.SLEEP_SECONDS ?? 0);
if (seconds > 0) {
  console.log(`working for ${seconds} s…`);
  await new Promise((done) => setTimeout(done, seconds * 1000));
}
const code = Number(process.env.EXIT_CODE ?? 0);
console.log(code === 0 ? 'done' : `failing with exit code ${code}`);
process.exit(code);
