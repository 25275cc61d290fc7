// The ECS provider's pure half: block + flow run → RegisterTaskDefinition and RunTask inputs.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { main } from '../cli/main.js';
import { InvalidInputError } from '../core/errors.js';
import { redact } from '../core/secrets.js';
import type { FlowRun } from '../events/schema.js';
import { parseBlock } from '../providers/blocks.js';
import { AwsCredentialsSchema, type EcsTaskBlock } from '../providers/ecs-task/block.js';
import { buildEcsRequest } from '../providers/ecs-task/build.js';
import {
  buildTaskDefinition,
  composeTaskDefinition,
  hashOfFamily,
} from '../providers/ecs-task/definition.js';
import { formatIdentifier } from '../providers/ecs-task/identifier.js';
import { EcsHandleSchema } from '../providers/ecs-task/index.js';
import { ecsTaskSpec } from '../providers/ecs-task/spec.js';
import { SAMPLES, tempDir } from './helpers.js';

const FLOW_RUN: FlowRun = {
  id: '0b3b3c3e-0000-4000-8000-000000000001',
  name: 'nightly',
  parameters: {},
  tags: [],
};
const ENV = { AWS_REGION: 'eu-west-1' };

function ecsBlock(fields: Record<string, unknown> = {}): EcsTaskBlock {
  const block = parseBlock({ type: 'ecs-task', image: 'busybox:1.36', ...fields });
  assert.ok(block.type === 'ecs-task');
  return block;
}

function build(fields: Record<string, unknown> = {}, flowRun: FlowRun = FLOW_RUN) {
  return buildEcsRequest({ block: ecsBlock(fields), flowRun }, ENV);
}

function problemAt(fn: () => unknown, path: string, pattern: RegExp): InvalidInputError {
  try {
    fn();
  } catch (error) {
    assert.ok(error instanceof InvalidInputError, `expected InvalidInputError, got ${String(error)}`);
    const problem = error.problems.find((p) => p.path === path);
    assert.ok(problem, `no problem at ${path}: ${JSON.stringify(error.problems)}`);
    assert.match(problem.message, pattern);
    return error;
  }
  assert.fail('expected an InvalidInputError');
}

