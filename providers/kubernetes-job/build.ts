// Block + flow run → the exact `batch/v1` Job to create (pure), built as Prefect's
// `KubernetesJob.build_job` does: the base `job`, then the shortcut patch (namespace, image,
// labels, env, pull policy, service account, command, generateName), then `customizations`.
import { createHash } from 'node:crypto';
import jsonpatch from 'fast-json-patch';
import { InvalidInputError, type Problem } from '../../core/errors.js';
import { concreteEnv, DEFAULT_PREFECT_IMAGE } from '../base.js';
import { flowRunEnv, flowRunLabels, idempotencyKey } from '../identity.js';
import { runName } from '../naming.js';
import type { Target } from '../port.js';
import { baseJobProblems } from './base-job.js';
import type { KubernetesJobBlock } from './block.js';
import {
  DNS_1123_LABEL,
  labelKeyProblem,
  labelValueProblem,
  slugifyLabelKey,
  slugifyLabelValue,
  slugifyName,
} from './names.js';

export interface JobMetadata {
  name?: string;
  generateName?: string;
  namespace?: string;
  labels?: Record<string, string>;
  [field: string]: unknown;
}

/** A `batch/v1` Job manifest; beyond these fields, whatever the base job and customizations hold. */
export interface JobManifest {
  apiVersion: string;
  kind: string;
  metadata: JobMetadata;
  spec: Record<string, unknown>;
  [field: string]: unknown;
}

export interface KubernetesJobRequest {
  /** `POST /apis/batch/v1/namespaces/{namespace}/jobs` with `job` as the body. */
  namespace: string;
  job: JobManifest;
  /**
   * `job.metadata.name` is derived from it: creating the same flow run's Job twice is refused
   * (409 AlreadyExists), so a redelivery adopts the first Job instead of starting another.
   */
  idempotency_key: string;
}

type Operation = jsonpatch.Operation;

const CONTAINER = '/spec/template/spec/containers/0';
const DEFAULT_NAMESPACE = 'default';

