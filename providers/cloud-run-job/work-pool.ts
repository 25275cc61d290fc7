// Prefect 3 `cloud-run` and `cloud-run-v2` work pools → the cloud-run-job block. One adapter for
// both pool types: the job configuration's `job_body` says which worker it is for (v1: a Knative
// `run.googleapis.com/v1` Job with `spec`; v2: a Cloud Run Admin API v2 Job with `template`), and
// both become the one request our build sends, `projects.locations.jobs.create` of the v2 API.
// For a cloud-run-v2 pool that is the request Prefect's worker sends; for a cloud-run (v1) pool
// it is the v2 equivalent of the v1 Job it sends (same container, resources, timeout, service
// account, VPC connector, launch stage, retries), as our client speaks only v2.
// What the worker sends: CloudRunWorkerJobV2Configuration.prepare_for_flow_run in
// src/integrations/prefect-gcp/prefect_gcp/workers/cloud_run_v2.py and
// CloudRunWorkerJobConfiguration.prepare_for_flow_run in .../workers/cloud_run.py, at
// PrefectHQ/prefect ce79dd3d6cfa2b7337265498210dbc4d25bcdc98.
import { InvalidInputError, type Problem } from '../../core/errors.js';
import { shownValue } from '../../core/zod-problems.js';
import type { JobConfigurationContext, WorkPoolAdapter } from '../../prefect3/adapter.js';
import {
  at,
  baseFieldsOf,
  commandOf,
  given,
  isRecord,
  objectAt,
  PREFECT3_IMAGE,
  refuse,
  refuseUnknown,
} from '../../prefect3/job-config.js';
import { shellWords } from '../../prefect3/shell-words.js';

type Context = JobConfigurationContext;

/** The one container Prefect's worker reads (`containers[0]`); a second is refused. */
function onlyContainer(parent: Record<string, unknown>, context: Context): Record<string, unknown> {
  const containers = given(parent, 'containers');
  const path = at(context, 'containers').path;
  if (!Array.isArray(containers) || containers.length === 0)
    throw refuse(
      path,
      'required: a list with the one container of the flow run (as in the default template)',
    );
  if (containers.length > 1)
    throw refuse(
      `${path}[1]`,
      'the submitter runs one container per job (Prefect configures only the first): remove the others',
    );
  const [container] = containers;
  if (!isRecord(container)) throw refuse(`${path}[0]`, `expected an object; got ${shownValue(container)}`);
  return container;
}

/** A value that, if given, must equal `expected` (what the submitter always sends). */
function fixed(parent: Record<string, unknown>, key: string, expected: unknown, context: Context): void {
  const value = given(parent, key);
  if (value !== undefined && value !== expected)
    throw refuse(
      at(context, key).path,
      `the submitter always sends ${shownValue(expected)} here; got ${shownValue(value)}: remove it or set ${shownValue(expected)}`,
    );
}

/** Labels in the job body itself: Prefect merges them into the job's; the block has one set of labels. */
function noBodyLabels(parent: Record<string, unknown>, context: Context): void {
  const labels = given(parent, 'labels');
  if (isRecord(labels) && Object.keys(labels).length === 0) return;
  if (labels !== undefined)
    throw refuse(
      at(context, 'labels').path,
      "labels in the job body are not supported: give them as the job variable 'labels' (they go on the job and its executions)",
    );
}

/** A GCP credentials block (rendered `{{ prefect.blocks.gcp-credentials.NAME }}`) → the block's credentials. */
function credentialsOf(
  config: Record<string, unknown>,
  context: Context,
): Record<string, unknown> | undefined {
  const value = given(config, 'credentials');
  if (value === undefined) return undefined;
  const path = at(context, 'credentials');
  if (!isRecord(value))
    throw refuse(
      path.path,
      `expected a GCP credentials block, e.g. "{{ prefect.blocks.gcp-credentials.NAME }}"; got ${shownValue(value)}`,
    );
  if (given(value, 'service_account_file') !== undefined)
    throw refuse(
      at(path, 'service_account_file').path,
      "a key file path on a worker's machine means nothing to the submitter: give the key's contents as service_account_info",
    );
  refuseUnknown(value, ['service_account_info', 'project', 'service_account_file'], path);
  const out: Record<string, unknown> = {};
  for (const key of ['service_account_info', 'project'] as const) {
    const item = given(value, key);
    if (item !== undefined) out[key] = item;
  }
  return Object.keys(out).length > 0 ? out : undefined;
}

/**
 * `env_from_secrets` plus `prefect_api_key_secret` / `prefect_api_auth_string_secret` (each a
 * Secret Manager `{secret, version}`): the worker sends them as secretKeyRef env vars, the two
 * Prefect ones last and instead of any plain value of the same name.
 */
