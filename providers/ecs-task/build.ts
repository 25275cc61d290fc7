// Block + flow run → the exact ECS requests (pure): the task definition to find or
// register, and the RunTask input. `preview` prints this; submit sends it, after filling
// in only what `lookups` names (subnets / security group of the VPC). What the block leaves
// open, the deployment's ECS_* defaults fill first (deployment.ts).
import type {
  AwsVpcConfiguration,
  CapacityProviderStrategyItem,
  ContainerOverride,
  RegisterTaskDefinitionCommandInput,
  RunTaskCommandInput,
  Tag,
} from '@aws-sdk/client-ecs';
import jsonpatch from 'fast-json-patch';
import { InvalidInputError } from '../../core/errors.js';
import { flowRunEnv, flowRunLabels, idempotencyKey } from '../identity.js';
import type { Target } from '../port.js';
import { ECS_DEFAULT_CPU, ECS_DEFAULT_MEMORY, type EcsTaskBlock } from './block.js';
import { buildTaskDefinition, type DefinitionContext, isFargate, usesAwsvpc } from './definition.js';
import { deploymentCluster, deploymentNetwork } from './deployment.js';

/** ECS refuses RunTask overrides longer than this (characters of JSON). */
export const MAX_OVERRIDES_CHARS = 8192;
const MAX_TAGS = 50;

export interface EcsLookups {
  /** Set when subnets are looked up at submit: the VPC they come from. */
  subnets?: string;
  /** Set when the security group is looked up at submit. */
  securityGroups?: string;
}

export interface EcsRequest {
  /** What is found (by family) or registered once; null when `task_definition_arn` names an existing one. Frozen. */
  taskDefinition: Readonly<RegisterTaskDefinitionCommandInput> | null;
  runTask: RunTaskCommandInput;
  /** What submit fills in from the account (empty lists in `runTask` mean "look up"). */
  lookups: EcsLookups;
}

/** A run of characters ECS refuses in tags (it takes letters, numbers, spaces and `_.:/=+-@`). */
const TAG_REFUSED = /[^\p{L}\p{Z}\p{N}_.:/=+\-@]+/gu;
/** What ECS takes in tags, in ASCII: most tags, checked faster than the Unicode classes. */
const TAG_ASCII = /^[A-Za-z0-9 _.:/=+\-@]*$/;

/** Each run of refused characters becomes one `-`, as Prefect's ECSTask slugifies tags. */
function tagText(text: string, max: number): string {
  return (TAG_ASCII.test(text) ? text : text.replace(TAG_REFUSED, '-')).slice(0, max);
}

function tag(key: string, value: string): Tag {
  return { key: tagText(key, 128), value: tagText(value, 256) };
}

function capacityStrategy(block: EcsTaskBlock): CapacityProviderStrategyItem[] | undefined {
  if (block.capacity_provider_strategy?.length)
    return block.capacity_provider_strategy.map((item) => ({ ...item }));
  if (block.launch_type === 'FARGATE_SPOT') return [{ capacityProvider: 'FARGATE_SPOT', weight: 1 }];
  return undefined;
}

/**
 * Block > deployment > lookup. The deployment's subnets and groups apply only to a block that
 * names no network of its own (no subnets, no VPC): they may belong to another VPC.
 * With no subnets from either, the task runs in the default VPC's subnets with a public IP —
 * those subnets have no NAT, and without one the image cannot be pulled. Subnets or a VPC
 * given means a network someone designed (usually private subnets behind a NAT): no public
 * IP unless asked for.
 */
function awsvpcConfiguration(block: EcsTaskBlock, env: NodeJS.ProcessEnv): AwsVpcConfiguration {
  const given = block.network_configuration ?? {};
  const ownNetwork = Boolean(given.subnets?.length) || block.vpc_id !== null;
  const ownGroups = Boolean(given.securityGroups?.length);
  const deployment = ownNetwork ? undefined : deploymentNetwork(env);
  const subnets = given.subnets?.length ? given.subnets : (deployment?.subnets ?? []);
  const groups = ownGroups ? (given.securityGroups ?? []) : (deployment?.securityGroups ?? []);
  const defaultVpc = !subnets.length && !block.vpc_id;
  const config: AwsVpcConfiguration = { subnets: [...subnets], securityGroups: [...groups] };
  // assignPublicIp is a Fargate setting; EC2 tasks in awsvpc mode refuse it unless asked for
  if (given.assignPublicIp) config.assignPublicIp = given.assignPublicIp;
  else if (isFargate(block.launch_type)) config.assignPublicIp = defaultVpc ? 'ENABLED' : 'DISABLED';
  return config;
}

