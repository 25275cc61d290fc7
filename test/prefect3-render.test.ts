// prefect3/render.ts against Prefect's templating (src/prefect/utilities/templating/__init__.py
// and BaseJobConfiguration.from_template_and_values in src/prefect/workers/base.py, PrefectHQ/prefect
// ce79dd3): expected values are what those functions return for the same input.
import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { InvalidInputError } from '../core/errors.js';
import { FolderStore } from '../core/store.js';
import { backtrackingRisk } from '../prefect3/json-schema.js';
import { applyValues, getFromDict, NOT_SET, pythonStr, renderJobConfiguration } from '../prefect3/render.js';
import { defaultTemplate, WORK_POOL_TYPES } from '../prefect3/work-pool.js';
import { BlockStore } from '../providers/block-store.js';
import { ROOT, invalidInput as rejects, tempDir } from './helpers.js';

async function emptyBlocks(): Promise<BlockStore> {
  return new BlockStore(new FolderStore(await tempDir()));
}

function problemPaths(fn: () => unknown): string[] {
  try {
    fn();
  } catch (error) {
    assert.ok(error instanceof InvalidInputError, String(error));
    return error.problems.map((p) => p.path);
  }
  assert.fail('expected an InvalidInputError');
}

test('a whole-string placeholder takes the value with its type; a missing one removes the key and list item', () => {
  const template = {
    a: '{{ a }}',
    b: '{{b}}',
    list: ['{{ a }}', '{{ missing }}', 'x'],
    n: 3,
    t: true,
    z: null,
  };
  assert.deepEqual(applyValues(template, { a: { deep: [1] }, b: 7 }), {
    a: { deep: [1] },
    b: 7,
    list: [{ deep: [1] }, 'x'],
    n: 3,
    t: true,
    z: null,
  });
  assert.equal(applyValues('{{ missing }}', {}), NOT_SET);
});

test('interpolation uses Python str(): True, None, dict repr; missing → ""', () => {
  assert.equal(
    applyValues('x={{ t }} n={{ n }} d={{ d }} l={{ l }} m={{ m }}!', {
      t: true,
      n: null,
      d: { a: 1, b: "it's" },
      l: ['s', false],
    }),
    `x=True n=None d={'a': 1, 'b': "it's"} l=['s', False] m=!`,
  );
  assert.equal(pythonStr(1.5), '1.5');
});

test('dotted and indexed placeholders walk dicts and lists as get_from_dict does', () => {
  const values = { a: { b: [10, { c: 'deep' }] }, d: { '0': 'never' } };
  assert.equal(applyValues('{{ a.b[1].c }}', values), 'deep');
  assert.equal(applyValues('{{ a.b.0 }}', values), 10);
  assert.equal(applyValues('{{ a.b[-1].c }}', values), 'deep');
  // an integer segment never matches a dict key (Python: dict[0] on {'0': …} is a KeyError)
  assert.equal(getFromDict(values, 'd.0'), NOT_SET);
});

test('block and variable placeholders are left for later by apply_values; $ENV is refused naming the place', () => {
  assert.equal(applyValues('{{ prefect.blocks.secret.x }}', {}), '{{ prefect.blocks.secret.x }}');
  assert.equal(applyValues('a {{ prefect.variables.v }} {{ s }}', { s: 1 }), 'a {{ prefect.variables.v }} 1');
  assert.deepEqual(
    problemPaths(() => applyValues({ env: { HOME: 'x{{ $HOME }}' } }, {}, 'job')),
    ['job.env.HOME'],
  );
  assert.deepEqual(
    problemPaths(() => applyValues(['{{ $HOME }}'], {}, 'job')),
    ['job[0]'],
  );
});

test('defaults, env merge and dot-key job variables follow from_template_and_values', async () => {
  const template = {
    job_configuration: {
      env: { BASE: 'b', KEEP: 'k' },
      cmd: '{{ command }}',
      n: '{{ count }}',
      gone: '{{ nothing }}',
    },
    variables: {
      properties: {
        env: { type: 'object', additionalProperties: { type: 'string' }, default: { DEF: 'd' } },
        command: { type: 'string', default: 'run' },
        count: { type: 'integer', default: null },
        nothing: { type: 'string' },
      },
    },
  };
  const config = await renderJobConfiguration(
    template,
    { 'env.FOO': 'f', env: { BASE: 'override' }, count: 3 },
    { blocks: await emptyBlocks(), path: 'work_pool(t)' },
  );
  assert.deepEqual(config, { env: { BASE: 'override', KEEP: 'k', DEF: 'd', FOO: 'f' }, cmd: 'run', n: 3 });
});

