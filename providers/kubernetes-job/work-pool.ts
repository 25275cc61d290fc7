// Prefect 3 `kubernetes` work pool → the kubernetes-job block. The rendered `job_manifest` is
// the block's base `job`; the rest is what Prefect's worker does to it before creating the Job
// (KubernetesWorkerJobConfiguration: _validate_job_manifest, then prepare_for_flow_run with
// BaseJobConfiguration.prepare_for_flow_run, _configure_eviction_handling,
// _populate_env_in_manifest, _slugify_labels, _slugify_annotations,
// _populate_image_if_not_present, _populate_command_if_not_present,
// _populate_generate_name_if_not_present, _propagate_labels_to_pod,
// _propagate_annotations_to_pod), expressed in the block's terms so the one build writes it:
// - env: the container gets [PREFECT__FLOW_RUN_ID, the plain variables, the `valueFrom`
//   entries, the template's own entries]; plain ones are the block's `env`, the rest (kept
//   unchanged, in the worker's order) are `customizations` that append to the container's env;
// - labels: manifest labels < the worker's (flow run, managed-by, part-of) < the configuration's,
//   slugified here with case kept, on the Job and on the pod template as the worker does;
// - annotations: merged and key-slugified on the Job, copied to the pod template when any;
// - image: the first container's, else PREFECT3_IMAGE; command: the first container's `args`
//   (a string split like shlex), else PREFECT3_COMMAND; generateName: from `name` (its
//   {{ ctx.flow_run.* }} placeholders rendered), else the flow run's name.
// Facts: src/integrations/prefect-kubernetes/prefect_kubernetes/worker.py and
// src/prefect/workers/base.py at PrefectHQ/prefect ce79dd3.
import { isDeepStrictEqual } from 'node:util';
import { InvalidInputError, type Problem } from '../../core/errors.js';
import { shownValue } from '../../core/zod-problems.js';
import type { JobConfigurationContext, WorkPoolAdapter } from '../../prefect3/adapter.js';
import {
  commandOf,
  given,
  isRecord,
  PREFECT3_COMMAND,
  PREFECT3_IMAGE,
  refuse,
  refuseUnknown,
} from '../../prefect3/job-config.js';
import { applyValues, findPlaceholders, NOT_SET } from '../../prefect3/render.js';
import { shellWords } from '../../prefect3/shell-words.js';
import { FLOW_RUN_ID_ENV, FLOW_RUN_LABEL, FLOW_RUN_NAME_LABEL } from '../identity.js';
import { baseJobProblems } from './base-job.js';
import {
  labelKeyProblem,
  labelValueProblem,
  slugifyLabelKey,
  slugifyLabelValue,
  slugifyName,
} from './names.js';

const KNOWN = [
  'annotations',
  'cluster_config',
  'command',
  'env',
  'job_manifest',
  'job_watch_timeout_seconds',
  'labels',
  'name',
  'namespace',
  'pod_watch_timeout_seconds',
  'stream_output',
] as const;

/** KubernetesWorkerJobConfiguration.namespace's default. */
const DEFAULT_NAMESPACE = 'default';
/** The labels of `_base_flow_run_labels` that do not depend on Prefect's version or the flow run. */
const WORKER_LABELS: Readonly<Record<string, string>> = {
  'app.kubernetes.io/managed-by': 'prefect',
  'app.kubernetes.io/part-of': 'prefect',
};
/** What `_configure_eviction_handling` sets; `backoffLimit: 0` → reschedule, else relinquish. */
const SIGTERM_ENV = 'PREFECT_FLOW_RUN_EXECUTE_SIGTERM_BEHAVIOR';
/** What the API server puts in a Job without `backoffLimit` (the worker leaves it out, the build would write 0). */
const KUBERNETES_DEFAULT_BACKOFF_LIMIT = 6;
const CONTAINER_ENV = '/spec/template/spec/containers/0/env/-';
const FLOW_RUN_NAME_POINTER = '/metadata/labels/prefect.io~1flow-run-name';
/** The worker's slugs keep case (prefect_kubernetes/utilities.py); Prefect 2's lowercase. */
const KEEP_CASE = { lowercase: false } as const;
const CONTAINER = 'job_manifest.spec.template.spec.containers[0]';

type Json = Record<string, unknown>;
type EnvEntry = Json & { name: string };