describe('ecs-task build: launch types', () => {
  it('Fargate: task-level cpu/memory strings, FARGATE compatibility, awsvpc, env and command as overrides', () => {
    const { taskDefinition, runTask } = build({ env: { GREETING: 'hi' }, command: ['python', 'flow.py'] });
    assert.ok(taskDefinition);
    assert.equal(taskDefinition.cpu, '1024');
    assert.equal(taskDefinition.memory, '2048');
    assert.deepEqual(taskDefinition.requiresCompatibilities, ['FARGATE']);
    assert.equal(taskDefinition.networkMode, 'awsvpc');
    const container = taskDefinition.containerDefinitions?.[0];
    assert.equal(container?.name, 'prefect');
    assert.equal(container?.image, 'busybox:1.36');
    assert.equal(container?.essential, true);
    assert.equal(container?.cpu, undefined, 'no container-level cpu on Fargate');
    assert.equal(
      container?.memoryReservation,
      2048,
      'a container reservation (moto needs one; valid on AWS)',
    );
    assert.equal(container?.environment, undefined, 'env is not baked into the definition');
    assert.equal(runTask.launchType, 'FARGATE');
    assert.equal(runTask.taskDefinition, taskDefinition.family);
    assert.equal(runTask.count, 1);
    assert.deepEqual(runTask.overrides?.containerOverrides, [
      {
        name: 'prefect',
        command: ['python', 'flow.py'],
        environment: [
          { name: 'GREETING', value: 'hi' },
          { name: 'PREFECT__FLOW_RUN_ID', value: '0b3b3c3e000040008000000000000001' },
        ],
      },
    ]);
    assert.equal(runTask.startedBy, 'prefect-0b3b3c3e000040008000000000000001');
    assert.equal(runTask.clientToken, runTask.startedBy);
    assert.ok((runTask.clientToken ?? '').length <= 64);
  });

  it('EC2: container-level cpu and memory, EC2 compatibility, bridge network unless one is given', () => {
    const { taskDefinition, runTask } = build({ launch_type: 'EC2', cpu: 512, memory: 1000 });
    assert.ok(taskDefinition);
    assert.equal(taskDefinition.cpu, undefined);
    assert.equal(taskDefinition.memory, undefined);
    assert.deepEqual(taskDefinition.requiresCompatibilities, ['EC2']);
    assert.equal(taskDefinition.networkMode, undefined);
    assert.equal(taskDefinition.containerDefinitions?.[0]?.cpu, 512);
    assert.equal(taskDefinition.containerDefinitions?.[0]?.memory, 1000);
    assert.equal(runTask.launchType, 'EC2');
    assert.equal(runTask.networkConfiguration, undefined);

    const withVpc = build({ launch_type: 'EC2', vpc_id: 'vpc-1' });
    assert.equal(withVpc.taskDefinition?.networkMode, 'awsvpc');
    const vpcConfig = withVpc.runTask.networkConfiguration?.awsvpcConfiguration;
    assert.equal(vpcConfig?.assignPublicIp, undefined, 'EC2 tasks take no assignPublicIp');
    assert.deepEqual(withVpc.lookups, {
      subnets: 'all subnets of VPC vpc-1',
      securityGroups: 'the default security group of VPC vpc-1',
    });
  });

  it('EXTERNAL: EXTERNAL compatibility and no network configuration', () => {
    const { taskDefinition, runTask } = build({ launch_type: 'EXTERNAL' });
    assert.deepEqual(taskDefinition?.requiresCompatibilities, ['EXTERNAL']);
    assert.equal(runTask.launchType, 'EXTERNAL');
    assert.equal(runTask.networkConfiguration, undefined);
  });

  it('FARGATE_SPOT becomes a capacity provider strategy; an explicit strategy wins', () => {
    const spot = build({ launch_type: 'FARGATE_SPOT' });
    assert.equal(spot.runTask.launchType, undefined);
    assert.deepEqual(spot.runTask.capacityProviderStrategy, [
      { capacityProvider: 'FARGATE_SPOT', weight: 1 },
    ]);
    assert.deepEqual(spot.taskDefinition?.requiresCompatibilities, ['FARGATE']);
    const strategy = [
      { capacityProvider: 'FARGATE', base: 1, weight: 1 },
      { capacityProvider: 'FARGATE_SPOT', weight: 3 },
    ];
    const mixed = build({ capacity_provider_strategy: strategy });
    assert.equal(mixed.runTask.launchType, undefined);
    assert.deepEqual(mixed.runTask.capacityProviderStrategy, strategy);
  });

  it('refuses Fargate sizes AWS would refuse, naming the valid memory', () => {
    problemAt(
      () => build({ cpu: 1024, memory: 1024 }),
      'infrastructure.memory',
      /cpu 1024 takes memory 2048–8192/,
    );
    problemAt(() => build({ cpu: 300 }), 'infrastructure.memory', /Fargate takes cpu 256, 512/);
    assert.equal(build({ cpu: 256, memory: 512 }).taskDefinition?.memory, '512');
  });
});

describe('ecs-task build: network defaults', () => {
  it('no subnets and no VPC: the default VPC, looked up at submit, with a public IP (it has no NAT)', () => {
    const { runTask, lookups } = build();
    assert.deepEqual(runTask.networkConfiguration, {
      awsvpcConfiguration: { subnets: [], securityGroups: [], assignPublicIp: 'ENABLED' },
    });
    assert.deepEqual(lookups, {
      subnets: 'all subnets of the default VPC',
      securityGroups: 'the default security group of the default VPC',
    });
  });

  it('given subnets: no public IP unless asked for, and only the security group is looked up', () => {
    const { runTask, lookups } = build({ network_configuration: { subnets: ['subnet-a'] } });
    assert.deepEqual(runTask.networkConfiguration?.awsvpcConfiguration, {
      subnets: ['subnet-a'],
      securityGroups: [],
      assignPublicIp: 'DISABLED',
    });
    assert.deepEqual(lookups, { securityGroups: "the default security group of the subnets' VPC" });
    const asked = build({
      network_configuration: { subnets: ['subnet-a'], securityGroups: ['sg-1'], assignPublicIp: 'ENABLED' },
    });
    assert.equal(asked.runTask.networkConfiguration?.awsvpcConfiguration?.assignPublicIp, 'ENABLED');
    assert.deepEqual(asked.lookups, {});
  });
});