test('job variables are checked against the schema, each problem naming job_variables.<var>', async () => {
  const ecs = JSON.parse(await readFile(join(ROOT, 'prefect3', 'templates', 'ecs.json'), 'utf8'));
  const error = await rejects(
    renderJobConfiguration(
      ecs,
      {
        cpu: '1024',
        memory: 1.5,
        launch_type: 'LAMBDA',
        env: { A: 1 },
        capacity_provider_strategy: [{ capacityProvider: 'FARGATE', weight: 'x' }],
        cpuu: 1,
        image: null,
      },
      { blocks: await emptyBlocks(), path: 'work_pool(ecs)' },
    ),
  );
  const byPath = new Map(error.problems.map((p) => [p.path, p.message]));
  assert.match(byPath.get('job_variables.cpu') ?? '', /expected integer, got string/);
  assert.match(byPath.get('job_variables.memory') ?? '', /expected integer, got number 1.5/);
  assert.match(byPath.get('job_variables.launch_type') ?? '', /must be one of "FARGATE"/);
  assert.match(byPath.get('job_variables.env.A') ?? '', /expected string/);
  assert.match(byPath.get('job_variables.capacity_provider_strategy[0].weight') ?? '', /expected integer/);
  assert.match(byPath.get('job_variables.cpuu') ?? '', /did you mean 'cpu'/);
  assert.equal(byPath.has('job_variables.image'), false, 'null is "not set"');
});

test('a variable no schema declares but a custom template reads is accepted', async () => {
  const config = await renderJobConfiguration(
    { job_configuration: { x: '{{ custom }}' }, variables: { properties: {} } },
    { custom: [1] },
    { blocks: await emptyBlocks(), path: 'work_pool(c)' },
  );
  assert.deepEqual(config, { x: [1] });
});

test('prefect.blocks and prefect.variables resolve from the store', async () => {
  const dir = await tempDir();
  const blocks = new BlockStore(new FolderStore(dir));
  await blocks.put('secret/token', { type: 'secret', value: 's3cr3t' });
  await blocks.put('aws-credentials/prod', {
    type: 'aws-credentials',
    region_name: 'eu-west-1',
    _is_anonymous: false,
  });
  await blocks.store.put('variables.json', JSON.stringify({ image_tag: '3.1', n: 2 }));
  const config = await renderJobConfiguration(
    {
      job_configuration: {
        token: '{{ prefect.blocks.secret.token }}',
        creds: '{{ prefect.blocks.aws-credentials.prod }}',
        region: 'r={{ prefect.blocks.aws-credentials.prod.region_name }}',
        image: 'repo:{{ prefect.variables.image_tag }}',
        n: '{{ prefect.variables.n }}',
        missing: '{{ prefect.variables.nope }}',
        via_job_variable: '{{ creds }}',
      },
      variables: { properties: { creds: { type: 'string' } } },
    },
    { creds: '{{ prefect.blocks.secret.token }}' },
    { blocks, path: 'work_pool(b)' },
  );
  assert.deepEqual(config, {
    token: 's3cr3t',
    creds: { region_name: 'eu-west-1' },
    region: 'r=eu-west-1',
    image: 'repo:3.1',
    n: 2,
    missing: '',
    via_job_variable: 's3cr3t',
  });
  const inline = await rejects(
    renderJobConfiguration(
      { job_configuration: { a: 'x{{ prefect.blocks.aws-credentials.prod }}' }, variables: {} },
      {},
      { blocks, path: 'work_pool(b)' },
    ),
  );
  assert.equal(inline.problems[0]?.path, 'work_pool(b).job_configuration.a');
  const byId = await rejects(
    renderJobConfiguration(
      { job_configuration: { a: { $ref: { block_document_id: 'abc' } } }, variables: {} },
      {},
      { blocks, path: 'work_pool(b)' },
    ),
  );
  assert.match(byId.problems[0]?.message ?? '', /prefect\.blocks\.TYPE\.NAME/);
});

