// Prefect 3 `ecs` work pool → the ecs-task block, so that the one ECS build sends what Prefect's
// ECS worker would send for the same job configuration: the rendered `task_definition` is the
// block's definition (container named and imaged as the worker's _prepare_task_definition does),
// and the rendered `task_run_request` maps onto block fields; what it holds beyond them (e.g.
// `overrides.cpu`, `overrides.taskRoleArn`, `enableExecuteCommand`, other containers' overrides)
// becomes `task_customizations`, JSON patch operations on the RunTask request.
// Facts: src/integrations/prefect-aws/prefect_aws/workers/ecs_worker.py (ECSJobConfiguration and
// its validators, _prepare_task_definition, _prepare_task_run_request, _validate_task_definition)
// and src/prefect/workers/base.py (prepare_for_flow_run) at PrefectHQ/prefect ce79dd3.
// On purpose not as the worker does (the submitter's design, see build.ts and definition.ts):
// the family gets a content hash and the definition our tags (identical definitions are reused,
// which is what match_latest_revision_in_family asks for and more); RunTask carries
// clientToken/startedBy; an awsvpc task's security group is looked up (the worker leaves it to
// ECS, which takes the same default group); the log stream prefix without
// `cloudwatch_logs_prefix` is the block's name or `prefect` (the worker's names the work pool and
// deployment, which a job configuration does not hold).
import { InvalidInputError, type Problem } from '../../core/errors.js';
import { formatPath, shownValue } from '../../core/zod-problems.js';
import type { JobConfigurationContext, WorkPoolAdapter } from '../../prefect3/adapter.js';
import { baseFieldsOf, given, isRecord, PREFECT3_IMAGE, refuseUnknown } from '../../prefect3/job-config.js';
import { shellWords } from '../../prefect3/shell-words.js';
import { ECS_DEFAULT_CONTAINER } from './block.js';

const KNOWN = [
  'command',
  'env',
  'labels',
  'name',
  'aws_credentials',
  'task_definition',
  'task_run_request',
  'configure_cloudwatch_logs',
  'cloudwatch_logs_options',
  'cloudwatch_logs_prefix',
  'network_configuration',
  'stream_output',
  'task_start_timeout_seconds',
  'task_watch_poll_interval',
  'auto_deregister_task_definition',
  'vpc_id',
  'container_name',
  'cluster',
  'match_latest_revision_in_family',
  'prefect_api_key_secret_arn',
  'prefect_api_auth_string_secret_arn',
  'execution_role_arn',
] as const;

/** RunTask fields the block (or the build) owns; the rest of a task_run_request is patched in. */
const MAPPED_REQUEST_FIELDS = new Set([
  'launchType',
  'cluster',
  'overrides',
  'tags',
  'taskDefinition',
  'capacityProviderStrategy',
  'networkConfiguration',
]);
/** The submitter's idempotency key: it finds this run's task again, so no template may set it. */
const OWNED_REQUEST_FIELDS = new Set(['startedBy', 'clientToken']);
const AWSVPC_FIELDS = new Set(['subnets', 'securityGroups', 'assignPublicIp']);
/** AwsCredentials fields of prefect-aws that the ecs-task block does not act on. */
const UNSUPPORTED_CREDENTIALS = ['assume_role_arn', 'assume_role_kwargs'];
const LAUNCH_TYPES = ['FARGATE', 'EC2', 'EXTERNAL', 'FARGATE_SPOT'] as const;
type LaunchType = (typeof LAUNCH_TYPES)[number];

type Json = Record<string, unknown>;
type PatchOperation = { op: 'add' | 'remove'; path: string; value?: unknown };

/**
 * Prefect's _drop_empty_keys_from_dict, on a copy: keys whose value is null, "", 0, [] or {} go
 * (false stays), in nested objects and in objects inside lists too.
 */
function withoutEmpty(value: Json): Json {
  const out: Json = {};
  for (const [key, item] of Object.entries(value)) {
    const empty =
      item === null ||
      item === undefined ||
      item === '' ||
      item === 0 ||
      (Array.isArray(item) && item.length === 0) ||
      (isRecord(item) && Object.keys(item).length === 0);
    if (empty) continue;
    out[key] = isRecord(item)
      ? withoutEmpty(item)
      : Array.isArray(item)
        ? item.map((entry) => (isRecord(entry) ? withoutEmpty(entry) : entry))
        : item;
  }
  return out;
}