describe("ecs-task build: the deployment's defaults (ECS_CLUSTER, ECS_SUBNETS, ECS_SECURITY_GROUPS)", () => {
  const DEPLOYED = {
    ...ENV,
    ECS_CLUSTER: 'arn:aws:ecs:eu-west-1:123456789012:cluster/prefect-runs',
    ECS_SUBNETS: 'subnet-d1, subnet-d2',
    ECS_SECURITY_GROUPS: 'sg-d1',
  };
  const deployed = (fields: Record<string, unknown> = {}, env: NodeJS.ProcessEnv = DEPLOYED) =>
    buildEcsRequest({ block: ecsBlock(fields), flowRun: FLOW_RUN }, env);

  it('fill a block that names no cluster and no network: nothing left to look up, no public IP', () => {
    const { runTask, lookups } = deployed();
    assert.equal(runTask.cluster, DEPLOYED.ECS_CLUSTER);
    assert.deepEqual(runTask.networkConfiguration?.awsvpcConfiguration, {
      subnets: ['subnet-d1', 'subnet-d2'],
      securityGroups: ['sg-d1'],
      assignPublicIp: 'DISABLED',
    });
    assert.deepEqual(lookups, {});
    // the same through the spec preview uses (process.env), and a block's own public IP wins
    const asked = deployed({ network_configuration: { assignPublicIp: 'ENABLED' } });
    assert.equal(asked.runTask.networkConfiguration?.awsvpcConfiguration?.assignPublicIp, 'ENABLED');
    assert.deepEqual(asked.runTask.networkConfiguration?.awsvpcConfiguration?.subnets, [
      'subnet-d1',
      'subnet-d2',
    ]);
  });

  it("the block wins, field by field; a block that names its own subnets or VPC gets none of the deployment's network", () => {
    assert.equal(deployed({ cluster: 'mine' }).runTask.cluster, 'mine');
    const ownSubnets = deployed({ network_configuration: { subnets: ['subnet-a'] } });
    assert.deepEqual(ownSubnets.runTask.networkConfiguration?.awsvpcConfiguration, {
      subnets: ['subnet-a'],
      securityGroups: [],
      assignPublicIp: 'DISABLED',
    });
    assert.deepEqual(
      ownSubnets.lookups,
      { securityGroups: "the default security group of the subnets' VPC" },
      "the deployment's group may be in another VPC: the subnets' own default is looked up",
    );
    const ownVpc = deployed({ vpc_id: 'vpc-1' });
    assert.deepEqual(ownVpc.runTask.networkConfiguration?.awsvpcConfiguration?.subnets, []);
    assert.deepEqual(ownVpc.lookups, {
      subnets: 'all subnets of VPC vpc-1',
      securityGroups: 'the default security group of VPC vpc-1',
    });
    const ownGroups = deployed({ network_configuration: { securityGroups: ['sg-mine'] } });
    assert.deepEqual(ownGroups.runTask.networkConfiguration?.awsvpcConfiguration, {
      subnets: ['subnet-d1', 'subnet-d2'],
      securityGroups: ['sg-mine'],
      assignPublicIp: 'DISABLED',
    });
  });

  it('what the deployment leaves out is looked up as before', () => {
    const subnetsOnly = deployed({}, { ...ENV, ECS_SUBNETS: 'subnet-d1' });
    assert.equal(subnetsOnly.runTask.cluster, undefined, 'the default cluster');
    assert.deepEqual(subnetsOnly.lookups, {
      securityGroups: "the default security group of the subnets' VPC",
    });
    const groupsOnly = deployed({}, { ...ENV, ECS_SECURITY_GROUPS: 'sg-d1' });
    assert.deepEqual(groupsOnly.runTask.networkConfiguration?.awsvpcConfiguration, {
      subnets: [],
      securityGroups: ['sg-d1'],
      assignPublicIp: 'ENABLED',
    });
    assert.deepEqual(groupsOnly.lookups, { subnets: 'all subnets of the default VPC' });
  });

  it('do not change the task definition, and reach neither EC2 nor EXTERNAL tasks without awsvpc', () => {
    assert.deepEqual(deployed().taskDefinition, build().taskDefinition);
    const ec2 = deployed({ launch_type: 'EC2' });
    assert.equal(ec2.runTask.networkConfiguration, undefined, 'bridge networking stays bridge');
    assert.equal(ec2.runTask.cluster, DEPLOYED.ECS_CLUSTER);
    assert.equal(deployed({ launch_type: 'EXTERNAL' }).runTask.networkConfiguration, undefined);
  });
});