/** `parent[key]` as an object: missing → a new empty one put there; anything else refused. */
function objectAt(parent: Json, key: string, path: string): Json {
  const value = parent[key];
  if (value === undefined) {
    const created: Json = {};
    parent[key] = created;
    return created;
  }
  if (!isRecord(value)) throw refuse(path, `expected an object; got ${shownValue(value)}`);
  return value;
}

/** A label or annotation map: text values only (the worker's `Dict[str, str]`); null is "not set". */
function textValues(map: Json, path: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(map)) {
    if (value === null) continue;
    if (typeof value !== 'string') {
      throw refuse(`${path}[${JSON.stringify(key)}]`, `expected a string; got ${shownValue(value)}`);
    }
    out[key] = value;
  }
  return out;
}

/**
 * Labels merged in order (later wins) and slugified as `_slugify_labels` does, each checked
 * against the API server's rules with the path of the map it came from.
 */
function slugLabels(
  sources: ReadonlyArray<readonly [Record<string, string>, string]>,
): Record<string, string> {
  const origin = new Map<string, string>();
  const merged: Record<string, string> = {};
  for (const [labels, path] of sources) {
    for (const [key, value] of Object.entries(labels)) {
      merged[key] = value;
      origin.set(key, path);
    }
  }
  const out: Record<string, string> = {};
  const problems: Problem[] = [];
  for (const [key, value] of Object.entries(merged)) {
    const slugKey = slugifyLabelKey(key, KEEP_CASE);
    const slugValue = slugifyLabelValue(value, KEEP_CASE);
    const problem = labelKeyProblem(slugKey) ?? labelValueProblem(slugValue);
    if (problem) {
      problems.push({
        path: `${origin.get(key)}[${JSON.stringify(key)}]`,
        message: `is not a valid Kubernetes label even after slugifying: ${problem}`,
      });
    } else out[slugKey] = slugValue;
  }
  if (problems.length > 0) throw new InvalidInputError('Job configuration not supported', problems);
  return out;
}

/** The object at `config[key]` (missing or null: empty), its values as text. */
function textMapOf(config: Json, key: string, path: string): Record<string, string> {
  const value = given(config, key) ?? {};
  if (!isRecord(value)) throw refuse(path, `expected an object; got ${shownValue(value)}`);
  return textValues(value, path);
}

/** `_slugify_annotations`: keys slugified as label keys, values any text. */
function annotationsOf(merged: Record<string, string>, path: string): Record<string, string> {
  const out: Record<string, string> = {};
  const problems: Problem[] = [];
  for (const [key, value] of Object.entries(merged)) {
    const slugKey = slugifyLabelKey(key, KEEP_CASE);
    const problem = labelKeyProblem(slugKey);
    if (problem) {
      problems.push({
        path: `${path}[${JSON.stringify(key)}]`,
        message: `is not a valid Kubernetes annotation key even after slugifying: ${problem}`,
      });
    } else out[slugKey] = value;
  }
  if (problems.length > 0) throw new InvalidInputError('Job configuration not supported', problems);
  return out;
}

/** A Kubernetes EnvVar entry: an object with a name. */
function envEntry(value: unknown, path: string): EnvEntry {
  if (!isRecord(value) || typeof value.name !== 'string' || value.name === '') {
    throw refuse(
      path,
      `expected an environment entry {name, value} or {name, valueFrom}; got ${shownValue(value)}`,
    );
  }
  return value as EnvEntry;
}

interface Env {
  /** name → value, the block's `env`: after PREFECT__FLOW_RUN_ID, in the worker's order. */
  plain: Record<string, unknown>;
  /** Entries after them, unchanged: `valueFrom` ones, then (list form) the eviction setting. */
  after: EnvEntry[];
}

/**
 * BaseJobConfiguration.prepare_for_flow_run's env with the list form of KubernetesWorkerJobConfiguration
 * (`valueFrom` entries set aside and put back after the others), then `_configure_eviction_handling`.
 */