function pointer(...parts: (string | number)[]): string {
  return parts.map((part) => `/${String(part).replaceAll('~', '~0').replaceAll('/', '~1')}`).join('');
}

/** `{name: value}` or `[{name, value}]` (Prefect takes both) → pairs, without null values. */
function pairsOf(
  value: unknown,
  nameKey: 'name' | 'key',
  path: string,
  problems: Problem[],
): [string, string][] {
  if (value === undefined || value === null) return [];
  let entries: { name: unknown; item: unknown; path: string }[];
  if (isRecord(value)) {
    entries = Object.entries(value).map(([name, item]) => ({ name, item, path: formatPath([name], path) }));
  } else if (Array.isArray(value)) {
    entries = value.map((entry, index) => ({
      name: isRecord(entry) ? entry[nameKey] : undefined,
      item: isRecord(entry) ? entry.value : entry,
      path: `${path}[${index}]`,
    }));
  } else {
    problems.push({
      path,
      message: `expected an object or a list of {${nameKey}, value}; got ${shownValue(value)}`,
    });
    return [];
  }
  const out: [string, string][] = [];
  for (const { name, item, path: itemPath } of entries) {
    if (typeof name === 'string' && item === null) continue;
    if (typeof name !== 'string' || typeof item !== 'string') {
      problems.push({
        path: itemPath,
        message: `expected a string ${nameKey} and value; got ${shownValue(item)}`,
      });
      continue;
    }
    out.push([name, item]);
  }
  return out;
}

/** Prefect's _container_name_from_task_definition: `prefect` if there is one, else the first container's name. */
function inferredContainerName(containers: Json[]): string | undefined {
  if (containers.some((c) => c.name === ECS_DEFAULT_CONTAINER)) return ECS_DEFAULT_CONTAINER;
  const first = containers[0]?.name;
  return typeof first === 'string' && first ? first : undefined;
}

interface Reading {
  config: Json;
  context: JobConfigurationContext;
  problems: Problem[];
  block: Json;
  patches: PatchOperation[];
}

function at(reading: Reading, ...path: (string | number)[]): string {
  return formatPath(path, reading.context.path);
}

function recordAt(reading: Reading, key: string): Json | undefined {
  const value = given(reading.config, key);
  if (value === undefined || isRecord(value)) return value;
  reading.problems.push({ path: at(reading, key), message: `expected an object; got ${shownValue(value)}` });
  return undefined;
}

/** An integer cpu/memory as the definition gives it (Prefect str()s and int()s them). */
function units(value: unknown, path: string, problems: Problem[]): number | undefined {
  if (value === undefined) return undefined;
  const number = typeof value === 'number' ? value : typeof value === 'string' ? Number(value) : Number.NaN;
  if (Number.isInteger(number) && number > 0) return number;
  problems.push({ path, message: `expected a whole number of units, e.g. 1024; got ${shownValue(value)}` });
  return undefined;
}

/**
 * The task definition as the block takes it (the definition the worker's _prepare_task_definition
 * starts from, emptied of what it drops, its Prefect container named), and the block fields it sets.
 */