describe('ecs-task build: task definition reuse', () => {
  it('the same content gets the same family across flow runs; env, command and labels do not change it', () => {
    const first = build({ env: { A: '1' }, labels: { team: 'a' } });
    const second = build(
      { env: { A: '2' }, labels: { team: 'b' }, command: ['other'] },
      { ...FLOW_RUN, id: '0b3b3c3e-0000-4000-8000-000000000002' },
    );
    assert.equal(first.taskDefinition?.family, second.taskDefinition?.family);
    assert.match(first.taskDefinition?.family ?? '', /^prefect__[0-9a-f]{12}$/);
    assert.equal(hashOfFamily(first.taskDefinition?.family ?? ''), first.taskDefinition?.tags?.[1]?.value);
    assert.deepEqual(first.taskDefinition?.tags?.[0], { key: 'managed-by', value: 'flow-run-submitter' });
  });

  it('content that changes the definition changes the family; key order in task_definition does not', () => {
    const base = build().taskDefinition?.family;
    assert.notEqual(build({ image: 'busybox:1.37' }).taskDefinition?.family, base);
    assert.notEqual(build({ memory: 4096 }).taskDefinition?.family, base);
    assert.match(build({ family: 'etl flows' }).taskDefinition?.family ?? '', /^etl-flows__[0-9a-f]{12}$/);
    const a = build({
      task_definition: { volumes: [], containerDefinitions: [{ name: 'prefect', image: 'x' }] },
    });
    const b = build({
      task_definition: { containerDefinitions: [{ image: 'x', name: 'prefect' }], volumes: [] },
    });
    assert.equal(a.taskDefinition?.family, b.taskDefinition?.family);
  });

  it('a given task_definition keeps its sidecars, loses read-only fields, and env null unsets its variable', () => {
    const { taskDefinition } = build({
      image: null,
      env: { DROP_ME: null },
      task_definition: {
        taskDefinitionArn: 'arn:aws:ecs:us-east-1:1:task-definition/x:3',
        revision: 3,
        status: 'ACTIVE',
        family: 'mine',
        containerDefinitions: [
          {
            name: 'prefect',
            image: 'repo/flows:1',
            environment: [
              { name: 'KEEP', value: '1' },
              { name: 'DROP_ME', value: 'x' },
            ],
          },
          { name: 'sidecar', image: 'envoy', memory: 512, essential: false },
        ],
      },
    });
    assert.ok(taskDefinition);
    for (const field of ['taskDefinitionArn', 'revision', 'status'])
      assert.equal(field in taskDefinition, false);
    assert.match(taskDefinition.family ?? '', /^mine__/);
    const [main, sidecar] = taskDefinition.containerDefinitions ?? [];
    assert.equal(main?.image, 'repo/flows:1', 'the definition image is kept when the block gives none');
    assert.deepEqual(main?.environment, [{ name: 'KEEP', value: '1' }]);
    assert.equal(main?.memoryReservation, 2048 - 512, 'what the sidecar leaves');
    assert.equal(sidecar?.name, 'sidecar');
  });

  it('a task_definition without the container_name container gets it appended after its own containers', () => {
    const sidecars = [
      { name: 'envoy', image: 'envoy', memory: 256, essential: false },
      { name: 'agent', image: 'datadog', memory: 256, essential: false },
    ];
    const { taskDefinition } = build({ task_definition: { containerDefinitions: sidecars } });
    assert.deepEqual(
      taskDefinition?.containerDefinitions?.map((c) => c.name),
      ['envoy', 'agent', 'prefect'],
    );
    const last = taskDefinition?.containerDefinitions?.at(-1);
    assert.equal(last?.image, 'busybox:1.36');
    assert.equal(last?.memoryReservation, 2048 - 512, 'what the sidecars leave');
    // a container_name of its own is appended too; the one named is found wherever it is
    const named = build({ container_name: 'flow', task_definition: { containerDefinitions: sidecars } });
    assert.deepEqual(
      named.taskDefinition?.containerDefinitions?.map((c) => c.name),
      ['envoy', 'agent', 'flow'],
    );
    const found = build({
      container_name: 'agent',
      task_definition: { containerDefinitions: sidecars },
    });
    assert.deepEqual(
      found.taskDefinition?.containerDefinitions?.map((c) => [c.name, c.image]),
      [
        ['envoy', 'envoy'],
        ['agent', 'busybox:1.36'],
      ],
    );
  });
});