function envOf(config: Json, backoffLimit: unknown, context: JobConfigurationContext): Env {
  const value = given(config, 'env') ?? {};
  const path = `${context.path}.env`;
  const reschedule = backoffLimit === 0;
  if (isRecord(value)) {
    // BaseJobConfiguration.prepare_for_flow_run drops null values before anything reads them
    const plain = Object.fromEntries(Object.entries(value).filter(([, item]) => item !== null));
    if (!reschedule) plain[SIGTERM_ENV] = 'relinquish';
    else if (!plain[SIGTERM_ENV]) plain[SIGTERM_ENV] = 'reschedule';
    return { plain, after: [] };
  }
  if (!Array.isArray(value)) {
    throw refuse(
      path,
      `expected environment variables as an object or a list of entries; got ${shownValue(value)}`,
    );
  }
  const plain: Record<string, unknown> = {};
  let after: EnvEntry[] = [];
  value.forEach((item, index) => {
    const entry = envEntry(item, `${path}[${index}]`);
    if (!Object.hasOwn(entry, 'value') && !Object.hasOwn(entry, 'valueFrom')) {
      // Prefect's worker drops it; Kubernetes would set the variable to ''
      throw refuse(
        `${path}[${index}]`,
        `'${entry.name}' has neither 'value' nor 'valueFrom', and Prefect's worker leaves such an entry out: give it a value or remove it`,
      );
    }
    if (Object.hasOwn(entry, 'value') && entry.value !== null) plain[entry.name] = entry.value;
    else if (Object.hasOwn(entry, 'value')) delete plain[entry.name];
    if (Object.hasOwn(entry, 'valueFrom')) after.push(entry);
  });
  const setBefore = plain[SIGTERM_ENV] !== undefined || after.some((e) => e.name === SIGTERM_ENV);
  if (!reschedule) {
    delete plain[SIGTERM_ENV];
    after = after.filter((e) => e.name !== SIGTERM_ENV);
    after.push({ name: SIGTERM_ENV, value: 'relinquish' });
  } else if (!setBefore) after.push({ name: SIGTERM_ENV, value: 'reschedule' });
  return { plain, after };
}

/**
 * `_populate_env_in_manifest`: a list the template wrote into the container stays, after the
 * configuration's env, without the names that env already sets. A dict there is the `{{ env }}`
 * placeholder's, which the worker replaces by the configuration's env.
 */
function templateEnvOf(value: unknown, config: Json, names: Set<string>, path: string): EnvEntry[] {
  if (value === undefined || value === null) return [];
  if (Array.isArray(value)) {
    return value
      .map((item, index) => envEntry(item, `${path}[${index}]`))
      .filter((entry) => !names.has(entry.name));
  }
  if (isRecord(value)) {
    // the job variables' env; the configuration's holds it (merged over the variable's default)
    const env = given(config, 'env') ?? {};
    const held = Object.entries(value).every(
      ([key, item]) => isRecord(env) && Object.hasOwn(env, key) && isDeepStrictEqual(env[key], item),
    );
    if (held) return [];
  }
  throw refuse(
    path,
    `Prefect's worker replaces this with the configuration's 'env'; write "{{ env }}" here, or a list of entries to add to it`,
  );
}

/** `_populate_command_if_not_present`: the first container's args, a string split like shlex. */
function commandFrom(container: Json, path: string): string[] {
  const args = container.args;
  if (args === undefined || args === null) return [...PREFECT3_COMMAND];
  const words = typeof args === 'string' ? shellWords(args, path) : args;
  if (!Array.isArray(words) || !words.every((word) => typeof word === 'string')) {
    throw refuse(path, `expected a command line as one string or a list of strings; got ${shownValue(args)}`);
  }
  if (words.length === 0) {
    throw refuse(
      path,
      "is empty: Prefect's worker would start the container with no arguments; leave it out for 'prefect flow-run execute', or give a command",
    );
  }
  return words;
}

/** BaseJobConfiguration.prepare_for_flow_run: `name` with its {{ ctx.flow_run.id/name }} rendered. */
function nameOf(config: Json, context: JobConfigurationContext): string | undefined {
  const value = given(config, 'name');
  if (value === undefined) return undefined;
  const path = `${context.path}.name`;
  if (typeof value !== 'string') throw refuse(path, `expected a string; got ${shownValue(value)}`);
  const placeholders = findPlaceholders(value);
  if (placeholders.length === 0) return value;
  const known = ['ctx.flow_run.id', ...(context.flowRun.name ? ['ctx.flow_run.name'] : [])];
  const unknown = placeholders.filter((p) => !known.includes(p.name));
  if (unknown.length > 0) {
    throw refuse(
      path,
      `${unknown.map((p) => p.fullMatch).join(', ')}: this submitter knows only ${known.map((k) => `{{ ${k} }}`).join(' and ')} of the flow run`,
    );
  }
  const rendered = applyValues(value, {
    ctx: { flow_run: { id: context.flowRun.id, name: context.flowRun.name } },
  });
  return rendered === NOT_SET || typeof rendered !== 'string' ? value : rendered;
}

