// Hostile input (issue 9): each finding against the real components — the CLI's main(), the
// trigger with its store, the block store on a folder, the local runner on real processes.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdir, readdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import type { Context } from 'aws-lambda';
import { main } from '../cli/main.js';
import { closest, problemsFrom } from '../core/zod-problems.js';
import { unwrap } from '../events/envelopes.js';
import { accept } from '../functions/lib/intake.js';
import type { ExecutionInput } from '../functions/lib/state.js';
import { startExecution } from '../functions/local/runner.js';
import { createTriggerHandler, type ExecutionStarter, type TriggerOutcome } from '../functions/trigger.js';
import { BLOCK_SCHEMAS } from '../providers/blocks.js';
import { idempotencyKey } from '../providers/identity.js';
import { ROOT, sample, tempDir, testDeps } from './helpers.js';

process.chdir(ROOT); // the samples' commands are relative to the repository

const context = {} as Context;

async function cli(args: string[]) {
  let stdout = '';
  let stderr = '';
  const code = await main(args, { out: (t) => (stdout += `${t}\n`), err: (t) => (stderr += `${t}\n`) });
  return { code, stdout, stderr };
}

async function writeDoc(name: string, content: unknown): Promise<string> {
  const dir = await tempDir();
  const path = join(dir, name);
  await writeFile(path, typeof content === 'string' ? content : JSON.stringify(content));
  return path;
}

function memoryStarter() {
  const started = new Map<string, ExecutionInput>();
  const starter: ExecutionStarter = {
    async start(name, input) {
      const duplicate = started.has(name);
      if (!duplicate) started.set(name, input);
      return { id: `arn:aws:states:local:0:execution:sm:${name}`, duplicate };
    },
  };
  return { started, starter };
}

const http = (body: string) => ({
  requestContext: { http: { method: 'POST' } },
  body,
  isBase64Encoded: false,
  headers: {},
});

/** Object.prototype's own keys now, to compare after an attack. */
const protoKeys = () => Object.getOwnPropertyNames(Object.prototype).sort().join(',');
const PROTO_BEFORE = protoKeys();

function assertPrototypeClean(): void {
  assert.equal(protoKeys(), PROTO_BEFORE, 'Object.prototype unchanged');
  assert.equal(({} as Record<string, unknown>).polluted, undefined);
  assert.equal(({} as Record<string, unknown>).working_dir, undefined);
}

/** `levels` nested objects under one key, built without recursion. */
function deep(levels: number): Record<string, unknown> {
  const root: Record<string, unknown> = {};
  let cursor = root;
  for (let i = 0; i < levels; i++) {
    const next: Record<string, unknown> = {};
    cursor.a = next;
    cursor = next;
  }
  return root;
}

/** JSON text of `levels` nested objects (JSON.stringify itself overflows the stack on it). */
const deepJson = (levels: number) => `${'{"a":'.repeat(levels)}1${'}'.repeat(levels)}`;

/** Hand-written JSON text for an object: `JSON.parse` of it gives own `__proto__` keys. */
const PROTO_OVERRIDES = [
  '{"__proto__.polluted": "yes"}',
  '{"__proto__.toString": "x"}',
  '{"__proto__.valueOf": 1}',
  '{"__proto__.constructor": 1}',
  '{"__proto__.working_dir": "/tmp"}',
  '{"__proto__.hasOwnProperty": 1}',
  '{"constructor.prototype.polluted": "yes"}',
  '{"env.__proto__": "x"}',
  '{"env": {"__proto__": {"polluted": "yes"}}}',
  '{"labels": {"constructor": "x"}}',
];

async function processEventText(overrides: string): Promise<string> {
  const event = await sample('process-flow-run.json');
  const text = JSON.stringify({ ...event, infra_overrides: '@@' });
  return text.replace('"@@"', overrides);
}