function readDefinition(
  reading: Reading,
  raw: Json,
  containerName: string,
  launchType: LaunchType,
  secrets: Record<string, string>,
): void {
  const { block, problems } = reading;
  const fargate = launchType === 'FARGATE' || launchType === 'FARGATE_SPOT';
  const definition = withoutEmpty(raw);
  const list = definition.containerDefinitions;
  if (list !== undefined && !Array.isArray(list)) {
    problems.push({
      path: at(reading, 'task_definition', 'containerDefinitions'),
      message: 'expected a list',
    });
    return;
  }
  const containers = (list ?? []).filter(isRecord).filter((c) => Object.keys(c).length > 0);
  if (containers.length > 0 && containers.every((c) => c.essential === false)) {
    problems.push({
      path: at(reading, 'task_definition', 'containerDefinitions'),
      message:
        'at least one container must be essential (Prefect refuses this too): drop essential: false from one',
    });
  }
  let container = containers.find((c) => c.name === containerName);
  if (!container && containerName !== ECS_DEFAULT_CONTAINER) {
    problems.push({
      path: at(reading, 'container_name'),
      message: `container '${containerName}' is not in task_definition.containerDefinitions: name one of its containers, or leave container_name unset`,
    });
    return;
  }
  if (!container) {
    // the worker names the first container without a name; with none, the build appends one
    container = containers.find((c) => !Object.hasOwn(c, 'name'));
    if (container) container.name = containerName;
  }
  if (container) {
    const index = containers.indexOf(container);
    const path = at(reading, 'task_definition', 'containerDefinitions', index);
    if (Array.isArray(container.environment)) {
      // values given as null are dropped; so are the variables a secret ARN provides
      container.environment = container.environment.filter(
        (item) => !isRecord(item) || (item.value !== null && !Object.hasOwn(secrets, String(item.name))),
      );
    }
    if (container.image !== undefined && typeof container.image !== 'string')
      problems.push({
        path: `${path}.image`,
        message: `expected an image name; got ${shownValue(container.image)}`,
      });
    block.image = typeof container.image === 'string' ? container.image : PREFECT3_IMAGE;
  } else {
    block.image = PREFECT3_IMAGE;
  }
  definition.containerDefinitions = containers;
  for (const key of ['cpu', 'memory'] as const) {
    if (definition[key] === undefined) continue;
    const size = units(definition[key], at(reading, 'task_definition', key), problems);
    definition[key] = String(definition[key]);
    // EC2/External: the worker gives the container the task's size unless the container has one
    if (!fargate && size !== undefined && container?.[key] === undefined) block[key] = size;
  }
  const compatibilities = definition.requiresCompatibilities;
  const wanted = fargate ? 'FARGATE' : launchType;
  if (
    compatibilities !== undefined &&
    !(Array.isArray(compatibilities) && compatibilities.every((item) => item === wanted))
  ) {
    problems.push({
      path: at(reading, 'task_definition', 'requiresCompatibilities'),
      message: `the submitter registers a definition for the launch type only: give ["${wanted}"] or leave it out`,
    });
  }
  if (fargate && definition.networkMode !== undefined && definition.networkMode !== 'awsvpc') {
    problems.push({
      path: at(reading, 'task_definition', 'networkMode'),
      message: `Fargate tasks take only the 'awsvpc' network mode; got ${shownValue(definition.networkMode)}`,
    });
  }
  if (definition.tags !== undefined) {
    problems.push({
      path: at(reading, 'task_definition', 'tags'),
      message:
        'the submitter tags the definitions it registers with their content hash: put these in labels (they tag the task) instead',
    });
  }
  block.task_definition = definition;
}

/** With task_run_request.taskDefinition the worker ignores the task definition: only what RunTask overrides may be in it. */
function refuseIgnoredDefinition(reading: Reading, raw: Json | undefined, containerName: string): void {
  if (!raw) return;
  const definition = withoutEmpty(raw);
  for (const [key, value] of Object.entries(definition)) {
    if (key === 'cpu' || key === 'memory') continue; // also given as RunTask overrides by the template
    const containers = key === 'containerDefinitions' && Array.isArray(value) ? value : undefined;
    const onlyName = containers?.every(
      (c) =>
        isRecord(c) &&
        Object.keys(c).every((k) => k === 'name') &&
        (c.name ?? containerName) === containerName,
    );
    if (onlyName) continue;
    reading.problems.push({
      path: at(reading, 'task_definition', key),
      message:
        "is not applied: task_run_request.taskDefinition (job variable task_definition_arn) names an existing definition, which is run as registered; unset task_definition_arn, or remove this (e.g. job variable 'image')",
    });
  }
}