/**
 * `_populate_generate_name_if_not_present`, as the block `name` the build derives generateName
 * from: one the template set, or `{{ name }}-` rendered with a name, stays as it is; one still
 * holding a placeholder, `-` or none is the slug of the (rendered) name or the flow run's name,
 * else `prefect-job`.
 */
function blockNameOf(metadata: Json, config: Json, context: JobConfigurationContext): string | undefined {
  const generateName = metadata.generateName;
  const path = `${context.path}.job_manifest.metadata.generateName`;
  delete metadata.generateName;
  const fromName =
    generateName === undefined ||
    generateName === null ||
    generateName === '' ||
    generateName === '-' ||
    generateName === 'None-' ||
    (typeof generateName === 'string' && findPlaceholders(generateName).length > 0);
  if (fromName) {
    const name = nameOf(config, context) ?? context.flowRun.name;
    if (name !== undefined && slugifyName(name) === '') return 'prefect-job';
    return name;
  }
  // "{{ name }}-" with a name set renders to it: the worker sends that as it is, not slugified
  const name = given(config, 'name');
  const verbatim = typeof name === 'string' && generateName === `${name}-`;
  if (name !== undefined && !verbatim) {
    throw refuse(
      `${context.path}.name`,
      `Prefect's worker names the Job from the manifest's generateName ${shownValue(generateName)}, not from 'name': write "{{ name }}-" there, or leave 'name' out`,
    );
  }
  const stem =
    typeof generateName === 'string' && generateName.endsWith('-') ? generateName.slice(0, -1) : '';
  if (stem === '' || slugifyName(stem) !== stem) {
    throw refuse(
      path,
      verbatim
        ? `${shownValue(generateName)} is 'name' and '-', which Prefect's worker sends as it is and the API server refuses (or this submitter cannot keep): give a name of at most 45 lowercase letters, digits and '-'`
        : `${shownValue(generateName)} cannot be kept: this submitter derives generateName from a name (at most 45 lowercase letters, digits and '-', then '-'); write e.g. "{{ name }}-" or "my-job-"`,
    );
  }
  return stem;
}