test('each shipped default template (with its additions) renders with no job variables to a config without placeholders', async () => {
  const dir = join(ROOT, 'prefect3', 'templates');
  const files = (await readdir(dir)).filter((f) => f.endsWith('.json') && f !== 'additions.json');
  assert.deepEqual(files.map((f) => f.replace(/\.json$/, '')).sort(), [...WORK_POOL_TYPES].sort());
  for (const type of WORK_POOL_TYPES) {
    const blocks = await emptyBlocks();
    const config = await renderJobConfiguration(
      defaultTemplate(type, 'work_pool'),
      {},
      { blocks, path: `work_pool(${type})`, ignoreRequired: true },
    );
    assert.doesNotMatch(JSON.stringify(config), /\{\{/, type);
  }
});

test('a required job variable that is missing is named', async () => {
  const aci = JSON.parse(
    await readFile(join(ROOT, 'prefect3', 'templates', 'azure-container-instance.json'), 'utf8'),
  );
  const error = await rejects(
    renderJobConfiguration(aci, {}, { blocks: await emptyBlocks(), path: 'work_pool(aci)' }),
  );
  assert.deepEqual(error.problems.map((p) => p.path).sort(), [
    'job_variables.resource_group_name',
    'job_variables.subscription_id',
  ]);
});

test('hostile job variables are refused before any work', async () => {
  const error = await rejects(
    renderJobConfiguration({ job_configuration: {}, variables: {} }, JSON.parse('{"__proto__": 1}'), {
      blocks: await emptyBlocks(),
      path: 'work_pool(h)',
    }),
  );
  assert.match(error.problems[0]?.path ?? '', /job_variables/);
});

test('a block or variable given as a job variable is resolved before the schema check, as `prefect deploy` does', async () => {
  const blocks = await emptyBlocks();
  await blocks.put('aws-credentials/prod', { type: 'aws-credentials', region_name: 'eu-west-1' });
  await blocks.store.put('variables.json', JSON.stringify({ image_tag: '2.0.1' }));
  const template = {
    job_configuration: { aws_credentials: '{{ aws_credentials }}', image: 'example/etl:{{ tag }}' },
    variables: {
      type: 'object',
      properties: { aws_credentials: { type: 'object' }, tag: { type: 'string' } },
    },
  };
  const config = await renderJobConfiguration(
    template,
    {
      aws_credentials: '{{ prefect.blocks.aws-credentials.prod }}',
      tag: '{{ prefect.variables.image_tag }}',
    },
    { blocks, path: 'work_pool(p)' },
  );
  assert.deepEqual(config, { aws_credentials: { region_name: 'eu-west-1' }, image: 'example/etl:2.0.1' });
});

test('a pattern that can backtrack exponentially is refused, not run; the shipped patterns are fine', async () => {
  const started = Date.now();
  const template = {
    job_configuration: { command: '{{ x }}' },
    variables: { type: 'object', properties: { x: { type: 'string', pattern: '(a+)+$' } } },
  };
  const error = await rejects(
    renderJobConfiguration(
      template,
      { x: `${'a'.repeat(40)}!` },
      { blocks: await emptyBlocks(), path: 'work_pool' },
    ),
  );
  assert.equal(error.problems[0]?.path, 'job_variables.x');
  assert.match(error.problems[0]?.message ?? '', /exponential time/);
  assert.ok(Date.now() - started < 2_000, 'refused before matching');
  for (const [pattern, risky] of [
    ['^\\d+(?:G|Gi|M|Mi)$', false],
    ['^(\\d*000)m$', false],
    ['^(foo|bar)?$', false],
    ['[(a+)+]', false],
    ['(a|ab)*c', true],
    ['((ab)*)+', true],
    ['(\\w)\\1', true],
  ] as const) {
    assert.equal(backtrackingRisk(pattern) !== undefined, risky, pattern);
  }
});

test('a small template cannot expand a large value without bound', async () => {
  const big = 'x'.repeat(300_000);
  const template = {
    job_configuration: { env: { A: `{{ v }}{{ v }}{{ v }}{{ v }}` } },
    variables: { type: 'object', properties: { v: { type: 'string' } } },
  };
  const error = await rejects(
    renderJobConfiguration(template, { v: big }, { blocks: await emptyBlocks(), path: 'work_pool' }),
  );
  assert.equal(error.problems[0]?.path, 'work_pool.job_configuration.env.A');
  assert.match(error.problems[0]?.message ?? '', /more than 1048576 characters/);
  const many = {
    job_configuration: {
      env: Object.fromEntries(Array.from({ length: 20 }, (_, i) => [`E${i}`, 'a{{ v }}'])),
    },
    variables: template.variables,
  };
  const total = await rejects(
    renderJobConfiguration(many, { v: big }, { blocks: await emptyBlocks(), path: 'work_pool' }),
  );
  assert.match(total.problems[0]?.message ?? '', /characters in all/);
});