/**
 * Patches the request in place (it is built fresh: nothing in it belongs to the block), one
 * operation at a time: fast-json-patch reports index 0 for a failing operation wherever it is.
 * Returns the patched request and an upper bound of the characters the patch can add to it.
 */
function applyCustomizations(
  request: RunTaskCommandInput,
  block: EcsTaskBlock,
): { patched: RunTaskCommandInput; addedChars: number } {
  const operations = block.task_customizations as jsonpatch.Operation[];
  const size = { chars: 0 };
  let document = request;
  for (let index = 0; index < operations.length; index++) {
    const operation = operations[index] as jsonpatch.Operation;
    size.chars += 10 + 6 * operation.path.length;
    try {
      // values are inserted as they are: a copy, so no request ever shares them with the block
      const own = 'value' in operation ? { ...operation, value: jsonCopy(operation.value, size) } : operation;
      document = jsonpatch.applyOperation(document, own, true, true, true, index).newDocument;
    } catch (error) {
      const message = error instanceof Error ? error.message.split('\n')[0] : String(error);
      throw new InvalidInputError('Invalid ecs-task block', [
        {
          path: `infrastructure.task_customizations[${index}]`,
          message: `cannot be applied to the RunTask request (${message}); paths are JSON pointers into it, e.g. '/overrides/containerOverrides/0/environment/-'`,
        },
      ]);
    }
  }
  return { patched: document, addedChars: size.chars };
}

/**
 * A copy of a JSON value, as JSON.parse(JSON.stringify(value)) gives it, adding to `size.chars`
 * an upper bound of its JSON length (every character escaped; numbers at most 24 characters).
 */
function jsonCopy(value: unknown, size: { chars: number }): unknown {
  if (typeof value === 'string') {
    size.chars += 2 + 6 * value.length;
    return value;
  }
  size.chars += 24;
  if (value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map((item) => (item === undefined ? null : jsonCopy(item, size)));
  const record = value as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(record)) {
    const item = record[key];
    if (item === undefined) continue;
    size.chars += 4 + 6 * key.length;
    out[key] = jsonCopy(item, size);
  }
  return out;
}

function overrides(block: EcsTaskBlock, target: Target<EcsTaskBlock>): RunTaskCommandInput['overrides'] {
  // the block's env (null = unset) under the flow run's own variables, sorted by name
  const own = flowRunEnv(target.flowRun);
  const names: string[] = [];
  for (const name in block.env) if (block.env[name] !== null && !(name in own)) names.push(name);
  for (const name in own) names.push(name);
  names.sort();
  const container: ContainerOverride = {
    name: block.container_name,
    command: [...block.command],
    environment: names.map((name) => ({ name, value: own[name] ?? (block.env[name] as string) })),
  };
  const out: NonNullable<RunTaskCommandInput['overrides']> = { containerOverrides: [container] };
  if (block.task_definition_arn) {
    // An existing definition: only what RunTask can override, and only when asked for.
    if (block.cpu !== ECS_DEFAULT_CPU) out.cpu = String(block.cpu);
    if (block.memory !== ECS_DEFAULT_MEMORY) out.memory = String(block.memory);
    if (block.task_role_arn) out.taskRoleArn = block.task_role_arn;
    if (block.execution_role_arn) out.executionRoleArn = block.execution_role_arn;
  }
  return out;
}