/** `task_run_request.overrides` → block env and command (the Prefect container), patches for the rest. */
function readOverrides(reading: Reading, overrides: Json, containerName: string, env: Json): void {
  const { problems, patches } = reading;
  const base = ['task_run_request', 'overrides'];
  const list = overrides.containerOverrides ?? [];
  if (!Array.isArray(list) || !list.every(isRecord)) {
    problems.push({
      path: at(reading, ...base, 'containerOverrides'),
      message: 'expected a list of container overrides',
    });
    return;
  }
  // the worker names an unnamed first override after the container, then takes the first of that name
  const own = list[0] && !list[0].name ? 0 : list.findIndex((c) => c.name === containerName);
  if (own < 0) {
    problems.push({
      path: at(reading, ...base, 'containerOverrides'),
      message: `has no override for container '${containerName}', so Prefect's worker would start it without the flow run's command and environment: add {"name": "{{ container_name }}", "command": "{{ command }}", "environment": "{{ env }}"} first`,
    });
    return;
  }
  const mine = list[own] ?? {};
  // the worker replaces the Prefect container's command with the configuration's, and adds its env over this one
  for (const [name, value] of pairsOf(
    mine.environment,
    'name',
    at(reading, ...base, 'containerOverrides', own, 'environment'),
    problems,
  ))
    if (!Object.hasOwn(env, name)) env[name] = value;
  for (const [key, value] of Object.entries(mine)) {
    if (key === 'name' || key === 'command' || key === 'environment' || value === undefined || value === null)
      continue;
    patches.push({ op: 'add', path: pointer('overrides', 'containerOverrides', 0, key), value });
  }
  for (const [index, other] of list.entries()) {
    if (index === own) continue;
    const path = at(reading, ...base, 'containerOverrides', index);
    const value: Json = { ...other };
    if (typeof other.command === 'string') value.command = shellWords(other.command, `${path}.command`);
    value.environment = pairsOf(other.environment, 'name', `${path}.environment`, problems).map(
      ([name, v]) => ({ name, value: v }),
    );
    // in template order: those before the Prefect container are inserted ahead of it
    patches.push({
      op: 'add',
      path: pointer('overrides', 'containerOverrides', index < own ? index : '-'),
      value,
    });
  }
  for (const [key, value] of Object.entries(overrides)) {
    if (key === 'containerOverrides' || value === undefined || value === null) continue;
    const sized = (key === 'cpu' || key === 'memory') && value ? String(value) : value;
    patches.push({ op: 'add', path: pointer('overrides', key), value: sized });
  }
}

/** The network: the configuration's (with vpc_id), the request's, or the VPC's subnets with a public IP. */
function readNetwork(reading: Reading, request: Json, awsvpc: boolean, fargate: boolean): void {
  const { block, problems } = reading;
  const vpcId = given(reading.config, 'vpc_id');
  const custom = recordAt(reading, 'network_configuration');
  const fromRequest = isRecord(request.networkConfiguration)
    ? request.networkConfiguration.awsvpcConfiguration
    : undefined;
  if (custom && vpcId === undefined) {
    problems.push({
      path: at(reading, 'network_configuration'),
      message:
        'needs a vpc_id (Prefect refuses a custom network configuration without one): set job variable vpc_id',
    });
  }
  if (!awsvpc) {
    for (const [key, set] of [
      ['vpc_id', vpcId !== undefined],
      ['network_configuration', custom !== undefined],
      ['task_run_request.networkConfiguration', fromRequest !== undefined],
    ] as const) {
      if (set)
        problems.push({
          path: `${reading.context.path}.${key}`,
          message:
            "applies only to tasks in the 'awsvpc' network mode: set task_definition.networkMode to 'awsvpc', or remove it",
        });
    }
    return;
  }
  if (vpcId !== undefined) block.vpc_id = vpcId;
  const chosen =
    custom && vpcId !== undefined
      ? { value: custom, path: at(reading, 'network_configuration') }
      : fromRequest !== undefined
        ? {
            value: fromRequest,
            path: at(reading, 'task_run_request', 'networkConfiguration', 'awsvpcConfiguration'),
          }
        : undefined;
  if (chosen) {
    if (!isRecord(chosen.value)) {
      problems.push({
        path: chosen.path,
        message: `expected an awsvpcConfiguration object; got ${shownValue(chosen.value)}`,
      });
      return;
    }
    for (const key of Object.keys(chosen.value))
      if (!AWSVPC_FIELDS.has(key))
        problems.push({
          path: formatPath([key], chosen.path),
          message: `is not an awsvpcConfiguration field (${[...AWSVPC_FIELDS].join(', ')})`,
        });
    block.network_configuration = chosen.value;
  } else if (vpcId !== undefined) {
    // the worker's _load_network_configuration: every subnet of the VPC, and on Fargate a public
    // IP (ECS takes assignPublicIp on Fargate only); {} also makes an existing definition's run networked
    block.network_configuration = fargate ? { assignPublicIp: 'ENABLED' } : {};
  }
}