describe('hostile input: 1. prototype pollution', () => {
  it('validate and preview refuse every prototype key in overrides with exit 2 naming it; later events still pass', async () => {
    for (const overrides of PROTO_OVERRIDES) {
      const file = await writeDoc('event.json', await processEventText(overrides));
      for (const command of ['validate', 'preview']) {
        const out = await cli([command, file]);
        assert.equal(out.code, 2, `${command} ${overrides}: ${out.stderr}`);
        assert.match(out.stderr, /infra_overrides/, overrides);
        assert.match(out.stderr, /is not allowed as a key/);
        assert.doesNotMatch(out.stderr, /internal error/);
        assertPrototypeClean();
      }
    }
    const ok = await cli(['validate', join('events', 'samples', 'process-flow-run.json')]);
    assert.equal(ok.code, 0, ok.stderr);
  });

  it('refuses __proto__ in parameters, env, a deployment YAML and a stored block, naming the path', async () => {
    const event = await sample('process-flow-run.json');
    const params = JSON.stringify(event).replace('"parameters":{', '"parameters":{"__proto__":{"x":1},');
    const out = await cli(['validate', await writeDoc('p.json', params)]);
    assert.equal(out.code, 2, out.stderr);
    assert.match(out.stderr, /flow_run\.parameters\["__proto__"\]/);

    const env = JSON.stringify(event).replace('"env":{', '"env":{"__proto__":"x",');
    const envOut = await cli(['preview', await writeDoc('e.json', env)]);
    assert.equal(envOut.code, 2);
    assert.match(envOut.stderr, /infrastructure\.env\["__proto__"\]/);

    const yaml = [
      'name: d',
      'infrastructure:',
      '  type: process',
      '  command: [echo, hi]',
      '  __proto__: {polluted: yes}',
    ].join('\n');
    const yamlOut = await cli(['validate', await writeDoc('deployment.yaml', yaml)]);
    assert.equal(yamlOut.code, 2, yamlOut.stderr);
    assert.match(yamlOut.stderr, /infrastructure\["__proto__"\]/);

    const blocks = await tempDir();
    await mkdir(join(blocks, 'blocks', 'process'), { recursive: true });
    await writeFile(
      join(blocks, 'blocks', 'process', 'evil.json'),
      '{"type":"process","command":["echo"],"constructor":{"prototype":{"polluted":1}}}',
    );
    const bySlug = { flow_run: { id: randomUUID() }, infrastructure_block: 'process/evil' };
    const slugOut = await cli(['validate', await writeDoc('s.json', bySlug), '--blocks', blocks]);
    assert.equal(slugOut.code, 2, slugOut.stderr);
    assert.match(slugOut.stderr, /constructor/);
    assertPrototypeClean();
  });

  it('the trigger keeps a polluting delivery as rejected and then starts valid events in the same process', async () => {
    const { deps } = await testDeps();
    const { started, starter } = memoryStarter();
    const handler = createTriggerHandler(deps, () => starter);
    for (const overrides of PROTO_OVERRIDES) {
      const body = JSON.parse(await processEventText(overrides)) as Record<string, unknown>;
      (body.flow_run as Record<string, unknown>).id = randomUUID();
      await assert.rejects(() => handler(body, context), /is not allowed as a key/);
      assertPrototypeClean();
    }
    assert.equal((await deps.store.list('rejected/')).length, PROTO_OVERRIDES.length);
    assert.equal(started.size, 0);
    const valid = await sample('process-flow-run.json');
    (valid.flow_run as Record<string, unknown>).id = randomUUID();
    const outcome = (await handler(valid, context)) as TriggerOutcome;
    assert.equal(outcome.status, 'started');
  });
});