export function buildEcsRequest(
  target: Target<EcsTaskBlock>,
  env: NodeJS.ProcessEnv = process.env,
): EcsRequest {
  const { block, flowRun } = target;
  const context: DefinitionContext = {
    region: block.aws_credentials.region_name ?? env.AWS_REGION ?? env.AWS_DEFAULT_REGION,
  };
  const taskDefinition = block.task_definition_arn ? null : buildTaskDefinition(block, context);
  const key = idempotencyKey(flowRun.id);
  const labels = flowRunLabels(flowRun);
  const tags: Tag[] = [];
  for (const name in block.labels) if (!(name in labels)) tags.push(tag(name, block.labels[name] ?? ''));
  for (const name in labels) tags.push(tag(name, labels[name] ?? ''));
  if (tags.length > MAX_TAGS) {
    throw new InvalidInputError('Invalid ecs-task block', [
      {
        path: 'infrastructure.labels',
        message: `ECS takes at most ${MAX_TAGS} tags per task and the submitter adds 2; give at most ${MAX_TAGS - 2} labels`,
      },
    ]);
  }
  const strategy = capacityStrategy(block);
  let runTask: RunTaskCommandInput = {
    taskDefinition: block.task_definition_arn ?? taskDefinition?.family ?? '',
  };
  const cluster = block.cluster ?? deploymentCluster(env);
  if (cluster) runTask.cluster = cluster;
  runTask.count = 1;
  if (strategy) runTask.capacityProviderStrategy = strategy;
  else runTask.launchType = block.launch_type === 'FARGATE_SPOT' ? 'FARGATE' : block.launch_type;
  if (usesAwsvpc(block, taskDefinition) || (block.task_definition_arn && block.network_configuration)) {
    runTask.networkConfiguration = { awsvpcConfiguration: awsvpcConfiguration(block, env) };
  }
  runTask.overrides = overrides(block, target);
  runTask.startedBy = key;
  runTask.clientToken = key;
  runTask.tags = tags;
  let patchChars = 0;
  if (block.task_customizations.length) {
    const { patched, addedChars } = applyCustomizations(runTask, block);
    // the idempotency key is not the customizations' to change: it is what finds this run's task again
    runTask = { ...patched, startedBy: key, clientToken: key };
    patchChars = addedChars;
  }
  const overridesLength = overridesSize(runTask, block, patchChars);
  if (overridesLength > MAX_OVERRIDES_CHARS) {
    throw new InvalidInputError('Invalid ecs-task block', [
      {
        path: 'infrastructure.env',
        message: `the RunTask overrides are ${overridesLength} characters, over ECS's limit of ${MAX_OVERRIDES_CHARS}: move large values into the task definition (task_definition) or into secrets`,
      },
    ]);
  }
  return { taskDefinition, runTask, lookups: lookupsFor(runTask, block) };
}

/** The overrides' JSON length; skipped (0) when a generous upper bound is under the limit. */
function overridesSize(runTask: RunTaskCommandInput, block: EcsTaskBlock, patchChars: number): number {
  // copy/move can duplicate what is there: no bound then
  const duplicates = block.task_customizations.some((op) => op.op === 'copy' || op.op === 'move');
  if (!duplicates) {
    // braces, keys, sizes, the flow-run id; the names and roles; and whatever a patch adds
    let bound = 300 + patchChars + 6 * block.container_name.length;
    bound += (block.task_role_arn?.length ?? 0) + (block.execution_role_arn?.length ?? 0);
    for (const name in block.env) bound += 30 + name.length + 6 * (block.env[name]?.length ?? 0);
    for (const part of block.command) bound += 3 + 6 * part.length;
    if (bound < MAX_OVERRIDES_CHARS) return 0;
  }
  return JSON.stringify(runTask.overrides ?? {}).length;
}

function lookupsFor(runTask: RunTaskCommandInput, block: EcsTaskBlock): EcsLookups {
  const vpc = runTask.networkConfiguration?.awsvpcConfiguration;
  if (!vpc) return {};
  const where = block.vpc_id ? `VPC ${block.vpc_id}` : 'the default VPC';
  return {
    ...(vpc.subnets?.length ? {} : { subnets: `all subnets of ${where}` }),
    ...(vpc.securityGroups?.length
      ? {}
      : {
          securityGroups: `the default security group of ${vpc.subnets?.length ? "the subnets' VPC" : where}`,
        }),
  };
}
