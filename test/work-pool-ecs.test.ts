// The Prefect 3 `ecs` work pool end to end: base job template + job variables → renderJobConfiguration
// → workPool.toBlock → parseBlock → the ECS build, against the RegisterTaskDefinition and RunTask
// bodies Prefect's ECS worker sends for the same job configuration. Each expected body is derived
// by hand from src/integrations/prefect-aws/prefect_aws/workers/ecs_worker.py
// (_prepare_task_definition, _prepare_task_run_request) and src/prefect/workers/base.py
// (prepare_for_flow_run) at PrefectHQ/prefect ce79dd3; the steps are noted beside the values.
// What the submitter does differently by design (content-hashed family and its tags, essential,
// a Fargate memory reservation, count/startedBy/clientToken, subnets looked up at submit, the
// flow-run id's form) is taken out by `ours*` below and asserted there, so nothing else can differ.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { RegisterTaskDefinitionCommandInput } from '@aws-sdk/client-ecs';
import { FolderStore } from '../core/store.js';
import { type FlowRun, flowRunHex } from '../events/schema.js';
import { renderJobConfiguration } from '../prefect3/render.js';
import { defaultTemplate } from '../prefect3/work-pool.js';
import { BlockStore } from '../providers/block-store.js';
import { buildEcsRequest, type EcsRequest } from '../providers/ecs-task/build.js';
import { ecsTaskSpec } from '../providers/ecs-task/spec.js';
import { workPool } from '../providers/ecs-task/work-pool.js';
import { invalidInput, problemMap, tempDir } from './helpers.js';
import { poolBlock } from './support/pools.js';

const FLOW_RUN: FlowRun = {
  id: '0b3b3c3e-0000-4000-8000-000000000001',
  name: 'nightly',
  parameters: {},
  tags: [],
};
const POOL = 'work_pool(ecs-pool)';
const CONTEXT = { flowRun: FLOW_RUN, path: `${POOL}.job_configuration` };
const EXEC_ROLE = 'arn:aws:iam::123456789012:role/ecs-exec';
const TASK_ROLE = 'arn:aws:iam::123456789012:role/flows';

/** The default template a `{"type": "ecs"}` pool renders (with the worker's newer variables). */
async function ecsTemplate(): Promise<
  Record<string, unknown> & { job_configuration: Record<string, unknown> }
> {
  const template = defaultTemplate('ecs', 'work_pool');
  const { job_configuration: jobConfiguration } = template;
  assert.ok(
    typeof jobConfiguration === 'object' && jobConfiguration !== null && !Array.isArray(jobConfiguration),
  );
  return { ...template, job_configuration: { ...jobConfiguration } };
}

function requestOf(template: Record<string, unknown>): Record<string, unknown> {
  const config = template.job_configuration as Record<string, unknown>;
  return config.task_run_request as Record<string, unknown>;
}

async function blockStore(): Promise<BlockStore> {
  const blocks = new BlockStore(new FolderStore(await tempDir()));
  await blocks.put('aws-credentials/prod', {
    type: 'aws-credentials',
    region_name: 'eu-west-1',
    aws_access_key_id: 'AKIAEXAMPLE',
    aws_secret_access_key: 'example-secret',
    _is_anonymous: false,
  });
  return blocks;
}

/** The pool the trigger's path renders (`work_pool(ecs-pool)`). */
const pool = (template: Record<string, unknown>) => ({
  name: 'ecs-pool',
  type: 'ecs',
  base_job_template: template,
});

/** Render → the adapter alone, for the adapter's own refusals. */
async function toBlock(template: Record<string, unknown>, variables: Record<string, unknown>) {
  const config = await renderJobConfiguration(template, variables, {
    blocks: await blockStore(),
    path: POOL,
  });
  return workPool.toBlock(config, CONTEXT);
}