function secretEnvOf(
  config: Record<string, unknown>,
  fromTemplate: Record<string, unknown>,
  context: Context,
): Record<string, unknown> {
  const out: Record<string, unknown> = { ...fromTemplate, ...objectAt(config, 'env_from_secrets', context) };
  const problems: Problem[] = [];
  for (const [field, name] of [
    ['prefect_api_key_secret', 'PREFECT_API_KEY'],
    ['prefect_api_auth_string_secret', 'PREFECT_API_AUTH_STRING'],
  ] as const) {
    const ref = given(config, field);
    if (ref === undefined) continue;
    if (Object.hasOwn(out, name)) {
      problems.push({
        path: at(context, field).path,
        message: `${name} is also in env_from_secrets (Prefect's worker would send it twice): give it in one place`,
      });
      continue;
    }
    out[name] = ref;
  }
  if (problems.length > 0) throw new InvalidInputError('Job configuration not supported', problems);
  return out;
}

/** What both job shapes give the block alike: base fields, the container's command, image, args, env and credentials. */
function containerBlock(
  config: Record<string, unknown>,
  container: Record<string, unknown>,
  containerAt: Context,
  fromTemplate: { env: Record<string, unknown>; secrets: Record<string, unknown> },
  context: Context,
): Record<string, unknown> {
  const block: Record<string, unknown> = {
    type: 'cloud-run-job',
    ...baseFieldsOf(config, context),
    // the container's command is what the worker sends (a string split, none → its default)
    command: commandOf(container, containerAt),
    image: given(container, 'image') ?? PREFECT3_IMAGE,
    env_from_secrets: secretEnvOf(config, fromTemplate.secrets, context),
  };
  const env = given(config, 'env');
  if (Object.keys(fromTemplate.env).length > 0)
    block.env = { ...fromTemplate.env, ...(isRecord(env) ? env : {}) };
  const args = argsOf(container, containerAt);
  if (args !== undefined) block.args = args;
  const credentials = credentialsOf(config, context);
  if (credentials) block.credentials = credentials;
  return block;
}

/** Entries of a template's `containers[0].env`: plain ones → env, secret references → env_from_secrets. */
function templateEnv(
  entries: unknown,
  secretRef: (entry: Record<string, unknown>) => unknown,
  context: Context,
): { env: Record<string, unknown>; secrets: Record<string, unknown> } {
  const env: Record<string, unknown> = {};
  const secrets: Record<string, unknown> = {};
  if (entries === undefined) return { env, secrets };
  if (!Array.isArray(entries))
    throw refuse(context.path, `expected a list of env entries; got ${shownValue(entries)}`);
  entries.forEach((entry, index) => {
    const path = `${context.path}[${index}]`;
    const name = isRecord(entry) ? entry.name : undefined;
    if (!isRecord(entry) || typeof name !== 'string')
      throw refuse(path, `expected {"name": …, "value": …}; got ${shownValue(entry)}`);
    const ref = secretRef(entry);
    if (ref !== undefined) secrets[name] = ref;
    else if (typeof entry.value === 'string' && Object.keys(entry).length === 2) env[name] = entry.value;
    else
      throw refuse(
        path,
        'only {"name", "value"} or a Secret Manager reference is supported here: move it to the job variable env',
      );
  });
  return { env, secrets };
}

/** The container's args: a string is split as the worker's shlex.split does; a list is kept for the schema to judge. */
function argsOf(container: Record<string, unknown>, context: Context): unknown {
  const args = given(container, 'args');
  return typeof args === 'string' ? shellWords(args, at(context, 'args').path) : args;
}

const V2_KNOWN = [
  'command',
  'env',
  'labels',
  'name',
  'credentials',
  'job_body',
  'keep_job',
  'region',
  'timeout',
  'env_from_secrets',
  'prefect_api_key_secret',
  'prefect_api_auth_string_secret',
  'cloudsql_instances',
] as const;

/** Prefect's enum spells the unspecified stage LAUNCH_TAG_UNSPECIFIED; Google's is LAUNCH_STAGE_UNSPECIFIED. */
function launchStage(value: unknown): unknown {
  return value === 'LAUNCH_TAG_UNSPECIFIED' ? 'LAUNCH_STAGE_UNSPECIFIED' : value;
}

