// The task definition the submitter registers for a block: pure. Its family carries a
// hash of its normalised content, so an identical definition is found again with one
// DescribeTaskDefinition call and never registered twice (no revision explosion).
import { createHash } from 'node:crypto';
import type {
  ContainerDefinition,
  KeyValuePair,
  RegisterTaskDefinitionCommandInput,
  Secret,
} from '@aws-sdk/client-ecs';
import { InvalidInputError } from '../../core/errors.js';
import { DEFAULT_PREFECT_IMAGE } from '../base.js';
import { ECS_DEFAULT_CPU, ECS_DEFAULT_MEMORY, type EcsTaskBlock } from './block.js';

export const MANAGED_BY_TAG = 'managed-by';
export const MANAGED_BY_VALUE = 'flow-run-submitter';
export const DEFINITION_HASH_TAG = 'submitter.io/definition-hash';
/** Between the family prefix and the content hash: `prefect__3f2a9c1b7d4e`. */
export const FAMILY_HASH_SEPARATOR = '__';
export const DEFAULT_FAMILY = 'prefect';
export const DEFAULT_LOG_GROUP = 'prefect';

/** Fields DescribeTaskDefinition returns that RegisterTaskDefinition does not take. */
const READ_ONLY_FIELDS = [
  'taskDefinitionArn',
  'revision',
  'status',
  'requiresAttributes',
  'compatibilities',
  'registeredAt',
  'registeredBy',
  'deregisteredAt',
  'deleteRequestedAt',
];

export type LaunchType = EcsTaskBlock['launch_type'];

export function isFargate(launchType: LaunchType): boolean {
  return launchType === 'FARGATE' || launchType === 'FARGATE_SPOT';
}

/** Fargate's valid task sizes: cpu units → memory MiB. */
const FARGATE_MEMORY: Record<number, { min: number; max: number; step: number }> = {
  256: { min: 512, max: 2048, step: 512 },
  512: { min: 1024, max: 4096, step: 1024 },
  1024: { min: 2048, max: 8192, step: 1024 },
  2048: { min: 4096, max: 16384, step: 1024 },
  4096: { min: 8192, max: 30720, step: 1024 },
  8192: { min: 16384, max: 61440, step: 4096 },
  16384: { min: 32768, max: 122880, step: 8192 },
};

function fargateSizeProblem(cpu: number, memory: number): string | undefined {
  const sizes = FARGATE_MEMORY[cpu];
  if (!sizes) {
    return `Fargate takes cpu ${Object.keys(FARGATE_MEMORY).join(', ')} (1024 = 1 vCPU); got ${cpu}`;
  }
  const fits = memory >= sizes.min && memory <= sizes.max && (memory - sizes.min) % sizes.step === 0;
  if (fits && !(cpu === 256 && memory === 1536)) return undefined;
  const allowed = cpu === 256 ? '512, 1024 or 2048' : `${sizes.min}–${sizes.max} in steps of ${sizes.step}`;
  return `Fargate with cpu ${cpu} takes memory ${allowed} MiB; got ${memory}`;
}

/** JSON with sorted keys and no undefined: the same content always gives the same text. */
export function stableJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) {
    let out = '[';
    for (let i = 0; i < value.length; i++) out += `${i ? ',' : ''}${stableJson(value[i] ?? null)}`;
    return `${out}]`;
  }
  const record = value as Record<string, unknown>;
  let out = '{';
  let first = true;
  for (const key of Object.keys(record).sort()) {
    if (record[key] === undefined) continue;
    out += `${first ? '' : ','}${JSON.stringify(key)}:${stableJson(record[key])}`;
    first = false;
  }
  return `${out}}`;
}

export function contentHash(definition: RegisterTaskDefinitionCommandInput): string {
  const { family: _family, tags: _tags, ...content } = definition;
  return createHash('sha256').update(stableJson(content)).digest('hex').slice(0, 12);
}

function familyPrefix(raw: string): string {
  const cleaned = raw.replace(/[^A-Za-z0-9_-]/g, '-').slice(0, 200);
  return cleaned || DEFAULT_FAMILY;
}

/** `prefix__hash` → `hash`, or undefined for families the submitter did not name. */
export function hashOfFamily(family: string): string | undefined {
  const at = family.lastIndexOf(FAMILY_HASH_SEPARATOR);
  const hash = at >= 0 ? family.slice(at + FAMILY_HASH_SEPARATOR.length) : '';
  return /^[0-9a-f]{12}$/.test(hash) ? hash : undefined;
}