export const workPool: WorkPoolAdapter = {
  poolTypes: ['kubernetes'],
  blockType: 'kubernetes-job',
  toBlock(config, context) {
    refuseUnknown(config, KNOWN, context);
    const at = (field: string) => `${context.path}.${field}`;
    const rendered = given(config, 'job_manifest');
    if (!isRecord(rendered)) {
      throw refuse(
        at('job_manifest'),
        `required: the Job manifest the worker creates; got ${shownValue(rendered)}`,
      );
    }
    const job = structuredClone(rendered);
    const metadata = objectAt(job, 'metadata', at('job_manifest.metadata'));

    const namespace = given(config, 'namespace') ?? DEFAULT_NAMESPACE;
    if (typeof namespace !== 'string')
      throw refuse(at('namespace'), `expected a string; got ${shownValue(namespace)}`);
    const ownNamespace = metadata.namespace;
    if (ownNamespace !== undefined && ownNamespace !== namespace) {
      throw refuse(
        at('job_manifest.metadata.namespace'),
        `is ${shownValue(ownNamespace)} but 'namespace' is '${namespace}': Prefect's worker creates the Job in '${namespace}' and the API server refuses a Job naming another namespace; use "{{ namespace }}" for both`,
      );
    }
    delete metadata.namespace;
    if (metadata.name !== undefined) {
      throw refuse(
        at('job_manifest.metadata.name'),
        "this submitter names each flow run's Job itself (the generateName prefix and a suffix of the flow-run id, so a redelivered event cannot start a second Job): remove it and set the prefix with generateName or 'name'",
      );
    }

    // Labels, slugified as the worker does (case kept) on the Job and the pod template. The
    // build adds the flow-run labels with Prefect 2's slug (lowercased): a customization puts
    // the worker's flow-run-name label back when the two differ.
    const configLabels = textMapOf(config, 'labels', at('labels'));
    const manifestLabelPath = at('job_manifest.metadata.labels');
    const manifestLabels = textValues(objectAt(metadata, 'labels', manifestLabelPath), manifestLabelPath);
    const flowRunName = context.flowRun.name;
    const workerLabels: Record<string, string> = {
      ...(flowRunName ? { [FLOW_RUN_NAME_LABEL]: flowRunName } : {}),
      ...WORKER_LABELS,
      ...configLabels,
      // the submitter's: it ties the Job to its flow run (the build writes it last too)
      [FLOW_RUN_LABEL]: context.flowRun.id,
    };
    const jobLabels = slugLabels([
      [manifestLabels, manifestLabelPath],
      [workerLabels, at('labels')],
    ]);
    metadata.labels = jobLabels;
    const labelFixes: Json[] = [];
    const nameLabel = jobLabels[FLOW_RUN_NAME_LABEL];
    if (flowRunName && nameLabel !== undefined && nameLabel !== slugifyLabelValue(flowRunName)) {
      labelFixes.push({ op: 'replace', path: FLOW_RUN_NAME_POINTER, value: nameLabel });
    }

    // Prefect's base Job (the worker's check and the build's); the container's env is set below
    const spec = objectAt(job, 'spec', at('job_manifest.spec'));
    const template = objectAt(spec, 'template', at('job_manifest.spec.template'));
    const podSpec = isRecord(template.spec) ? template.spec : undefined;
    const first =
      Array.isArray(podSpec?.containers) && isRecord(podSpec.containers[0])
        ? podSpec.containers[0]
        : undefined;
    const templateEnv = first?.env;
    if (first) first.env = [];
    const jobProblems = baseJobProblems(job, at('job_manifest'));
    if (jobProblems.length > 0 || !first) {
      throw new InvalidInputError('Job configuration not supported', jobProblems);
    }

    // Env
    const env = envOf(config, spec.backoffLimit, context);
    const names = new Set([
      FLOW_RUN_ID_ENV,
      ...Object.keys(env.plain),
      ...env.after.map((entry) => entry.name),
    ]);
    const after = [...env.after, ...templateEnvOf(templateEnv, config, names, at(`${CONTAINER}.env`))];

    // Pod template labels and annotations (the worker's last two steps)
    const podMetadata = objectAt(template, 'metadata', at('job_manifest.spec.template.metadata'));
    const podLabelPath = at('job_manifest.spec.template.metadata.labels');
    template.metadata = podMetadata;
    podMetadata.labels = slugLabels([
      [textValues(objectAt(podMetadata, 'labels', podLabelPath), podLabelPath), podLabelPath],
      [workerLabels, at('labels')],
    ]);
    const annotationPath = at('job_manifest.metadata.annotations');
    const annotations = annotationsOf(
      {
        ...textValues(objectAt(metadata, 'annotations', annotationPath), annotationPath),
        ...textMapOf(config, 'annotations', at('annotations')),
      },
      annotationPath,
    );
    metadata.annotations = annotations;
    if (Object.keys(annotations).length > 0) {
      const podAnnotationPath = at('job_manifest.spec.template.metadata.annotations');
      podMetadata.annotations = {
        ...textValues(objectAt(podMetadata, 'annotations', podAnnotationPath), podAnnotationPath),
        ...annotations,
      };
    }

    // Image and command of the first container
    const image = first.image;
    if (image !== undefined && (typeof image !== 'string' || image === '')) {
      throw refuse(at(`${CONTAINER}.image`), `expected an image reference; got ${shownValue(image)}`);
    }
    const command = commandFrom(first, at(`${CONTAINER}.args`));
    delete first.args;
    if (given(config, 'command') !== undefined && !isDeepStrictEqual(commandOf(config, context), command)) {
      throw refuse(
        at('command'),
        `Prefect's worker runs the first container's 'args' (${JSON.stringify(command)}), not 'command': write "args": "{{ command }}" in the job manifest's first container`,
      );
    }
    if (spec.backoffLimit === undefined) spec.backoffLimit = KUBERNETES_DEFAULT_BACKOFF_LIMIT;

    const block: Json = {
      type: 'kubernetes-job',
      command,
      env: env.plain,
      namespace,
      image: image ?? PREFECT3_IMAGE,
      job,
      customizations: [...labelFixes, ...after.map((value) => ({ op: 'add', path: CONTAINER_ENV, value }))],
    };
    const name = blockNameOf(metadata, config, context);
    if (name !== undefined) block.name = name;
    const clusterConfig = given(config, 'cluster_config');
    if (clusterConfig !== undefined) {
      if (!isRecord(clusterConfig)) {
        throw refuse(
          at('cluster_config'),
          `expected a KubernetesClusterConfig {config, context_name}, e.g. "{{ prefect.blocks.kubernetes-cluster-config.NAME }}"; got ${shownValue(clusterConfig)}`,
        );
      }
      block.cluster_config = clusterConfig;
    }
    for (const key of ['job_watch_timeout_seconds', 'pod_watch_timeout_seconds', 'stream_output'] as const) {
      const value = given(config, key);
      if (value !== undefined) block[key] = value;
    }
    return block;
  },
};