describe('ecs-task build: definition memo', () => {
  it('gives what composing afresh gives, for a change in every field the definition depends on', () => {
    const role = 'arn:aws:iam::1:role/r';
    const variants: Record<string, unknown>[] = [
      {},
      { image: 'other:1' },
      { cpu: 2048, memory: 4096 },
      { launch_type: 'EC2' },
      { launch_type: 'EC2', vpc_id: 'vpc-1' },
      { launch_type: 'EC2', network_configuration: { subnets: ['s'] } },
      {
        task_definition: {
          containerDefinitions: [{ name: 'prefect', environment: [{ name: 'A', value: '1' }] }],
        },
      },
      {
        task_definition: {
          containerDefinitions: [{ name: 'prefect', environment: [{ name: 'A', value: '1' }] }],
        },
        env: { A: null },
      },
      { container_name: 'flow' },
      { secrets: { S: 'arn:aws:ssm:eu-west-1:1:parameter/s' } },
      { configure_cloudwatch_logs: true, execution_role_arn: role },
      { configure_cloudwatch_logs: true, execution_role_arn: role, name: 'etl' },
      {
        configure_cloudwatch_logs: true,
        execution_role_arn: role,
        cloudwatch_logs_options: { 'awslogs-group': 'g' },
      },
      { task_role_arn: role },
      { family: 'etl' },
    ];
    const families = new Set<string>();
    for (const round of [1, 2]) {
      for (const fields of variants) {
        const block = ecsBlock(fields);
        const memoised = buildTaskDefinition(block, { region: 'eu-west-1' });
        assert.deepEqual(
          memoised,
          composeTaskDefinition(block, { region: 'eu-west-1' }),
          JSON.stringify(fields),
        );
        assert.ok(Object.isFrozen(memoised.containerDefinitions?.[0]), 'shared, so frozen');
        if (round === 1) families.add(memoised.family ?? '');
      }
    }
    // EC2 with a vpc_id and EC2 with subnets are the same definition (awsvpc); every other variant differs
    assert.equal(families.size, variants.length - 1);
    const elsewhere = ecsBlock({ configure_cloudwatch_logs: true, execution_role_arn: role });
    assert.equal(
      buildTaskDefinition(elsewhere, { region: 'us-west-2' }).containerDefinitions?.[0]?.logConfiguration
        ?.options?.['awslogs-region'],
      'us-west-2',
      'the region is part of the key',
    );
  });
});