describe('hostile input: 2. "did you mean" is bounded', () => {
  it('five 1 MB unknown keys: a hint in milliseconds and a message of a few hundred characters', () => {
    const doc: Record<string, unknown> = { type: 'process', command: ['echo'] };
    for (let i = 0; i < 5; i++) doc[`${String(i).repeat(1_000_000)}`] = 1;
    const schema = BLOCK_SCHEMAS.process;
    const started = performance.now();
    const result = schema.safeParse(doc);
    assert.equal(result.success, false);
    const problems = result.success
      ? []
      : problemsFrom(result.error, { knownFields: () => Object.keys(schema.shape) });
    assert.ok(performance.now() - started < 1000, `${performance.now() - started} ms`);
    assert.equal(problems.length, 5);
    const text = JSON.stringify(problems);
    assert.ok(text.length < 2000, `message of ${text.length} characters`);
    assert.match(text, /1000000 characters/);
    assert.equal(closest('x'.repeat(1_000_000), ['command']), undefined);
    assert.equal(closest('comand', ['command']), 'command');
  });

  it('the CLI refuses a 5 MB document or a 1 MB key quickly with exit 2', async () => {
    const event = await sample('process-flow-run.json');
    const big = { ...event, ['k'.repeat(2_000_000)]: 1 };
    const started = performance.now();
    const out = await cli(['validate', await writeDoc('big.json', big)]);
    assert.equal(out.code, 2);
    assert.ok(out.stderr.length < 1000);
    const keyOut = await cli([
      'validate',
      await writeDoc('key.json', {
        ...event,
        flow_run: { ...(event.flow_run as object), ['k'.repeat(5000)]: 1 },
      }),
    ]);
    assert.equal(keyOut.code, 2);
    assert.match(keyOut.stderr, /keys are at most 1024 characters/);
    assert.ok(keyOut.stderr.length < 1000);
    assert.ok(performance.now() - started < 3000);
  });
});

describe('hostile input: 3. depth', () => {
  it('validate and preview refuse 10,000 levels (JSON and YAML) with exit 2, never internal error', async () => {
    const event = await sample('process-flow-run.json');
    (event.flow_run as Record<string, unknown>).parameters = '@@';
    const json = await writeDoc('deep.json', JSON.stringify(event).replace('"@@"', deepJson(10_000)));
    const flow = await writeDoc(
      'deep.yaml',
      `flow_run: {id: ${randomUUID()}, parameters: ${'{a: '.repeat(20_000)}1${'}'.repeat(20_000)}}`,
    );
    const block = await writeDoc(
      'deep-block.yaml',
      `type: process\ncommand: [echo]\nlabels:\n${'- '.repeat(10_000)}1\n`,
    );
    for (const file of [json, flow, block]) {
      for (const command of ['validate', 'preview']) {
        const out = await cli([command, file]);
        assert.equal(out.code, 2, `${command} ${file}: ${out.stderr}`);
        assert.match(out.stderr, /nested more than 64 levels/);
      }
    }
  });

  it('the trigger keeps a too-deep delivery as rejected: EventBridge, a direct object, a Pub/Sub push', async () => {
    const { deps } = await testDeps();
    const { starter } = memoryStarter();
    const handler = createTriggerHandler(deps, () => starter);
    const eventbridge = await sample('eventbridge.json');
    ((eventbridge.detail as Record<string, unknown>).flow_run as Record<string, unknown>).parameters =
      deep(10_000);
    await assert.rejects(() => handler(eventbridge, context), /nested more than 64 levels/);
    const push = await sample('pubsub-push.json');
    const inner = await sample('process-flow-run.json');
    (inner.flow_run as Record<string, unknown>).parameters = '@@';
    const innerText = JSON.stringify(inner).replace('"@@"', deepJson(10_000));
    (push.message as Record<string, unknown>).data = Buffer.from(innerText).toString('base64');
    const answer = (await handler(http(JSON.stringify(push)), context)) as {
      statusCode: number;
      body: string;
    };
    assert.equal(answer.statusCode, 200, 'acknowledged: redelivery cannot fix it');
    assert.match(answer.body, /nested more than 64 levels/);
    const deepBody = `{"message":${deepJson(10_000)}}`;
    const deepAnswer = (await handler(http(deepBody), context)) as { statusCode: number };
    assert.equal(deepAnswer.statusCode, 200);
    const kept = await deps.store.list('rejected/');
    assert.equal(kept.length, 3);
    for (const key of kept) {
      const record = JSON.parse((await deps.store.get(key)) ?? '{}') as { problems: { message: string }[] };
      assert.match(JSON.stringify(record.problems), /nested more than 64 levels/);
    }
  });
});