function v2Block(
  config: Record<string, unknown>,
  body: Record<string, unknown>,
  context: Context,
): Record<string, unknown> {
  const bodyAt = at(context, 'job_body');
  refuseUnknown(body, ['client', 'launchStage', 'template', 'labels'], bodyAt);
  fixed(body, 'client', 'prefect', bodyAt);
  noBodyLabels(body, bodyAt);
  const execution = objectAt(body, 'template', bodyAt);
  const executionAt = at(bodyAt, 'template');
  refuseUnknown(execution, ['template', 'labels', 'taskCount'], executionAt);
  fixed(execution, 'taskCount', 1, executionAt);
  noBodyLabels(execution, executionAt);
  const task = objectAt(execution, 'template', executionAt);
  const taskAt = at(executionAt, 'template');
  // `timeout` is overwritten by the worker with the job configuration's timeout
  refuseUnknown(task, ['containers', 'serviceAccount', 'maxRetries', 'timeout', 'vpcAccess'], taskAt);
  const vpcAccess = objectAt(task, 'vpcAccess', taskAt);
  refuseUnknown(vpcAccess, ['connector'], at(taskAt, 'vpcAccess'));
  const container = onlyContainer(task, taskAt);
  const containerAt = at(taskAt, 'containers', 0);
  refuseUnknown(container, ['env', 'image', 'command', 'args', 'resources'], containerAt);
  const resources = objectAt(container, 'resources', containerAt);
  refuseUnknown(resources, ['limits'], at(containerAt, 'resources'));
  const limits = objectAt(resources, 'limits', at(containerAt, 'resources'));
  refuseUnknown(limits, ['cpu', 'memory'], at(containerAt, 'resources', 'limits'));
  const fromTemplate = templateEnv(
    given(container, 'env'),
    (entry) => {
      const source = entry.valueSource;
      return isRecord(source) && Object.keys(entry).length === 2 ? source.secretKeyRef : undefined;
    },
    at(containerAt, 'env'),
  );

  const block = containerBlock(config, container, containerAt, fromTemplate, context);
  const fields: [string, unknown][] = [
    ['region', given(config, 'region')],
    ['keep_job', given(config, 'keep_job')],
    ['timeout', given(config, 'timeout')],
    ['cloudsql_instances', given(config, 'cloudsql_instances')],
    ['launch_stage', launchStage(given(body, 'launchStage'))],
    ['max_retries', given(task, 'maxRetries')],
    ['service_account_name', given(task, 'serviceAccount')],
    ['vpc_connector_name', given(vpcAccess, 'connector')],
    ['cpu', given(limits, 'cpu')],
    ['memory', given(limits, 'memory')],
  ];
  for (const [key, value] of fields) if (value !== undefined) block[key] = value;
  // No launchStage in the body: the API reads the unset enum as LAUNCH_STAGE_UNSPECIFIED.
  if (given(body, 'launchStage') === undefined) block.launch_stage = 'LAUNCH_STAGE_UNSPECIFIED';
  // No maxRetries in the body: Cloud Run's default, 3, which is the block's default too.
  return block;
}

const V1_KNOWN = [
  'command',
  'env',
  'labels',
  'name',
  'region',
  'credentials',
  'job_body',
  'timeout',
  'keep_job',
  'prefect_api_key_secret',
  'prefect_api_auth_string_secret',
] as const;

const LAUNCH_STAGE_ANNOTATION = 'run.googleapis.com/launch-stage';
const VPC_ANNOTATION = 'run.googleapis.com/vpc-access-connector';

function annotations(
  meta: Record<string, unknown>,
  allowed: string,
  context: Context,
): Record<string, unknown> {
  const out = objectAt(meta, 'annotations', context);
  refuseUnknown(out, [allowed], at(context, 'annotations'));
  return out;
}