async function built(
  template: Record<string, unknown>,
  variables: Record<string, unknown>,
  env: NodeJS.ProcessEnv = {},
): Promise<EcsRequest> {
  const block = await poolBlock(await blockStore(), pool(template), variables, FLOW_RUN);
  assert.equal(block.type, 'ecs-task');
  if (block.type !== 'ecs-task') throw new Error('unreachable');
  return buildEcsRequest({ block, flowRun: FLOW_RUN }, env);
}

async function refusal(promise: Promise<unknown>): Promise<Map<string, string>> {
  return problemMap(await invalidInput(promise));
}

/** The registered definition with the submitter's own additions checked and taken out. */
function oursDefinition(
  definition: Readonly<RegisterTaskDefinitionCommandInput> | null,
  family: string,
  fargate: boolean,
  own = 'prefect',
): Omit<RegisterTaskDefinitionCommandInput, 'family' | 'tags'> {
  assert.ok(definition);
  // a mutable copy of the frozen definition
  const { family: hashed, tags, ...rest } = structuredClone(definition) as RegisterTaskDefinitionCommandInput;
  const hash = /^(.*)__([0-9a-f]{12})$/.exec(hashed ?? '');
  assert.equal(hash?.[1], family, "the family is the worker's, with the content hash appended");
  assert.deepEqual(tags, [
    { key: 'managed-by', value: 'flow-run-submitter' },
    { key: 'submitter.io/definition-hash', value: hash?.[2] },
  ]);
  const mine = rest.containerDefinitions?.find((container) => container.name === own);
  assert.ok(mine, `no container '${own}'`);
  // ECS defaults essential to true; the submitter says so for the container it runs the flow in
  assert.equal(mine.essential, true);
  delete mine.essential;
  for (const container of [mine]) {
    if (fargate && container.memory === undefined) {
      // moto needs a container-level size; the task's memory is the whole of it on Fargate
      assert.equal(container.memoryReservation, Number(rest.memory));
      delete container.memoryReservation;
    }
  }
  return rest;
}

type Pair = { name?: string | undefined; key?: string | undefined; value?: string | undefined };
const byName = (a: Pair, b: Pair) => ((a.name ?? a.key ?? '') < (b.name ?? b.key ?? '') ? -1 : 1);

/**
 * The RunTask input with the submitter's additions checked and taken out; env and tags sorted
 * (ECS reads neither in order). The flow-run env var and tags are checked here: Prefect writes
 * the dashed id where the submitter writes its hex (the engine reads both), and adds tags for its
 * version, deployment and work pool, which a job configuration does not hold.
 */
function oursRunTask(request: EcsRequest, family: string | undefined, container = 'prefect') {
  const { count, startedBy, clientToken, taskDefinition, ...rest } = structuredClone(request.runTask);
  const key = `prefect-${flowRunHex(FLOW_RUN.id)}`;
  assert.deepEqual({ count, startedBy, clientToken }, { count: 1, startedBy: key, clientToken: key });
  assert.equal(taskDefinition, family ?? request.taskDefinition?.family);
  const own = rest.overrides?.containerOverrides?.find((override) => override.name === container);
  assert.ok(own?.environment);
  const id = own.environment.find((pair) => pair.name === 'PREFECT__FLOW_RUN_ID');
  assert.equal(id?.value, flowRunHex(FLOW_RUN.id));
  own.environment = own.environment.filter((pair) => pair !== id).sort(byName);
  const flowRunTags = [
    { key: 'prefect.io/flow-run-id', value: FLOW_RUN.id },
    { key: 'prefect.io/flow-run-name', value: 'nightly' },
  ];
  for (const tag of flowRunTags)
    assert.ok(rest.tags?.some((t) => t.key === tag.key && t.value === tag.value));
  rest.tags = rest.tags?.filter((t) => !t.key?.startsWith('prefect.io/flow-run-')).sort(byName);
  return rest;
}