export interface DefinitionContext {
  /** Region for the awslogs driver when the block does not name one. */
  region: string | undefined;
}

function logConfiguration(block: EcsTaskBlock, context: DefinitionContext) {
  const region = block.cloudwatch_logs_options['awslogs-region'] ?? context.region;
  if (!region) {
    throw new InvalidInputError('Invalid ecs-task block', [
      {
        path: 'infrastructure.cloudwatch_logs_options',
        message:
          "configure_cloudwatch_logs needs the logs' region: set aws_credentials.region_name, " +
          "cloudwatch_logs_options['awslogs-region'] or AWS_REGION",
      },
    ]);
  }
  return {
    logDriver: 'awslogs' as const,
    options: {
      'awslogs-create-group': 'true',
      'awslogs-group': DEFAULT_LOG_GROUP,
      'awslogs-region': region,
      'awslogs-stream-prefix': block.name ?? 'prefect',
      ...block.cloudwatch_logs_options,
    },
  };
}

function mergeSecrets(existing: Secret[] | undefined, block: Record<string, string>): Secret[] | undefined {
  const byName = new Map<string, string>();
  for (const secret of existing ?? []) if (secret.name) byName.set(secret.name, secret.valueFrom ?? '');
  for (const [name, valueFrom] of Object.entries(block)) byName.set(name, valueFrom);
  if (byName.size === 0) return undefined;
  return [...byName.entries()]
    .sort(([a], [b]) => (a < b ? -1 : 1))
    .map(([name, valueFrom]) => ({ name, valueFrom }));
}

/** The block's value, unless it is the default and the given definition has its own. */
function sized(blockValue: number, fallback: number, own: unknown): number | string {
  if (blockValue === fallback && (typeof own === 'string' || typeof own === 'number')) return own;
  return blockValue;
}

function containerMemoryOf(container: ContainerDefinition): number {
  return Math.max(container.memory ?? 0, container.memoryReservation ?? 0);
}

const MEMO_LIMIT = 256;
/** Definition key → the definition (frozen): a warm function builds each distinct definition once. */
const memo = new Map<string, RegisterTaskDefinitionCommandInput>();

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    for (const child of Object.values(value)) deepFreeze(child);
    Object.freeze(value);
  }
  return value;
}

/** `value` in a key, unambiguously: a type tag, and strings prefixed by their length. */
function keyPart(value: string | number | boolean | null | undefined): string {
  if (typeof value === 'string') return `s${value.length}:${value}`;
  if (value === null || value === undefined) return 'n';
  return `${typeof value === 'number' ? '#' : 'b'}${value};`;
}

function mapKeyPart(map: Record<string, string | null>): string {
  let out = '{';
  for (const name in map) out += keyPart(name) + keyPart(map[name]);
  return `${out}}`;
}

/**
 * Everything `composeTaskDefinition` reads (env values, command and labels are not part of a
 * definition), as a string that two different inputs never share. Built by concatenation:
 * it runs for every build, and JSON.stringify was the slowest part of it.
 */
function definitionKey(block: EcsTaskBlock, context: DefinitionContext): string {
  let unset = '';
  for (const name in block.env) if (block.env[name] === null) unset += keyPart(name);
  return [
    keyPart(context.region),
    block.task_definition ? `j${keyPart(JSON.stringify(block.task_definition))}` : 'n',
    keyPart(block.container_name),
    keyPart(block.image),
    mapKeyPart(block.secrets),
    `[${unset}]`,
    keyPart(block.configure_cloudwatch_logs),
    mapKeyPart(block.cloudwatch_logs_options),
    keyPart(block.name),
    keyPart(block.launch_type),
    keyPart(block.cpu),
    keyPart(block.memory),
    keyPart(block.network_configuration !== null),
    keyPart(block.vpc_id !== null),
    keyPart(block.task_role_arn),
    keyPart(block.execution_role_arn),
    keyPart(block.family),
  ].join('');
}

/**
 * RegisterTaskDefinition input for the block: its `task_definition` (if any) with the
 * block's fields applied, in the launch type's shape. Family and tags carry the hash.
 * Memoised by what it depends on, and therefore frozen: copy it to change it.
 */
export function buildTaskDefinition(
  block: EcsTaskBlock,
  context: DefinitionContext,
): Readonly<RegisterTaskDefinitionCommandInput> {
  const key = definitionKey(block, context);
  let definition = memo.get(key);
  if (definition === undefined) {
    definition = deepFreeze(composeTaskDefinition(block, context));
    if (memo.size >= MEMO_LIMIT) memo.delete(memo.keys().next().value as string);
    memo.set(key, definition);
  }
  return definition;
}

