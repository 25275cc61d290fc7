// Block + flow run → the exact Cloud Run Admin API v2 `projects.locations.jobs.create`
// request (pure), as Prefect's Cloud Run v2 worker builds its job body. The job is then
// started with `jobs.run`; the job id is deterministic per flow run, so a redelivered event
// gets 409 ALREADY_EXISTS for the same job instead of starting a second one.
import { InvalidInputError, type Problem } from '../../core/errors.js';
import { concreteEnv } from '../base.js';
import { flowRunEnv, flowRunLabels, idempotencyKey } from '../identity.js';
import { runName, slugify } from '../naming.js';
import type { Target } from '../port.js';
import type { CloudRunJobBlock } from './block.js';

/** `EnvVar` of the v2 API: a plain value, or a Secret Manager reference (never the value). */
export type CloudRunEnvVar =
  | { name: string; value: string }
  | { name: string; valueSource: { secretKeyRef: { secret: string; version: string } } };

export interface CloudRunContainer {
  image: string;
  command: string[];
  /** Only when the block has args. */
  args?: string[];
  env: CloudRunEnvVar[];
  resources: { limits: { cpu: string; memory: string } };
  /** Only with cloudsql_instances: the `cloudsql` volume at `/cloudsql`. */
  volumeMounts?: { name: string; mountPath: string }[];
}

/** A `Volume` of the v2 API (the Cloud SQL kind, the only one this submitter sets). */
export interface CloudRunVolume {
  name: string;
  cloudSqlInstance: { instances: string[] };
}

/** `TaskTemplate` of the v2 API. */
export interface CloudRunTaskTemplate {
  containers: CloudRunContainer[];
  /** Duration, e.g. `600s`. */
  timeout: string;
  maxRetries: number;
  serviceAccount?: string;
  vpcAccess?: { connector: string };
  /** Only with cloudsql_instances. */
  volumes?: CloudRunVolume[];
}

/** `Job` of the v2 API (the fields this submitter sets). */
export interface CloudRunJob {
  client: string;
  labels: Record<string, string>;
  launchStage: CloudRunJobBlock['launch_stage'];
  template: {
    /** Executions keep these after the job is deleted (keep_job false). */
    labels: Record<string, string>;
    taskCount: number;
    template: CloudRunTaskTemplate;
  };
}

export interface CloudRunJobRequest {
  /** `POST https://run.googleapis.com/v2/{parent}/jobs?jobId={jobId}`, then `POST …/jobs/{jobId}:run`. */
  parent: string;
  jobId: string;
  job: CloudRunJob;
  /** `jobId` ends in 12 hex characters of this key: one job per flow run. */
  idempotency_key: string;
}

/** Cloud Run job ids: ≤ 63, lowercase letters, digits and `-`, starting with a letter, not ending with `-`. */
export const JOB_ID = /^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$/;
/** GCP labels: ≤ 64 per resource. */
export const MAX_LABELS = 64;
const MEMORY = /^\d+(?:G|Gi|M|Mi)$/;
const CPU = /^\d+(?:\.\d+)?m?$/;

/** `<name slug ≤ 50>-<12 hex>`: Prefect's `slugify_name` + suffix, made to start with a letter. */
export function cloudRunJobId({ block, flowRun }: Target<CloudRunJobBlock>): string {
  const pattern = /[^a-zA-Z0-9-]+/;
  let slug = slugify(block.name ?? flowRun.name ?? '', { maxLength: 50, pattern });
  if (slug && !/^[a-z]/.test(slug)) slug = slugify(`prefect-${slug}`, { maxLength: 50, pattern });
  return runName(slug, flowRun.id);
}

/**
 * Prefect's `sanitize_labels_for_gcp`: keys and values lowercased, anything but `[a-z0-9_-]`
 * → `-`, ≤ 63 characters, keys starting with a letter. A key with no letter left is refused
 * here (Prefect drops it silently).
 */
export function gcpLabels(labels: Record<string, string>): {
  labels: Record<string, string>;
  problems: Problem[];
} {
  const out: Record<string, string> = {};
  const problems: Problem[] = [];
  for (const [key, value] of Object.entries(labels)) {
    const gcpKey = key
      .toLowerCase()
      .replace(/[^a-z0-9_-]/g, '-')
      .replace(/^[^a-z]+/, '')
      .slice(0, 63);
    if (!gcpKey) {
      problems.push({
        path: `infrastructure.labels[${JSON.stringify(key)}]`,
        message: 'GCP label keys must start with a letter: rename the label',
      });
      continue;
    }
    out[gcpKey] = value
      .toLowerCase()
      .replace(/[^a-z0-9_-]/g, '-')
      .slice(0, 63);
  }
  return { labels: out, problems };
}

/** Where the project comes from: the block, its credentials, or the service account key (as Prefect's GcpCredentials). */
export function projectOf(block: CloudRunJobBlock): string | null {
  if (block.project) return block.project;
  if (block.credentials.project) return block.credentials.project;
  let info = block.credentials.service_account_info;
  if (typeof info === 'string') {
    try {
      info = JSON.parse(info) as Record<string, unknown>;
    } catch {
      return null;
    }
  }
  const fromKey = info?.project_id;
  return typeof fromKey === 'string' && fromKey ? fromKey : null;
}