test('typical job variables on a customised template: the definition and RunTask the worker would send', async () => {
  const template = await ecsTemplate();
  // what users customise: credentials from a block, fixed tags and extra RunTask fields
  template.job_configuration.aws_credentials = '{{ prefect.blocks.aws-credentials.prod }}';
  Object.assign(requestOf(template), {
    tags: [{ key: 'cost-center', value: '42' }],
    enableExecuteCommand: true,
    platformVersion: '1.4.0',
  });
  const variables = {
    image: 'registry.example.com/flows:1.2',
    cpu: 2048,
    memory: 4096,
    env: { GREETING: 'hi' },
    labels: { team: 'data' },
    cluster: 'prod',
    vpc_id: 'vpc-0abc',
    family: 'nightly',
    execution_role_arn: EXEC_ROLE,
    task_role_arn: TASK_ROLE,
    configure_cloudwatch_logs: true,
    cloudwatch_logs_prefix: 'nightly-logs',
    command: 'python -m flows.nightly --date "2026-12-02"',
  };
  const block = await poolBlock(await blockStore(), pool(template), variables, FLOW_RUN);
  assert.ok(block.type === 'ecs-task');
  assert.equal(
    block.aws_credentials.region_name,
    'eu-west-1',
    'the block placeholder resolved from the store',
  );
  assert.equal(block.aws_credentials.aws_access_key_id, 'AKIAEXAMPLE');
  const request = ecsTaskSpec.build({ block, flowRun: FLOW_RUN });

  // _prepare_task_definition: the unnamed container is named `prefect` (container_name unset and
  // none named so), the Fargate launch type puts cpu/memory as strings at task level, FARGATE in
  // requiresCompatibilities and networkMode awsvpc; logs: awslogs with the client's region and
  // cloudwatch_logs_prefix as the stream prefix.
  assert.deepEqual(oursDefinition(request.taskDefinition, 'nightly', true), {
    containerDefinitions: [
      {
        image: 'registry.example.com/flows:1.2',
        name: 'prefect',
        logConfiguration: {
          logDriver: 'awslogs',
          options: {
            'awslogs-create-group': 'true',
            'awslogs-group': 'prefect',
            'awslogs-region': 'eu-west-1',
            'awslogs-stream-prefix': 'nightly-logs',
          },
        },
      },
    ],
    cpu: '2048',
    memory: '4096',
    executionRoleArn: EXEC_ROLE,
    requiresCompatibilities: ['FARGATE'],
    networkMode: 'awsvpc',
  });

  // _prepare_task_run_request: the rendered request, the container override named and its command
  // split (command_from_string), env as name/value pairs, overrides cpu/memory as strings (the
  // container's stay integers), the template's tags then the labels, awsvpc → the VPC's subnets
  // with assignPublicIp ENABLED and securityGroups [] (ECS then takes the VPC's default group,
  // which the submitter names explicitly after looking it up).
  assert.deepEqual(oursRunTask(request, undefined), {
    launchType: 'FARGATE',
    cluster: 'prod',
    overrides: {
      containerOverrides: [
        {
          name: 'prefect',
          command: ['python', '-m', 'flows.nightly', '--date', '2026-12-02'],
          environment: [{ name: 'GREETING', value: 'hi' }],
          cpu: 2048,
          memory: 4096,
        },
      ],
      cpu: '2048',
      memory: '4096',
      taskRoleArn: TASK_ROLE,
    },
    tags: [
      { key: 'cost-center', value: '42' },
      { key: 'team', value: 'data' },
    ],
    enableExecuteCommand: true,
    platformVersion: '1.4.0',
    networkConfiguration: {
      awsvpcConfiguration: { subnets: [], securityGroups: [], assignPublicIp: 'ENABLED' },
    },
  });
  assert.deepEqual(request.lookups, {
    subnets: 'all subnets of VPC vpc-0abc',
    securityGroups: 'the default security group of VPC vpc-0abc',
  });
});