/** `buildTaskDefinition` without the memo. */
export function composeTaskDefinition(
  block: EcsTaskBlock,
  context: DefinitionContext,
): RegisterTaskDefinitionCommandInput {
  // a copy (the block may be built again); it is JSON by nature
  const base = (block.task_definition ? JSON.parse(JSON.stringify(block.task_definition)) : {}) as Record<
    string,
    unknown
  >;
  for (const field of READ_ONLY_FIELDS) delete base[field];
  const definition = base as unknown as RegisterTaskDefinitionCommandInput;
  const containers: ContainerDefinition[] = Array.isArray(definition.containerDefinitions)
    ? definition.containerDefinitions
    : [];
  let container = containers.find((c) => c.name === block.container_name);
  if (!container) {
    // after the user's containers, as Prefect's ECSTask appends it
    container = { name: block.container_name };
    containers.push(container);
  }
  container.image = block.image ?? container.image ?? DEFAULT_PREFECT_IMAGE;
  container.essential ??= true;
  const secrets = mergeSecrets(container.secrets, block.secrets);
  if (secrets) container.secrets = secrets;
  // env set to null unsets a variable the definition defines (overrides can only add)
  const unset = new Set(
    Object.entries(block.env)
      .filter(([, value]) => value === null)
      .map(([name]) => name),
  );
  if (container.environment && unset.size) {
    container.environment = container.environment.filter((pair: KeyValuePair) => !unset.has(pair.name ?? ''));
  }
  if (block.configure_cloudwatch_logs) container.logConfiguration = logConfiguration(block, context);
  definition.containerDefinitions = containers;

  if (isFargate(block.launch_type)) {
    const cpu = Number(sized(block.cpu, ECS_DEFAULT_CPU, definition.cpu));
    const memory = Number(sized(block.memory, ECS_DEFAULT_MEMORY, definition.memory));
    const problem = fargateSizeProblem(cpu, memory);
    if (problem) {
      throw new InvalidInputError('Invalid ecs-task block', [
        { path: 'infrastructure.memory', message: `${problem} (cpu and memory are a pair on Fargate)` },
      ]);
    }
    definition.cpu = String(cpu);
    definition.memory = String(memory);
    definition.networkMode = 'awsvpc';
    definition.requiresCompatibilities = ['FARGATE'];
    // AWS needs only task-level memory on Fargate; a container-level reservation of what the other
    // containers leave is valid there too, and moto needs one to run the task.
    if (containerMemoryOf(container) === 0) {
      const others = containers
        .filter((c) => c !== container)
        .reduce((sum, c) => sum + containerMemoryOf(c), 0);
      if (memory - others > 0) container.memoryReservation = memory - others;
    }
  } else {
    container.cpu = Number(sized(block.cpu, ECS_DEFAULT_CPU, container.cpu));
    container.memory = Number(sized(block.memory, ECS_DEFAULT_MEMORY, container.memory));
    definition.requiresCompatibilities = [block.launch_type as 'EC2' | 'EXTERNAL'];
    // a network given for EC2 means awsvpc (External instances have no awsvpc mode)
    const networkGiven = block.network_configuration !== null || block.vpc_id !== null;
    if (block.launch_type === 'EC2' && networkGiven && !definition.networkMode)
      definition.networkMode = 'awsvpc';
  }
  if (block.task_role_arn) definition.taskRoleArn = block.task_role_arn;
  if (block.execution_role_arn) definition.executionRoleArn = block.execution_role_arn;

  const prefix = familyPrefix(
    block.family ?? (typeof base.family === 'string' ? base.family : DEFAULT_FAMILY),
  );
  delete definition.tags;
  const hash = contentHash(definition);
  return {
    ...definition,
    family: `${prefix}${FAMILY_HASH_SEPARATOR}${hash}`,
    tags: [
      { key: MANAGED_BY_TAG, value: MANAGED_BY_VALUE },
      { key: DEFINITION_HASH_TAG, value: hash },
    ],
  };
}

/** The awsvpc network mode: always on Fargate, and wherever the definition asks for it. */
export function usesAwsvpc(
  block: EcsTaskBlock,
  definition: RegisterTaskDefinitionCommandInput | null,
): boolean {
  if (isFargate(block.launch_type)) return true;
  return definition?.networkMode === 'awsvpc';
}