function readCredentials(reading: Reading): void {
  const credentials = recordAt(reading, 'aws_credentials');
  if (!credentials || Object.keys(credentials).length === 0) return;
  const out: Json = {};
  for (const [key, value] of Object.entries(credentials)) {
    const unset = value === null || (isRecord(value) && Object.keys(value).length === 0);
    if (!UNSUPPORTED_CREDENTIALS.includes(key)) out[key] = value;
    else if (!unset)
      reading.problems.push({
        path: at(reading, 'aws_credentials', key),
        message:
          "is not supported by this submitter: give the role's credentials (or a profile) instead, or run the submitter under that role",
      });
  }
  reading.block.aws_credentials = out;
}

function readLogs(reading: Reading, existing: boolean, definitionRole: unknown): void {
  const { block, problems, config } = reading;
  const configure = given(config, 'configure_cloudwatch_logs');
  const options = recordAt(reading, 'cloudwatch_logs_options');
  const prefix = given(config, 'cloudwatch_logs_prefix');
  const on = configure === true;
  if (configure !== undefined) block.configure_cloudwatch_logs = configure;
  if (options && Object.keys(options).length > 0 && !on)
    problems.push({
      path: at(reading, 'cloudwatch_logs_options'),
      message: 'needs configure_cloudwatch_logs set to true (Prefect refuses these options without it)',
    });
  if (!on) return;
  if (existing) {
    problems.push({
      path: at(reading, 'configure_cloudwatch_logs'),
      message:
        'cannot be applied to the existing definition named by task_run_request.taskDefinition: configure logging in that definition, or unset task_definition_arn',
    });
    return;
  }
  if (typeof definitionRole !== 'string' || !definitionRole)
    problems.push({
      path: at(reading, 'configure_cloudwatch_logs'),
      message:
        'needs an execution role on the task definition (ECS writes the logs with it): set job variable execution_role_arn',
    });
  const merged: Json = { ...(options ?? {}) };
  if (typeof prefix === 'string' && !Object.hasOwn(merged, 'awslogs-stream-prefix'))
    merged['awslogs-stream-prefix'] = prefix;
  else if (prefix !== undefined && typeof prefix !== 'string')
    problems.push({
      path: at(reading, 'cloudwatch_logs_prefix'),
      message: `expected a string; got ${shownValue(prefix)}`,
    });
  block.cloudwatch_logs_options = merged;
}

function launchTypeOf(reading: Reading, request: Json, definition: Json | undefined): LaunchType {
  const value = given(request, 'launchType');
  if (value === undefined) {
    const compatibilities = definition?.requiresCompatibilities;
    const ec2 = Array.isArray(compatibilities) && compatibilities.includes('EC2');
    // an EC2 definition with no launch type runs on the cluster's default capacity provider
    if (ec2 && !given(request, 'capacityProviderStrategy'))
      reading.patches.push({ op: 'remove', path: '/launchType' });
    return ec2 ? 'EC2' : 'FARGATE';
  }
  const known = LAUNCH_TYPES.find((type) => type === value);
  if (known) return known;
  reading.problems.push({
    path: at(reading, 'task_run_request', 'launchType'),
    message: `expected one of ${LAUNCH_TYPES.join(', ')}; got ${shownValue(value)}`,
  });
  return 'FARGATE';
}

/** A string field of the configuration, or undefined; anything else is a problem naming it. */
function stringAt(reading: Reading, source: Json, ...path: string[]): string | undefined {
  const value = given(source, path.at(-1) ?? '');
  if (value === undefined || typeof value === 'string') return value;
  reading.problems.push({
    path: at(reading, ...path),
    message: `expected a string; got ${shownValue(value)}`,
  });
  return undefined;
}