describe('ecs-task build: existing task definition ARN', () => {
  const arn = 'arn:aws:ecs:us-east-1:123456789012:task-definition/etl:7';

  it('runs it as registered: no definition, only non-default sizes and roles as overrides', () => {
    const plain = build({ image: null, task_definition_arn: arn });
    assert.equal(plain.taskDefinition, null);
    assert.equal(plain.runTask.taskDefinition, arn);
    assert.equal(plain.runTask.overrides?.cpu, undefined, 'the definition keeps its own size');
    const sized = build({
      image: null,
      task_definition_arn: arn,
      memory: 4096,
      task_role_arn: 'arn:aws:iam::1:role/r',
    });
    assert.equal(sized.runTask.overrides?.memory, '4096');
    assert.equal(sized.runTask.overrides?.taskRoleArn, 'arn:aws:iam::1:role/r');
  });

  it('refuses fields that live in the definition and RunTask cannot change', () => {
    assert.throws(
      () => ecsBlock({ task_definition_arn: arn }),
      (error: InvalidInputError) =>
        error.problems.some(
          (p) => p.path === 'infrastructure.image' && /drop task_definition_arn/.test(p.message),
        ),
    );
  });
});

describe('ecs-task build: logs, secrets and customizations', () => {
  const role = 'arn:aws:iam::123456789012:role/exec';

  it('configure_cloudwatch_logs: awslogs with group prefect, the block name as stream prefix, options merged', () => {
    const { taskDefinition } = build({
      name: 'etl',
      configure_cloudwatch_logs: true,
      execution_role_arn: role,
      cloudwatch_logs_options: { 'awslogs-group': '/flows' },
    });
    assert.deepEqual(taskDefinition?.containerDefinitions?.[0]?.logConfiguration, {
      logDriver: 'awslogs',
      options: {
        'awslogs-create-group': 'true',
        'awslogs-group': '/flows',
        'awslogs-region': 'eu-west-1',
        'awslogs-stream-prefix': 'etl',
      },
    });
    assert.equal(taskDefinition?.executionRoleArn, role);
  });

  it('configure_cloudwatch_logs needs an execution role, and a region', () => {
    assert.throws(
      () => ecsBlock({ configure_cloudwatch_logs: true }),
      (error: InvalidInputError) =>
        error.problems.some((p) => p.path === 'infrastructure.execution_role_arn'),
    );
    problemAt(
      () =>
        buildEcsRequest(
          {
            block: ecsBlock({ configure_cloudwatch_logs: true, execution_role_arn: role }),
            flowRun: FLOW_RUN,
          },
          {},
        ),
      'infrastructure.cloudwatch_logs_options',
      /region/,
    );
  });

  it('secrets go to the container definition by ARN, never into the overrides', () => {
    const secretArn = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:prefect-key';
    const { taskDefinition, runTask } = build({ secrets: { PREFECT_API_KEY: secretArn } });
    assert.deepEqual(taskDefinition?.containerDefinitions?.[0]?.secrets, [
      { name: 'PREFECT_API_KEY', valueFrom: secretArn },
    ]);
    assert.doesNotMatch(JSON.stringify(runTask), /PREFECT_API_KEY/);
  });

  it('refuses a secret-looking env var with a plain value, naming it but not its value', () => {
    const canary = 'canary-env-7f3a9c';
    const error = problemAt(
      () => ecsBlock({ env: { DB_PASSWORD: canary } }),
      'infrastructure.env.DB_PASSWORD',
      /looks like a secret.*secrets\.DB_PASSWORD/,
    );
    assert.doesNotMatch(error.message, new RegExp(canary));
    problemAt(
      () => ecsBlock({ env: { X: '1' }, secrets: { X: 'arn:aws:ssm:eu-west-1:1:parameter/x' } }),
      'infrastructure.env.X',
      /also in 'secrets'/,
    );
  });

  it('plaintext_env_allowed lets a secret-looking name through, still redacted in previews', () => {
    const canary = 'canary-env-7f3a9c';
    const request = build({ env: { SORT_KEY: canary }, plaintext_env_allowed: ['SORT_KEY'] });
    assert.match(JSON.stringify(request), new RegExp(canary), 'sent to ECS as asked');
    assert.doesNotMatch(JSON.stringify(redact(request)), new RegExp(canary), 'never previewed');
  });

  it('task_customizations patch the RunTask request; the idempotency key cannot be patched away', () => {
    const { runTask } = build({
      task_customizations: [
        {
          op: 'add',
          path: '/overrides/containerOverrides/0/environment/-',
          value: { name: 'X', value: '1' },
        },
        { op: 'add', path: '/networkConfiguration/awsvpcConfiguration/subnets/-', value: 'subnet-patched' },
        { op: 'add', path: '/enableExecuteCommand', value: true },
        { op: 'remove', path: '/startedBy' },
      ],
    });
    assert.deepEqual(runTask.overrides?.containerOverrides?.[0]?.environment?.at(-1), {
      name: 'X',
      value: '1',
    });
    assert.deepEqual(runTask.networkConfiguration?.awsvpcConfiguration?.subnets, ['subnet-patched']);
    assert.equal(runTask.enableExecuteCommand, true);
    assert.equal(runTask.startedBy, 'prefect-0b3b3c3e000040008000000000000001');
  });

  it('a patch that does not apply names its operation', () => {
    problemAt(
      () => build({ task_customizations: [{ op: 'replace', path: '/nope/deeper', value: 1 }] }),
      'infrastructure.task_customizations[0]',
      /cannot be applied to the RunTask request/,
    );
    // fast-json-patch alone would say [0] for each of these
    const good = { op: 'add', path: '/enableExecuteCommand', value: true };
    for (const [index, bad] of [
      [1, { op: 'replace', path: '/nope/deeper', value: 1 }],
      [2, { op: 'remove', path: '/overrides/containerOverrides/5' }],
      [2, { op: 'test', path: '/count', value: 2 }],
      [1, { op: 'add', path: '/tags/-' }],
    ] as const) {
      const operations = index === 1 ? [good, bad] : [good, good, bad];
      const error = problemAt(
        () => build({ task_customizations: operations }),
        `infrastructure.task_customizations[${index}]`,
        /cannot be applied to the RunTask request/,
      );
      assert.equal(error.problems.length, 1, JSON.stringify(error.problems));
    }
  });

  it('patch values are copies: a request never shares them with the block or another request', () => {
    const block = ecsBlock({
      task_customizations: [{ op: 'add', path: '/overrides/ephemeralStorage', value: { sizeInGiB: 30 } }],
    });
    const first = buildEcsRequest({ block, flowRun: FLOW_RUN }, ENV);
    const storage = first.runTask.overrides?.ephemeralStorage;
    assert.deepEqual(storage, { sizeInGiB: 30 });
    assert.ok(storage);
    storage.sizeInGiB = 99;
    const second = buildEcsRequest({ block, flowRun: FLOW_RUN }, ENV);
    assert.deepEqual(second.runTask.overrides?.ephemeralStorage, { sizeInGiB: 30 });
    assert.deepEqual(block.task_customizations[0]?.value, { sizeInGiB: 30 });
  });

  it('labels become task tags with the flow-run id; overrides over 8192 characters are refused', () => {
    const { runTask } = build({ labels: { team: 'data', 'weird#key': 'v' } });
    assert.deepEqual(runTask.tags, [
      { key: 'team', value: 'data' },
      { key: 'weird-key', value: 'v' },
      { key: 'prefect.io/flow-run-id', value: FLOW_RUN.id },
      { key: 'prefect.io/flow-run-name', value: 'nightly' },
    ]);
    problemAt(
      () => build({ env: { BIG: 'x'.repeat(9000) } }),
      'infrastructure.env',
      /over ECS's limit of 8192/,
    );
    // what a patch puts into the overrides counts too, and tags with Unicode letters stay as they are
    const big = { name: 'BIG', value: 'x'.repeat(9000) };
    problemAt(
      () =>
        build({
          task_customizations: [
            { op: 'add', path: '/overrides/containerOverrides/0/environment/-', value: big },
          ],
        }),
      'infrastructure.env',
      /overrides are \d+ characters, over ECS's limit of 8192/,
    );
    const nearly = { name: 'NEARLY', value: 'x'.repeat(7000) };
    const patched = build({
      task_customizations: [
        { op: 'add', path: '/overrides/containerOverrides/0/environment/-', value: nearly },
      ],
    });
    assert.deepEqual(patched.runTask.overrides?.containerOverrides?.[0]?.environment?.at(-1), nearly);
    assert.deepEqual(build({ labels: { équipe: 'données' } }).runTask.tags?.[0], {
      key: 'équipe',
      value: 'données',
    });
  });

  it('tag keys and values: each run of characters ECS refuses becomes one -, as Prefect slugifies them', () => {
    const { runTask } = build({
      labels: {
        'a#b': 'x!!!y',
        'team (data)': 'ok: a/b=c+d@e_f.g-h',
        'emoji🚀🚀': '#lead, trail?',
        équipe: 'données № 1',
      },
    });
    assert.deepEqual(runTask.tags?.slice(0, 4), [
      { key: 'a-b', value: 'x-y' },
      { key: 'team -data-', value: 'ok: a/b=c+d@e_f.g-h' },
      { key: 'emoji-', value: '-lead- trail-' },
      { key: 'équipe', value: 'données - 1' }, // letters stay; № is a symbol
    ]);
    // the limits apply to what is sent: 128 characters of key, 256 of value
    const long = build({ labels: { ['k'.repeat(200)]: `${'v'.repeat(300)}` } }).runTask.tags?.[0];
    assert.equal(long?.key?.length, 128);
    assert.equal(long?.value?.length, 256);
    const squeezed = build({ labels: { key: `${'#'.repeat(300)}v` } }).runTask.tags?.[0];
    assert.equal(squeezed?.value, '-v', 'a run is one character, so the value fits');
  });

  it('a block without aws_credentials gets what the credentials schema gives for none', () => {
    assert.deepEqual(ecsBlock().aws_credentials, AwsCredentialsSchema.parse({}));
    assert.notEqual(ecsBlock().aws_credentials, ecsBlock().aws_credentials, 'a fresh object per block');
  });

  it('watch defaults come from the block', () => {
    assert.deepEqual(ecsTaskSpec.watchDefaults(ecsBlock({ task_watch_poll_interval: 2 })), {
      pollSeconds: 2,
      startTimeoutSeconds: 120,
    });
  });
});