describe('hostile input: 4. exit codes', () => {
  it('a 300-character slug, a block path that is a folder and a YAML alias cycle: exit 2, named', async () => {
    const blocks = await tempDir();
    await mkdir(join(blocks, 'blocks', 'process', 'dir.json'), { recursive: true });
    const long = { flow_run: { id: randomUUID() }, infrastructure_block: `process/${'x'.repeat(300)}` };
    const out = await cli(['validate', await writeDoc('l.json', long), '--blocks', blocks]);
    assert.equal(out.code, 2, out.stderr);
    assert.match(out.stderr, /infrastructure_block: must be a block slug/);
    const folder = { flow_run: { id: randomUUID() }, infrastructure_block: 'process/dir' };
    for (const command of ['validate', 'preview']) {
      const dirOut = await cli([command, await writeDoc('d.json', folder), '--blocks', blocks]);
      assert.equal(dirOut.code, 2, dirOut.stderr);
      assert.match(dirOut.stderr, /blocks\/process\/dir\.json: is a folder, not a document.*EISDIR/);
    }
    const cycle = await writeDoc(
      'c.yaml',
      `flow_run:\n  id: ${randomUUID()}\n  parameters: &p {self: *p}\ninfrastructure: {type: process, command: [echo]}\n`,
    );
    for (const command of ['validate', 'preview', 'run']) {
      const cycleOut = await cli([command, cycle, '--home', await tempDir()]);
      assert.equal(cycleOut.code, 2, cycleOut.stderr);
      assert.match(cycleOut.stderr, /flow_run\.parameters\.self: refers to itself/);
    }
  });

  it('in the trigger such inputs are rejections (kept, push acknowledged), not 500s', async () => {
    const blocks = await tempDir();
    await mkdir(join(blocks, 'blocks', 'process', 'dir.json'), { recursive: true });
    const { deps } = await testDeps({ blocks });
    const { starter } = memoryStarter();
    const handler = createTriggerHandler(deps, () => starter);
    const push = await sample('pubsub-push.json');
    for (const slug of ['process/dir', `process/${'x'.repeat(300)}`]) {
      const event = { flow_run: { id: randomUUID() }, infrastructure_block: slug };
      (push.message as Record<string, unknown>).data = Buffer.from(JSON.stringify(event)).toString('base64');
      (push.message as Record<string, unknown>).messageId = randomUUID();
      const answer = (await handler(http(JSON.stringify(push)), context)) as {
        statusCode: number;
        body: string;
      };
      assert.equal(answer.statusCode, 200, answer.body);
      assert.match(answer.body, /"status":"rejected"/);
    }
    assert.equal((await deps.store.list('rejected/')).length, 2);
  });
});

describe('hostile input: 5. validate runs what Prepare runs', () => {
  it('a kubernetes-job namespace Prepare refuses is refused by validate and kept as rejected by the trigger', async () => {
    const event = await sample('kubernetes-job.json');
    (event.infrastructure as Record<string, unknown>).namespace = 'Bad_NS';
    const file = await writeDoc('k.json', event);
    for (const command of ['validate', 'preview']) {
      const out = await cli([command, file]);
      assert.equal(out.code, 2, `${command}: ${out.stderr}`);
      assert.match(out.stderr, /namespace/);
      assert.doesNotMatch(out.stderr, /canary/);
    }
    const { deps } = await testDeps();
    const { started, starter } = memoryStarter();
    await assert.rejects(() => createTriggerHandler(deps, () => starter)(event, context), /namespace/);
    assert.equal(started.size, 0, 'no execution started');
    const kept = await deps.store.list('rejected/');
    assert.equal(kept.length, 1);
    assert.doesNotMatch((await deps.store.get(kept[0] ?? '')) ?? '', /canary/);
  });
});

describe('hostile input: 6. overrides cannot mask an invalid block', () => {
  it('"env": 12345 in the block with an env.A override: validate and preview exit 2 naming infrastructure.env', async () => {
    const event = await sample('process-flow-run.json');
    (event.infrastructure as Record<string, unknown>).env = 12345;
    event.infra_overrides = { 'env.A': 'x' };
    const file = await writeDoc('m.json', event);
    for (const command of ['validate', 'preview']) {
      const out = await cli([command, file]);
      assert.equal(out.code, 2, `${command}: ${out.stdout}`);
      assert.match(out.stderr, /infrastructure\.env: expected record/);
    }
  });
});