/**
 * Env and labels as Prefect 3 holds them after prepare_for_flow_run: null values dropped
 * (they neither unset nor tag); a wrong shape is left for the block schema to name.
 */
function withoutNulls(value: unknown): unknown {
  if (!isRecord(value)) return value ?? {};
  return Object.fromEntries(Object.entries(value).filter(([, item]) => item !== null));
}

/** prefect_api_key_secret_arn / prefect_api_auth_string_secret_arn → env name → secret ARN. */
function secretsOf(reading: Reading): Record<string, string> {
  const secrets: Record<string, string> = {};
  for (const [field, name] of [
    ['prefect_api_key_secret_arn', 'PREFECT_API_KEY'],
    ['prefect_api_auth_string_secret_arn', 'PREFECT_API_AUTH_STRING'],
  ] as const) {
    const arn = stringAt(reading, reading.config, field);
    if (arn === undefined) continue;
    secrets[name] = arn;
    if (reading.block.task_definition_arn !== undefined) {
      reading.problems.push({
        path: at(reading, field),
        message: `cannot be applied to the existing definition named by task_run_request.taskDefinition: add the secret '${name}' to that definition, or unset task_definition_arn`,
      });
    }
  }
  return secrets;
}

/** The definition to run: an existing one (taskDefinition ARN) or the rendered task_definition. */
function readTaskDefinition(
  reading: Reading,
  request: Json,
  raw: Json | undefined,
  launchType: LaunchType,
): {
  containerName: string;
  networkMode?: unknown;
  executionRole?: unknown;
  secrets: Record<string, string>;
} {
  const { block, config, problems } = reading;
  const existing = given(request, 'taskDefinition');
  if (existing !== undefined) {
    if (typeof existing === 'string' && /^arn:aws[a-z-]*:ecs:/.test(existing))
      block.task_definition_arn = existing;
    else
      problems.push({
        path: at(reading, 'task_run_request', 'taskDefinition'),
        message: `expected a task definition ARN (arn:aws:ecs:…:task-definition/family:revision); got ${shownValue(existing)}`,
      });
  } else if (!raw || Object.keys(raw).length === 0) {
    problems.push({
      path: at(reading, 'task_definition'),
      message:
        "a task definition is needed when task_run_request.taskDefinition names none (Prefect refuses this too): restore the template's task_definition",
    });
  }
  // Prefect's container_name_default_from_task_definition, on the rendered definition; for an
  // existing definition the worker looks at the registered one, which a build cannot: `prefect`
  const containers = Array.isArray(raw?.containerDefinitions)
    ? raw.containerDefinitions.filter(isRecord)
    : [];
  const containerName =
    stringAt(reading, config, 'container_name') ??
    (existing === undefined ? inferredContainerName(containers) : undefined) ??
    ECS_DEFAULT_CONTAINER;
  block.container_name = containerName;
  const secrets = secretsOf(reading);
  if (existing !== undefined) {
    refuseIgnoredDefinition(reading, raw, containerName);
    return { containerName, secrets };
  }
  if (raw) readDefinition(reading, raw, containerName, launchType, secrets);
  if (Object.keys(secrets).length > 0) block.secrets = secrets;
  const definition = isRecord(block.task_definition) ? block.task_definition : {};
  return {
    containerName,
    networkMode: definition.networkMode,
    executionRole: definition.executionRoleArn,
    secrets,
  };
}

/** The task_run_request fields beyond the mapped ones: patched into the RunTask request as they are. */
function readOtherRequestFields(reading: Reading, request: Json): void {
  for (const [key, value] of Object.entries(request)) {
    if (MAPPED_REQUEST_FIELDS.has(key) || value === undefined) continue;
    if (OWNED_REQUEST_FIELDS.has(key)) {
      reading.problems.push({
        path: at(reading, 'task_run_request', key),
        message: `is the submitter's: it sets ${key} to the flow run's idempotency key, which finds the run's task again; remove it`,
      });
      continue;
    }
    reading.patches.push({ op: 'add', path: pointer(key), value });
  }
}