function pointer(key: string): string {
  return key.replace(/~/g, '~0').replace(/\//g, '~1');
}

/** Prefect's `stable_hash`: md5 over the strings, concatenated. */
function stableHash(...parts: string[]): string {
  const hash = createHash('md5');
  for (const part of parts) hash.update(part);
  return hash.digest('hex');
}

/**
 * The run's environment, in Prefect's order (flow-run variables first, then the block's) but
 * with the flow-run id always the submitter's: it is what ties the pod to its flow run.
 */
function runEnv({ block, flowRun }: Target<KubernetesJobBlock>): Record<string, string> {
  return { ...flowRunEnv(flowRun), ...concreteEnv(block.env), ...flowRunEnv(flowRun) };
}

function record(value: unknown): Record<string, unknown> | undefined {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : undefined;
}

function nonEmpty(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined;
}

/** The block's namespace; else the base job's own; else `default`. */
function namespaceOf(block: KubernetesJobBlock, job: Record<string, unknown>): string {
  return block.namespace ?? nonEmpty(record(job.metadata)?.namespace) ?? DEFAULT_NAMESPACE;
}

/** The block's image; else the base job's first container's own; else the Prefect image. */
function imageOf(block: KubernetesJobBlock, job: Record<string, unknown>): string {
  const pod = record(record(record(job.spec)?.template)?.spec);
  const first = Array.isArray(pod?.containers) ? record(pod.containers[0]) : undefined;
  return block.image ?? nonEmpty(first?.image) ?? DEFAULT_PREFECT_IMAGE;
}

function labelOperations(labels: Record<string, string>): { ops: Operation[]; problems: Problem[] } {
  const ops: Operation[] = [];
  const problems: Problem[] = [];
  for (const [key, value] of Object.entries(labels)) {
    const slugKey = slugifyLabelKey(key);
    const slugValue = slugifyLabelValue(value);
    const problem = labelKeyProblem(slugKey) ?? labelValueProblem(slugValue);
    if (problem) {
      problems.push({
        path: `infrastructure.labels[${JSON.stringify(key)}]`,
        message: `is not a valid Kubernetes label even after slugifying: ${problem}`,
      });
    } else {
      ops.push({ op: 'add', path: `/metadata/labels/${pointer(slugKey)}`, value: slugValue });
    }
  }
  return { ops, problems };
}

/**
 * Prefect's `_shortcut_customizations`, then the worker defaults (backoffLimit 0, the
 * finished-job TTL) and the deterministic name.
 *
 * Idempotency: Prefect only sets `generateName`, which gives every create a new Job. We also
 * set `metadata.name` = `<slug ≤ 45>-<12 hex of the idempotency key>` (≤ 58 characters,
 * RFC 1123): the API server then refuses a second create for the same flow run with 409,
 * atomically, where a lookup by label before creating would race with a concurrent
 * redelivery. The `prefect.io/flow-run-id` label is still set, so submit can confirm a Job it
 * finds under that name is this flow run's. `generateName` stays (Prefect's manifest); the API
 * server ignores it while `name` is set.
 */
function shortcutOperations(target: Target<KubernetesJobBlock>, job: Record<string, unknown>) {
  const { block, flowRun } = target;
  const env = runEnv(target);
  const labels = labelOperations({ ...block.labels, ...flowRunLabels(flowRun) });
  const displayName = block.name ?? flowRun.name ?? '';
  const nameSlug = slugifyName(displayName);
  const ops: Operation[] = [
    { op: 'add', path: '/metadata/namespace', value: namespaceOf(block, job) },
    { op: 'add', path: `${CONTAINER}/image`, value: imageOf(block, job) },
    ...labels.ops,
    ...Object.entries(env).map(
      ([name, value]): Operation => ({ op: 'add', path: `${CONTAINER}/env/-`, value: { name, value } }),
    ),
  ];
  if (block.image_pull_policy) {
    ops.push({ op: 'add', path: `${CONTAINER}/imagePullPolicy`, value: block.image_pull_policy });
  }
  if (block.service_account_name) {
    ops.push({
      op: 'add',
      path: '/spec/template/spec/serviceAccountName',
      value: block.service_account_name,
    });
  }
  // Prefect writes the command as the container's args: the image's entrypoint still runs (the
  // Prefect image's installs EXTRA_PIP_PACKAGES), and a base job or customization that sets
  // `command` (e.g. `conda run -n env`) prefixes the flow command instead of replacing it.
  ops.push({ op: 'add', path: `${CONTAINER}/args`, value: block.command });
  ops.push({
    op: 'add',
    path: '/metadata/generateName',
    value: `${nameSlug || `prefect-job-${stableHash(...block.command, ...Object.keys(env), ...Object.values(env))}`}-`,
  });
  if (block.finished_job_ttl !== null) {
    ops.push({ op: 'add', path: '/spec/ttlSecondsAfterFinished', value: block.finished_job_ttl });
  }
  const spec = job.spec as Record<string, unknown>;
  // Prefect's worker: a failed flow run is not retried by Kubernetes (Prefect retries flows itself)
  if (spec.backoffLimit === undefined) ops.push({ op: 'add', path: '/spec/backoffLimit', value: 0 });
  ops.push({ op: 'add', path: '/metadata/name', value: runName(nameSlug, flowRun.id, 'prefect-job') });
  return { ops, problems: labels.problems };
}

/**
 * One operation at a time: fast-json-patch reports index 0 for a path that does not exist,
 * whichever operation it was, so the index is kept here.
 */
function applyCustomizations(job: JobManifest, block: KubernetesJobBlock): JobManifest {
  let document = job;
  (block.customizations as Operation[]).forEach((operation, index) => {
    try {
      document = jsonpatch.applyOperation(document, operation, true, true, true, index).newDocument;
    } catch (error) {
      const message = error instanceof Error ? error.message.split('\n')[0] : String(error);
      throw new InvalidInputError('Invalid kubernetes-job block', [
        {
          path: `infrastructure.customizations[${index}]`,
          message: `cannot be applied to the Job manifest (${message}); paths are JSON pointers into it, e.g. '/spec/template/spec/containers/0/resources'`,
        },
      ]);
    }
  });
  return document;
}

function finalChecks(job: JobManifest): Problem[] {
  const problems: Problem[] = [];
  const { name, namespace } = job.metadata ?? {};
  if (typeof namespace !== 'string' || namespace.length > 63 || !DNS_1123_LABEL.test(namespace)) {
    problems.push({
      path: 'infrastructure.namespace',
      message: `'${String(namespace)}' is not a namespace name: at most 63 lowercase letters, digits and '-', starting and ending with a letter or digit`,
    });
  }
  if (name !== undefined && (typeof name !== 'string' || name.length > 63 || !DNS_1123_LABEL.test(name))) {
    problems.push({
      path: 'infrastructure.customizations',
      message: `set metadata.name to '${String(name)}', which Kubernetes refuses for a Job: at most 63 lowercase letters, digits and '-'`,
    });
  }
  return problems;
}

export function buildKubernetesJob(target: Target<KubernetesJobBlock>): KubernetesJobRequest {
  const { block, flowRun } = target;
  const baseProblems = baseJobProblems(block.job);
  if (baseProblems.length > 0) throw new InvalidInputError('Invalid kubernetes-job block', baseProblems);

  const base = structuredClone(block.job) as unknown as JobManifest;
  const shortcuts = shortcutOperations(target, block.job);
  if (shortcuts.problems.length > 0) {
    throw new InvalidInputError('Invalid kubernetes-job block', shortcuts.problems);
  }
  const patched = jsonpatch.applyPatch(base, shortcuts.ops, true, true).newDocument;
  const job = applyCustomizations(patched, block);
  const problems = finalChecks(job);
  if (problems.length > 0) throw new InvalidInputError('Invalid kubernetes-job block', problems);
  return {
    namespace: job.metadata.namespace ?? DEFAULT_NAMESPACE,
    job,
    idempotency_key: idempotencyKey(flowRun.id),
  };
}