describe('hostile input: 7. secrets', () => {
  it('a rejected Pub/Sub delivery is kept decoded and redacted, with its messageId; a non-JSON body is not kept raw', async () => {
    const { deps } = await testDeps();
    const { starter } = memoryStarter();
    const handler = createTriggerHandler(deps, () => starter);
    const push = await sample('pubsub-push.json');
    const message = push.message as Record<string, unknown>;
    const event = await sample('process-flow-run.json');
    (event.infrastructure as Record<string, unknown>).env = { API_TOKEN: 'canary-token-123456' };
    (event.infrastructure as Record<string, unknown>).comand = ['x'];
    message.data = Buffer.from(JSON.stringify(event)).toString('base64');
    message.messageId = 'msg-4242';
    const answer = (await handler(http(JSON.stringify(push)), context)) as { body: string };
    assert.match(answer.body, /rejected\/[0-9-]+\/msg-4242\.json/);
    const kept =
      (await deps.store.get((JSON.parse(answer.body) as { rejected_key: string }).rejected_key)) ?? '';
    const record = JSON.parse(kept) as { delivery_id: string; input: { message: { data: unknown } } };
    assert.equal(record.delivery_id, 'msg-4242');
    assert.equal(kept.includes('canary-token-123456'), false);
    assert.equal(kept.includes(String(message.data).slice(0, 40)), false, 'no base64 of the event');
    assert.match(JSON.stringify(record.input.message.data), /"name":"hello-local"/, 'decoded');

    const raw = (await handler(http('password=canary-raw-body-99 not json'), context)) as { body: string };
    const rawKey = (JSON.parse(raw.body) as { rejected_key: string }).rejected_key;
    const rawKept = (await deps.store.get(rawKey)) ?? '';
    assert.equal(rawKept.includes('canary-raw-body-99'), false);
    assert.match(rawKept, /bytes that are not JSON/);
  });

  it('JSON and YAML syntax errors give line and column and never echo the text', async () => {
    const json = await writeDoc('s.json', '{\n  "flow_run": {"id": "x"},\n  "password": hunter2-canary\n}');
    const out = await cli(['validate', json]);
    assert.equal(out.code, 2);
    assert.match(out.stderr, /not valid JSON at line 3, column \d+/);
    assert.doesNotMatch(out.stderr, /hunter2/);
    const yaml = await writeDoc(
      's.yaml',
      'type: process\ncommand: [echo]\npassword: "hunter2-canary\n  x: [',
    );
    const yamlOut = await cli(['validate', yaml]);
    assert.equal(yamlOut.code, 2);
    assert.match(yamlOut.stderr, /not valid YAML at line \d+, column \d+/);
    assert.doesNotMatch(yamlOut.stderr, /hunter2/);
  });

  it('the process provider keeps run folders 0700 and their files 0600', async () => {
    const { deps, home } = await testDeps();
    const event = await sample('process-flow-run.json');
    (event.flow_run as Record<string, unknown>).id = randomUUID();
    const accepted = await accept(deps, unwrap(event));
    const outcome = await startExecution(accepted.input, { deps });
    assert.equal(outcome.status, 'SUCCEEDED');
    const dir = join(home, 'process', idempotencyKey(accepted.input.flow_run_id));
    assert.equal((await stat(dir)).mode & 0o777, 0o700);
    const files = await readdir(dir);
    assert.ok(files.includes('output.log') && files.includes('result.json'), files.join(','));
    for (const file of files) assert.equal((await stat(join(dir, file))).mode & 0o777, 0o600, file);
  });
});

describe('a prefect.yaml built to exhaust the parser', () => {
  it('a billion-laughs file of nested aliases is refused quickly, saying what to change, exit 2', async () => {
    const lines = ['name: x', 'definitions:', '  a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]'];
    for (let i = 1; i < 10; i++)
      lines.push(
        `  a${i}: &a${i} [${Array(9)
          .fill(`*a${i - 1}`)
          .join(', ')}]`,
      );
    lines.push(
      'deployments:',
      '  - name: d',
      '    entrypoint: f.py:f',
      '    parameters: {x: *a9}',
      '    work_pool: {name: p}',
    );
    const file = join(await tempDir(), 'prefect.yaml');
    await writeFile(file, `${lines.join('\n')}\n`);
    let err = '';
    const started = Date.now();
    const code = await main(['validate', file], { out: () => undefined, err: (t) => (err += t) });
    assert.equal(code, 2);
    assert.match(err, /expands its aliases/);
    assert.ok(Date.now() - started < 5_000);
  });
});