test("the default template with no job variables renders and builds the worker's default task", async () => {
  const request = await built(await ecsTemplate(), {});
  // _prepare_task_definition on {containerDefinitions: [{}]}: the empty container dropped, a
  // `prefect` container appended with the worker's image, Fargate defaults 1024/2048; the family
  // the worker generates (prefect_<pool>_<deployment>) is the submitter's `prefect` + hash.
  assert.deepEqual(oursDefinition(request.taskDefinition, 'prefect', true), {
    containerDefinitions: [{ name: 'prefect', image: 'prefecthq/prefect:3-latest' }],
    cpu: '1024',
    memory: '2048',
    requiresCompatibilities: ['FARGATE'],
    networkMode: 'awsvpc',
  });
  // launchType FARGATE (the variable's default), the container override named `prefect` with the
  // base command `prefect flow-run execute`, the default VPC's subnets with a public IP.
  assert.deepEqual(oursRunTask(request, undefined), {
    launchType: 'FARGATE',
    overrides: {
      containerOverrides: [{ name: 'prefect', command: ['prefect', 'flow-run', 'execute'], environment: [] }],
    },
    tags: [],
    networkConfiguration: {
      awsvpcConfiguration: { subnets: [], securityGroups: [], assignPublicIp: 'ENABLED' },
    },
  });
  assert.deepEqual(request.lookups, {
    subnets: 'all subnets of the default VPC',
    securityGroups: 'the default security group of the default VPC',
  });
});

test('EC2: the container gets the task size, no awsvpc network unless the definition asks for it', async () => {
  const request = await built(await ecsTemplate(), {
    launch_type: 'EC2',
    cpu: 512,
    memory: 1024,
    image: 'busybox:1.36',
    container_name: 'flow',
  });
  // non-Fargate: container.setdefault(cpu/memory, task level as int); task level kept as strings;
  // no networkMode → bridge → no network configuration. The submitter also writes
  // requiresCompatibilities ["EC2"], which the worker leaves out (ECS takes EC2 without it).
  const definition = oursDefinition(request.taskDefinition, 'prefect', false, 'flow');
  assert.deepEqual(definition.requiresCompatibilities, ['EC2']);
  delete definition.requiresCompatibilities;
  assert.deepEqual(definition, {
    containerDefinitions: [{ image: 'busybox:1.36', name: 'flow', cpu: 512, memory: 1024 }],
    cpu: '512',
    memory: '1024',
  });
  assert.deepEqual(oursRunTask(request, undefined, 'flow'), {
    launchType: 'EC2',
    overrides: {
      containerOverrides: [
        {
          name: 'flow',
          command: ['prefect', 'flow-run', 'execute'],
          environment: [],
          cpu: 512,
          memory: 1024,
        },
      ],
      cpu: '512',
      memory: '1024',
    },
    tags: [],
  });
});

test('an existing definition (task_definition_arn): RunTask only, cpu/memory as overrides; the image is refused', async () => {
  const arn = 'arn:aws:ecs:eu-west-1:123456789012:task-definition/flows:7';
  const request = await built(await ecsTemplate(), { task_definition_arn: arn, cpu: 2048, memory: 4096 });
  // _prepare_and_create_task: taskDefinition given → no definition registered; the request as rendered
  assert.equal(request.taskDefinition, null);
  assert.deepEqual(oursRunTask(request, arn), {
    launchType: 'FARGATE',
    overrides: {
      containerOverrides: [
        {
          name: 'prefect',
          command: ['prefect', 'flow-run', 'execute'],
          environment: [],
          cpu: 2048,
          memory: 4096,
        },
      ],
      cpu: '2048',
      memory: '4096',
    },
    tags: [],
    networkConfiguration: {
      awsvpcConfiguration: { subnets: [], securityGroups: [], assignPublicIp: 'ENABLED' },
    },
  });
  // the worker ignores the image then (a warning); the submitter says so instead
  const problems = await refusal(
    toBlock(await ecsTemplate(), { task_definition_arn: arn, image: 'busybox' }),
  );
  assert.match(
    problems.get(`${POOL}.job_configuration.task_definition.containerDefinitions`) ?? '',
    /existing definition/,
  );
});