function readScalars(reading: Reading): void {
  const { block, config } = reading;
  for (const key of ['stream_output', 'auto_deregister_task_definition'] as const) {
    const value = given(config, key);
    if (value !== undefined) block[key] = value;
  }
  // no longer read by Prefect's worker, whose own json_template gives them as 0: 0 = the block's default
  for (const key of ['task_start_timeout_seconds', 'task_watch_poll_interval'] as const) {
    const value = given(config, key);
    if (value !== undefined && value !== 0) block[key] = value;
  }
  // match_latest_revision_in_family is what the build always does, and more: an identical ACTIVE
  // definition (same content hash, so same family) is reused, whatever this says
}

function toEcsBlock(config: Json, context: JobConfigurationContext): Json {
  if (given(config, 'task_definition_arn') !== undefined) {
    throw new InvalidInputError('Job configuration not supported', [
      {
        path: `${context.path}.task_definition_arn`,
        message:
          "Prefect's worker reads the definition to run from task_run_request.taskDefinition: put '{{ task_definition_arn }}' there",
      },
    ]);
  }
  refuseUnknown(config, KNOWN, context);
  const base = baseFieldsOf(config, context);
  const block: Json = { type: 'ecs-task', command: base.command };
  if (base.name !== undefined) block.name = base.name;
  const reading: Reading = { config, context, problems: [], block, patches: [] };

  const request = recordAt(reading, 'task_run_request') ?? {};
  const rawDefinition = recordAt(reading, 'task_definition');
  const launchType = launchTypeOf(reading, request, rawDefinition);
  block.launch_type = launchType;
  const fargate = launchType === 'FARGATE' || launchType === 'FARGATE_SPOT';
  const definition = readTaskDefinition(reading, request, rawDefinition, launchType);
  const existing = block.task_definition_arn !== undefined;
  const role = given(config, 'execution_role_arn');
  if (role !== undefined && role !== definition.executionRole) {
    reading.problems.push({
      path: at(reading, 'execution_role_arn'),
      message:
        "Prefect's worker does not put this into the task definition: give it as task_definition.executionRoleArn (job variable execution_role_arn does)",
    });
  }

  const cluster =
    stringAt(reading, request, 'task_run_request', 'cluster') ?? stringAt(reading, config, 'cluster');
  if (cluster !== undefined) block.cluster = cluster;
  const strategy = given(request, 'capacityProviderStrategy');
  if (strategy !== undefined && !(Array.isArray(strategy) && strategy.length === 0))
    block.capacity_provider_strategy = strategy;

  const env = withoutNulls(base.env);
  if (isRecord(env)) {
    for (const name of Object.keys(definition.secrets)) delete env[name];
    const overrides = given(request, 'overrides') ?? {};
    if (isRecord(overrides)) readOverrides(reading, overrides, definition.containerName, env);
    else
      reading.problems.push({
        path: at(reading, 'task_run_request', 'overrides'),
        message: `expected an object; got ${shownValue(overrides)}`,
      });
  }
  block.env = env;
  // tags: the request's, then the configuration's labels over them
  const labels = withoutNulls(base.labels);
  if (isRecord(labels)) {
    const tags: Json = {};
    for (const [key, value] of pairsOf(
      given(request, 'tags'),
      'key',
      at(reading, 'task_run_request', 'tags'),
      reading.problems,
    ))
      if (!Object.hasOwn(labels, key)) tags[key] = value;
    block.labels = { ...tags, ...labels };
  } else block.labels = labels;

  readOtherRequestFields(reading, request);
  readNetwork(reading, request, fargate || definition.networkMode === 'awsvpc' || existing, fargate);
  readCredentials(reading);
  readLogs(reading, existing, definition.executionRole);
  readScalars(reading);
  if (reading.problems.length > 0)
    throw new InvalidInputError('Job configuration not supported', reading.problems);
  if (reading.patches.length > 0) block.task_customizations = reading.patches;
  return block;
}

export const workPool: WorkPoolAdapter = {
  poolTypes: ['ecs'],
  blockType: 'ecs-task',
  toBlock: toEcsBlock,
};