/** Docker Hub short names made explicit (Prefect's worker writes `docker.io/<image>` for its default). */
export function qualifiedImage(image: string): string {
  const first = image.split('/')[0] ?? '';
  const hasRegistry =
    image.includes('/') && (first.includes('.') || first.includes(':') || first === 'localhost');
  if (hasRegistry) return image;
  return image.includes('/') ? `docker.io/${image}` : `docker.io/library/${image}`;
}

function env({ block, flowRun }: Target<CloudRunJobBlock>): CloudRunEnvVar[] {
  const plain = { ...concreteEnv(block.env), ...flowRunEnv(flowRun) };
  const fromSecrets = Object.entries(block.env_from_secrets);
  // A variable given both ways comes from the secret (Prefect does this for PREFECT_API_KEY).
  const secretNames = new Set(fromSecrets.map(([name]) => name));
  return [
    ...Object.entries(plain)
      .filter(([name]) => !secretNames.has(name))
      .map(([name, value]) => ({ name, value })),
    ...fromSecrets.map(([name, ref]) => ({
      name,
      valueSource: { secretKeyRef: { secret: ref.secret, version: ref.version } },
    })),
  ];
}

/** The memory limit Cloud Run reads: prefect-gcp's `memory` + `memory_unit`, or a string as it is. */
export function memoryLimit(block: CloudRunJobBlock): string | undefined {
  if (typeof block.memory === 'string') return block.memory;
  return block.memory_unit ? `${block.memory}${block.memory_unit}` : undefined;
}

function resourceProblems(block: CloudRunJobBlock): Problem[] {
  const problems: Problem[] = [];
  const memory = memoryLimit(block);
  if (!CPU.test(block.cpu)) {
    problems.push({
      path: 'infrastructure.cpu',
      message: `'${block.cpu}' is not a CPU limit: write e.g. '1000m' or '2'`,
    });
  }
  if (memory === undefined) {
    problems.push({
      path: 'infrastructure.memory_unit',
      message: `memory ${block.memory} was given without a unit: set memory_unit to G, Gi, M or Mi (as prefect-gcp requires)`,
    });
  } else if (!MEMORY.test(memory)) {
    problems.push({
      path: 'infrastructure.memory',
      message: `'${memory}' is not a memory limit: a number with G, Gi, M or Mi, e.g. '512Mi'`,
    });
  }
  return problems;
}

export function buildCloudRunRequest(target: Target<CloudRunJobBlock>): CloudRunJobRequest {
  const { block, flowRun } = target;
  const project = projectOf(block);
  const problems = resourceProblems(block);
  if (!project) {
    problems.push({
      path: 'infrastructure.project',
      message:
        "required: set 'project' (or 'credentials.project') to the Google Cloud project to run the job in",
    });
  }
  const labels = gcpLabels({ ...block.labels, ...flowRunLabels(flowRun) });
  problems.push(...labels.problems);
  if (Object.keys(labels.labels).length > MAX_LABELS) {
    problems.push({
      path: 'infrastructure.labels',
      message: `GCP allows ${MAX_LABELS} labels per job and the submitter adds ${Object.keys(flowRunLabels(flowRun)).length}: remove some`,
    });
  }
  if (problems.length > 0 || !project) throw new InvalidInputError('Invalid cloud-run-job block', problems);

  const connector = block.vpc_connector_name;
  const cloudSql = block.cloudsql_instances.length > 0;
  const template: CloudRunTaskTemplate = {
    containers: [
      {
        image: qualifiedImage(block.image),
        command: block.command,
        ...(block.args.length > 0 ? { args: block.args } : {}),
        env: env(target),
        resources: { limits: { cpu: block.cpu, memory: memoryLimit(block) ?? '' } },
        // prefect-gcp's Cloud Run v2 worker: one `cloudsql` volume, mounted at /cloudsql
        ...(cloudSql ? { volumeMounts: [{ name: 'cloudsql', mountPath: '/cloudsql' }] } : {}),
      },
    ],
    timeout: `${block.timeout}s`,
    maxRetries: block.max_retries,
    ...(block.service_account_name ? { serviceAccount: block.service_account_name } : {}),
    ...(connector
      ? {
          vpcAccess: {
            // The API wants the connector's full name; a bare name is one in the job's project and region.
            connector: connector.includes('/')
              ? connector
              : `projects/${project}/locations/${block.region}/connectors/${connector}`,
          },
        }
      : {}),
    ...(cloudSql
      ? { volumes: [{ name: 'cloudsql', cloudSqlInstance: { instances: block.cloudsql_instances } }] }
      : {}),
  };
  return {
    parent: `projects/${project}/locations/${block.region}`,
    jobId: cloudRunJobId(target),
    job: {
      client: 'prefect',
      labels: labels.labels,
      launchStage: block.launch_stage,
      template: { labels: labels.labels, taskCount: 1, template },
    },
    idempotency_key: idempotencyKey(flowRun.id),
  };
}