test('prefect_api_key_secret_arn becomes the container secret PREFECT_API_KEY, not an env value', async () => {
  const template = await ecsTemplate();
  const secretArn = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:prefect-api-key';
  template.job_configuration.prefect_api_key_secret_arn = '{{ prefect_api_key_secret_arn }}';
  const variables = template.variables as { properties: Record<string, unknown> };
  variables.properties.prefect_api_key_secret_arn = { type: 'string' };
  const request = await built(template, {
    prefect_api_key_secret_arn: secretArn,
    execution_role_arn: EXEC_ROLE,
  });
  // _prepare_task_definition: secrets [{name: PREFECT_API_KEY, valueFrom}] on the Prefect container
  const definition = oursDefinition(request.taskDefinition, 'prefect', true);
  assert.deepEqual(definition.containerDefinitions, [
    {
      name: 'prefect',
      image: 'prefecthq/prefect:3-latest',
      secrets: [{ name: 'PREFECT_API_KEY', valueFrom: secretArn }],
    },
  ]);
  const env = request.runTask.overrides?.containerOverrides?.[0]?.environment ?? [];
  assert.equal(
    env.some((pair) => pair.name === 'PREFECT_API_KEY'),
    false,
  );
});

test('FARGATE_SPOT becomes the FARGATE_SPOT capacity provider with no launch type', async () => {
  const request = await built(await ecsTemplate(), { launch_type: 'FARGATE_SPOT' });
  assert.equal(request.runTask.launchType, undefined);
  assert.deepEqual(request.runTask.capacityProviderStrategy, [
    { capacityProvider: 'FARGATE_SPOT', weight: 1 },
  ]);
  assert.deepEqual(request.taskDefinition?.requiresCompatibilities, ['FARGATE']);
});

test('a bad job variable is refused naming job_variables.<var>', async () => {
  const problems = await refusal(toBlock(await ecsTemplate(), { cpu: '1024', launch_type: 'LAMBDA' }));
  assert.match(problems.get('job_variables.cpu') ?? '', /expected integer/);
  assert.match(problems.get('job_variables.launch_type') ?? '', /must be one of/);
});

test('what the submitter cannot express is refused, each naming its field', async () => {
  const template = await ecsTemplate();
  Object.assign(template.job_configuration.task_definition as Record<string, unknown>, {
    tags: [{ key: 'a', value: 'b' }],
  });
  Object.assign(requestOf(template), { startedBy: 'me' });
  template.job_configuration.unknown_field = 'x';
  const unknown = await refusal(toBlock(template, {}));
  assert.match(unknown.get(`${POOL}.job_configuration.unknown_field`) ?? '', /does not act on/);

  delete template.job_configuration.unknown_field;
  const problems = await refusal(
    toBlock(template, {
      network_configuration: { subnets: ['subnet-1'] },
      cloudwatch_logs_options: { a: 'b' },
    }),
  );
  const at = (field: string) => problems.get(`${POOL}.job_configuration.${field}`) ?? '';
  assert.match(at('task_definition.tags'), /labels/);
  assert.match(at('task_run_request.startedBy'), /idempotency key/);
  assert.match(at('network_configuration'), /vpc_id/);
  assert.match(at('cloudwatch_logs_options'), /configure_cloudwatch_logs/);
  assert.equal(problems.size, 4, JSON.stringify([...problems]));
});