function v1Block(
  config: Record<string, unknown>,
  body: Record<string, unknown>,
  context: Context,
): Record<string, unknown> {
  const bodyAt = at(context, 'job_body');
  refuseUnknown(body, ['apiVersion', 'kind', 'metadata', 'spec'], bodyAt);
  fixed(body, 'apiVersion', 'run.googleapis.com/v1', bodyAt);
  fixed(body, 'kind', 'Job', bodyAt);
  const metadata = objectAt(body, 'metadata', bodyAt);
  const metadataAt = at(bodyAt, 'metadata');
  refuseUnknown(metadata, ['name', 'annotations', 'labels'], metadataAt);
  noBodyLabels(metadata, metadataAt);
  const name = given(metadata, 'name');
  if (name !== undefined && name !== given(config, 'name'))
    throw refuse(
      at(metadataAt, 'name').path,
      "the job's name is the submitter's (one per flow run, from the job variable 'name'): remove it",
    );
  const stage = given(annotations(metadata, LAUNCH_STAGE_ANNOTATION, metadataAt), LAUNCH_STAGE_ANNOTATION);
  const spec = objectAt(body, 'spec', bodyAt);
  const specAt = at(bodyAt, 'spec');
  refuseUnknown(spec, ['template'], specAt);
  const execution = objectAt(spec, 'template', specAt);
  const executionAt = at(specAt, 'template');
  refuseUnknown(execution, ['metadata', 'spec'], executionAt);
  const executionMeta = objectAt(execution, 'metadata', executionAt);
  const executionMetaAt = at(executionAt, 'metadata');
  refuseUnknown(executionMeta, ['annotations', 'labels'], executionMetaAt);
  noBodyLabels(executionMeta, executionMetaAt);
  const connector = given(annotations(executionMeta, VPC_ANNOTATION, executionMetaAt), VPC_ANNOTATION);
  const executionSpec = objectAt(execution, 'spec', executionAt);
  const executionSpecAt = at(executionAt, 'spec');
  refuseUnknown(executionSpec, ['template', 'taskCount'], executionSpecAt);
  fixed(executionSpec, 'taskCount', 1, executionSpecAt);
  const taskTemplate = objectAt(executionSpec, 'template', executionSpecAt);
  refuseUnknown(taskTemplate, ['spec'], at(executionSpecAt, 'template'));
  const task = objectAt(taskTemplate, 'spec', at(executionSpecAt, 'template'));
  const taskAt = at(executionSpecAt, 'template', 'spec');
  refuseUnknown(task, ['containers', 'timeoutSeconds', 'serviceAccountName', 'maxRetries'], taskAt);
  const container = onlyContainer(task, taskAt);
  const containerAt = at(taskAt, 'containers', 0);
  refuseUnknown(container, ['env', 'image', 'command', 'args', 'resources'], containerAt);
  const resources = objectAt(container, 'resources', containerAt);
  const resourcesAt = at(containerAt, 'resources');
  refuseUnknown(resources, ['limits', 'requests'], resourcesAt);
  const limits = objectAt(resources, 'limits', resourcesAt);
  refuseUnknown(limits, ['cpu', 'memory'], at(resourcesAt, 'limits'));
  const requests = objectAt(resources, 'requests', resourcesAt);
  for (const key of ['cpu', 'memory'] as const) {
    const request = given(requests, key);
    if (request !== undefined && request !== given(limits, key))
      throw refuse(
        at(resourcesAt, 'requests', key).path,
        `Cloud Run v2 has limits only: a request different from the limit (${shownValue(given(limits, key))}) cannot be sent; make them equal`,
      );
  }
  refuseUnknown(requests, ['cpu', 'memory'], at(resourcesAt, 'requests'));
  const fromTemplate = templateEnv(
    given(container, 'env'),
    (entry) => {
      const from = entry.valueFrom;
      const ref = isRecord(from) ? from.secretKeyRef : undefined;
      // v1's secretKeyRef {name: secret, key: version} is v2's {secret, version}
      return isRecord(ref) && Object.keys(entry).length === 2
        ? { secret: ref.name, version: ref.key }
        : undefined;
    },
    at(containerAt, 'env'),
  );
  const timeoutSeconds = given(task, 'timeoutSeconds');
  const timeout = given(config, 'timeout');
  if (timeoutSeconds !== undefined && timeout !== undefined && timeoutSeconds !== timeout)
    throw refuse(
      at(context, 'timeout').path,
      `the submitter has one timeout, the task's (timeoutSeconds ${shownValue(timeoutSeconds)}): make them equal`,
    );

  // the v1 job has no maxRetries unless the task spec sets one: Cloud Run's default is 3, the block's too
  const block = containerBlock(config, container, containerAt, fromTemplate, context);
  const fields: [string, unknown][] = [
    ['region', given(config, 'region')],
    ['keep_job', given(config, 'keep_job')],
    ['timeout', timeoutSeconds ?? timeout],
    ['launch_stage', stage],
    ['max_retries', given(task, 'maxRetries')],
    ['service_account_name', given(task, 'serviceAccountName')],
    ['vpc_connector_name', connector],
    ['cpu', given(limits, 'cpu')],
    ['memory', given(limits, 'memory')],
  ];
  for (const [key, value] of fields) if (value !== undefined) block[key] = value;
  return block;
}

export const workPool: WorkPoolAdapter = {
  poolTypes: ['cloud-run', 'cloud-run-v2'],
  blockType: 'cloud-run-job',
  toBlock(config, context) {
    const body = given(config, 'job_body');
    const bodyPath = at(context, 'job_body').path;
    if (!isRecord(body))
      throw refuse(
        bodyPath,
        `required: the Cloud Run job body of the pool's base job template; got ${shownValue(body ?? null)}`,
      );
    const v1 = Object.hasOwn(body, 'apiVersion') || Object.hasOwn(body, 'spec');
    refuseUnknown(config, v1 ? V1_KNOWN : V2_KNOWN, context);
    return v1 ? v1Block(config, body, context) : v2Block(config, body, context);
  },
};