describe('ecs-task handle', () => {
  it('is shown as cluster::taskArn, and only an ECS task ARN fits its schema', () => {
    const handle = {
      cluster: 'arn:aws:ecs:us-east-1:123456789012:cluster/prod',
      taskArn: 'arn:aws:ecs:us-east-1:123456789012:task/prod/0123abcd',
      container: 'prefect',
    };
    assert.equal(
      formatIdentifier(handle),
      'arn:aws:ecs:us-east-1:123456789012:cluster/prod::arn:aws:ecs:us-east-1:123456789012:task/prod/0123abcd',
    );
    assert.equal(EcsHandleSchema.safeParse(handle).success, true);
    assert.equal(EcsHandleSchema.safeParse({ ...handle, taskArn: 'prefect-0b3b3c3e' }).success, false);
    assert.equal(EcsHandleSchema.safeParse({ cluster: 'default', taskArn: handle.taskArn }).success, false);
  });
});

describe('ecs-task sample', () => {
  it('events/samples/ecs-task.json previews: secrets by reference, nothing left to look up', async () => {
    let out = '';
    let err = '';
    const code = await main(['preview', join(SAMPLES, 'ecs-task.json'), '--home', await tempDir()], {
      out: (text) => {
        out += text;
      },
      err: (text) => {
        err += text;
      },
    });
    assert.equal(code, 0, err);
    const { provider, request } = JSON.parse(out);
    assert.equal(provider, 'ecs-task');
    assert.deepEqual(request.lookups, {});
    assert.deepEqual(
      request.taskDefinition.containerDefinitions[0].secrets.map((s: { name: string }) => s.name),
      ['DB_PASSWORD', 'PREFECT_API_KEY'],
    );
    assert.equal(request.taskDefinition.memory, '4096');
    assert.match(JSON.stringify(request.runTask.overrides), /"RUN_MODE","value":"nightly"/);
  });
});