test('a sidecar, its override, a custom network and a capacity provider strategy: all sent as the worker sends them', async () => {
  const template = await ecsTemplate();
  const definition = template.job_configuration.task_definition as Record<string, unknown>;
  definition.containerDefinitions = [
    { name: 'log-router', image: 'fluent/fluent-bit:3' },
    {
      image: '{{ image }}',
      name: '{{ container_name }}',
      environment: [{ name: 'FROM_DEFINITION', value: '1' }],
    },
  ];
  const overrides = requestOf(template).overrides as { containerOverrides: unknown[] };
  overrides.containerOverrides.unshift({ name: 'log-router', environment: { LEVEL: 'debug' } });
  requestOf(template).propagateTags = 'TASK_DEFINITION';
  // the job variables' env merges over a template's env object; Prefect 3 then drops null values
  // (prepare_for_flow_run), so this neither unsets FROM_DEFINITION nor is sent
  template.job_configuration.env = { FROM_DEFINITION: null };
  const request = await built(template, {
    image: 'flows:2',
    container_name: 'flow',
    env: { GREETING: 'hi' },
    vpc_id: 'vpc-0abc',
    network_configuration: { subnets: ['subnet-1'], securityGroups: ['sg-1'] },
    capacity_provider_strategy: [{ capacityProvider: 'FARGATE', weight: 1, base: 1 }],
  });
  // _prepare_task_definition: container_name names the second container; the definition's own
  // environment stays (no null values are left to unset it)
  assert.deepEqual(oursDefinition(request.taskDefinition, 'prefect', true, 'flow'), {
    containerDefinitions: [
      { name: 'log-router', image: 'fluent/fluent-bit:3' },
      { image: 'flows:2', name: 'flow', environment: [{ name: 'FROM_DEFINITION', value: '1' }] },
    ],
    cpu: '1024',
    memory: '2048',
    requiresCompatibilities: ['FARGATE'],
    networkMode: 'awsvpc',
  });
  // _prepare_task_run_request: the strategy drops launchType; the sidecar's override keeps its
  // place with its env as pairs; network_configuration with vpc_id is the awsvpcConfiguration as
  // given (the submitter adds assignPublicIp DISABLED, which is ECS's default when it is left out)
  assert.deepEqual(oursRunTask(request, undefined, 'flow'), {
    capacityProviderStrategy: [{ capacityProvider: 'FARGATE', weight: 1, base: 1 }],
    overrides: {
      containerOverrides: [
        { name: 'log-router', environment: [{ name: 'LEVEL', value: 'debug' }] },
        {
          name: 'flow',
          command: ['prefect', 'flow-run', 'execute'],
          environment: [{ name: 'GREETING', value: 'hi' }],
        },
      ],
    },
    tags: [],
    propagateTags: 'TASK_DEFINITION',
    networkConfiguration: {
      awsvpcConfiguration: { subnets: ['subnet-1'], securityGroups: ['sg-1'], assignPublicIp: 'DISABLED' },
    },
  });
  assert.deepEqual(request.lookups, {});
});

test('a task definition named by family, role-assuming credentials and EC2-only network settings are refused', async () => {
  const template = await ecsTemplate();
  template.job_configuration.aws_credentials = {
    region_name: 'eu-west-1',
    assume_role_arn: 'arn:aws:iam::1:role/x',
  };
  const problems = await refusal(toBlock(template, { task_definition_arn: 'flows:7' }));
  const at = (field: string) => problems.get(`${POOL}.job_configuration.${field}`) ?? '';
  assert.match(at('task_run_request.taskDefinition'), /expected a task definition ARN/);
  assert.match(at('aws_credentials.assume_role_arn'), /not supported/);

  // EC2 in bridge mode (no networkMode): the worker ignores vpc_id; the submitter says so
  const bridge = await refusal(toBlock(await ecsTemplate(), { launch_type: 'EC2', vpc_id: 'vpc-0abc' }));
  assert.match(bridge.get(`${POOL}.job_configuration.vpc_id`) ?? '', /awsvpc/);

  // ECSJobConfiguration.at_least_one_container_is_essential
  const inessential = await ecsTemplate();
  const definition = inessential.job_configuration.task_definition as { containerDefinitions: object[] };
  definition.containerDefinitions = [{ image: '{{ image }}', essential: false }];
  const none = await refusal(toBlock(inessential, {}));
  assert.match(none.get(`${POOL}.job_configuration.task_definition.containerDefinitions`) ?? '', /essential/);
});
