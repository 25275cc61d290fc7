// The `cloud-run-job` provider: one Cloud Run job (v2 Admin API) per flow run, one execution
// of it, as a driver of the shared runtime. The official @google-cloud/run clients over REST
// (fallback), tokens from google-auth-library (credentials.ts); CLOUD_RUN_API_ENDPOINT points
// them elsewhere (a private endpoint, a test's fake).
// find: get the job by its deterministic id, ours when its flow-run label is this flow run's;
// started when it has an execution. create: jobs.create (409 → the runtime finds and adopts),
// then wait for the create operation. start: jobs.run once — never repeated blindly: `run` is
// not idempotent, so before any run (and after any failed one) the job's executions are listed
// and one found is adopted; the run operation ends only with the execution, so it is not awaited.
// status: the execution's Completed condition, the exit code from its task. stop:
// executions.cancel. remove: delete the job unless keep_job.
import type { protos } from '@google-cloud/run';
import * as z from 'zod';
import { ProviderPermanentError, ProviderTransientError } from '../../core/errors.js';
import { type SecretReader, secretsManagerReader } from '../../core/secret-ref.js';
import { FLOW_RUN_LABEL } from '../identity.js';
import type { InfraStatus, Provider, Target } from '../port.js';
import { type Classifier, classifyHttp } from '../runtime/classify.js';
import { type Driver, defineProvider, type Found, type RuntimeOptions } from '../runtime/provider.js';
import { backoffMs, DEFAULT_RETRY, type RetryPolicy, retrying } from '../runtime/retry.js';
import type { CloudRunJobBlock } from './block.js';
import { type CloudRunJobRequest, gcpLabels } from './build.js';
import { authClientFor, GOOGLE_ENV, keyFor, type ServiceAccountKey } from './credentials.js';
import { cloudRunJobSpec } from './spec.js';

export interface CloudRunProviderOptions {
  /** Default: process.env (CLOUD_RUN_API_ENDPOINT, GOOGLE_CREDENTIALS_SECRET_ARN, GOOGLE_APPLICATION_CREDENTIALS). */
  env?: NodeJS.ProcessEnv;
  /** Reads GOOGLE_CREDENTIALS_SECRET_ARN (default: Secrets Manager). */
  secrets?: SecretReader;
  retry?: Partial<RetryPolicy>;
  /** How long start waits for a job created by another submit to become ready (ms). */
  readyWaitMs?: number;
  runtime?: RuntimeOptions;
}

/** What Submit saves: the job's and the execution's resource names (no secrets). */
export const CloudRunHandleSchema = z.object({
  job: z.string().regex(/^projects\/[^/]+\/locations\/[^/]+\/jobs\/[^/]+$/, 'expected a Cloud Run job name'),
  /** Absent only while the job is created and not yet run. */
  execution: z
    .string()
    .regex(/^projects\/[^/]+\/locations\/[^/]+\/jobs\/[^/]+\/executions\/[^/]+$/)
    .optional(),
});
export type CloudRunHandle = z.infer<typeof CloudRunHandleSchema>;

// ---- API answers (only the fields used; enums as names, or numbers from operations) ----------

const CONDITION_STATES = [
  'STATE_UNSPECIFIED',
  'CONDITION_PENDING',
  'CONDITION_RECONCILING',
  'CONDITION_FAILED',
  'CONDITION_SUCCEEDED',
] as const;
const StateSchema = z
  .union([z.string(), z.number().int()])
  .nullish()
  .transform((state) =>
    typeof state === 'number' ? (CONDITION_STATES[state] ?? String(state)) : (state ?? ''),
  );

const ConditionSchema = z.looseObject({
  type: z.string().nullish(),
  state: StateSchema,
  message: z.string().nullish(),
  reason: z.union([z.string(), z.number()]).nullish(),
  executionReason: z.union([z.string(), z.number()]).nullish(),
});
type Condition = z.infer<typeof ConditionSchema>;

const JobSchema = z.looseObject({
  name: z.string(),
  labels: z.record(z.string(), z.string()).nullish(),
  reconciling: z.boolean().nullish(),
  terminalCondition: ConditionSchema.nullish(),
  latestCreatedExecution: z.looseObject({ name: z.string().nullish() }).nullish(),
});

const ExecutionSchema = z.looseObject({
  name: z.string(),
  conditions: z.array(ConditionSchema).nullish(),
  runningCount: z.number().nullish(),
  succeededCount: z.number().nullish(),
  failedCount: z.number().nullish(),
  cancelledCount: z.number().nullish(),
  logUri: z.string().nullish(),
  completionTime: z.unknown(),
});
type Execution = z.infer<typeof ExecutionSchema>;

const TaskSchema = z.looseObject({
  lastAttemptResult: z
    .looseObject({
      exitCode: z.number().int().nullish(),
      status: z.looseObject({ message: z.string().nullish() }).nullish(),
    })
    .nullish(),
});

const GoogleErrorSchema = z.object({
  error: z.looseObject({
    code: z.number().optional(),
    message: z.string().optional(),
    status: z.string().optional(),
  }),
});

function jsonOr(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/**
 * The clients' REST errors (gaxios errors: the HTTP status, Google's error JSON in
 * `response.data` or as the message): classified by the status string (NOT_FOUND,
 * RESOURCE_EXHAUSTED …) with Google's message as the reason.
 */
export const classifyGoogle: Classifier = (error) => {
  if (!(error instanceof Error)) return undefined;
  const shape = z
    .looseObject({
      status: z.number().optional(),
      code: z.union([z.number(), z.string()]).optional(),
      response: z
        .looseObject({ status: z.number().optional(), data: z.unknown(), headers: z.unknown() })
        .optional(),
    })
    .safeParse(error);
  if (!shape.success) return undefined;
  const { response } = shape.data;
  const body = GoogleErrorSchema.safeParse(response?.data ?? jsonOr(error.message));
  if (!body.success) return undefined;
  const status = response?.status ?? shape.data.status ?? body.data.error.code;
  return classifyHttp({ status, body: body.data, headers: response?.headers });
};

function parsed<S extends z.ZodType>(schema: S, what: string, value: unknown): z.output<S> {
  const result = schema.safeParse(value);
  if (!result.success) {
    throw new ProviderPermanentError(
      `${what}: unexpected answer from Cloud Run (${result.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')})`,
    );
  }
  return result.data;
}

// ---- clients ----------------------------------------------------------------------------------

type RunModule = typeof import('@google-cloud/run');
interface Clients {
  jobs: InstanceType<RunModule['v2']['JobsClient']>;
  executions: InstanceType<RunModule['v2']['ExecutionsClient']>;
  tasks: InstanceType<RunModule['v2']['TasksClient']>;
}

/** CLOUD_RUN_API_ENDPOINT (`http(s)://host[:port]`) as the clients' options. */
export function endpointOptions(
  value: string | undefined,
): { apiEndpoint: string; port: number; protocol: string } | undefined {
  if (!value) return undefined;
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new ProviderPermanentError(
      `${GOOGLE_ENV.endpoint} '${value}' is not a URL: write e.g. 'https://run.googleapis.com'`,
    );
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new ProviderPermanentError(`${GOOGLE_ENV.endpoint} '${value}' must be an http or https URL`);
  }
  const protocol = url.protocol.slice(0, -1);
  return {
    apiEndpoint: url.hostname,
    port: url.port ? Number(url.port) : protocol === 'https' ? 443 : 80,
    protocol,
  };
}

async function makeClients(
  key: ServiceAccountKey,
  env: NodeJS.ProcessEnv,
  policy: Partial<RetryPolicy>,
): Promise<Clients> {
  const [run, authClient] = await Promise.all([import('@google-cloud/run'), authClientFor(key, policy)]);
  const endpoint = endpointOptions(env[GOOGLE_ENV.endpoint]);
  const settings = { fallback: true as const, authClient, ...endpoint };
  return {
    jobs: new run.v2.JobsClient(settings),
    executions: new run.v2.ExecutionsClient(settings),
    tasks: new run.v2.TasksClient(settings),
  };
}

/** Google's verdict on the job create, without creating anything (`validateOnly`). */
export type RemoteVerdict = { ok: true; job: string } | { ok: false; reason: string };

/**
 * Pre-flight: `jobs.create` with `validateOnly`, Google checking the request, the caller's
 * permissions and quota without persisting anything.
 */
export async function validateCloudRunJob(
  target: Target<CloudRunJobBlock>,
  options: Pick<CloudRunProviderOptions, 'env' | 'secrets' | 'retry'> = {},
): Promise<RemoteVerdict> {
  const env = options.env ?? process.env;
  const request = cloudRunJobSpec.build(target);
  const key = await keyFor(target.block, { env, secrets: options.secrets ?? secretsManagerReader() });
  const { jobs } = await makeClients(key, env, options.retry ?? {});
  try {
    await retrying(
      `validating Cloud Run job ${fullName(request)}`,
      () =>
        jobs.createJob({
          parent: request.parent,
          jobId: request.jobId,
          job: protoJob(request),
          validateOnly: true,
        }),
      { policy: options.retry ?? {}, classifiers: [classifyGoogle, classifyHttp] },
    );
    return { ok: true, job: fullName(request) };
  } catch (error) {
    if (error instanceof ProviderPermanentError) return { ok: false, reason: error.message };
    throw error;
  }
}

function fullName(request: CloudRunJobRequest): string {
  return `${request.parent}/jobs/${request.jobId}`;
}

/** The build's job in the clients' protobuf form: durations as `{seconds}`. */
export function protoJob(request: CloudRunJobRequest): protos.google.cloud.run.v2.IJob {
  const { job } = request;
  const { timeout, ...template } = job.template.template;
  const seconds = Number(timeout.replace(/s$/, ''));
  return {
    ...job,
    template: { ...job.template, template: { ...template, timeout: { seconds } } },
  };
}

/** The Completed condition of an execution, or of a job its Ready one. */
function condition(conditions: readonly Condition[] | null | undefined, type: string): Condition | undefined {
  return conditions?.find((c) => c.type === type);
}

function executionId(name: string): string {
  return name.split('/').at(-1) ?? name;
}

export function createCloudRunJobProvider(
  options: CloudRunProviderOptions = {},
): Provider<CloudRunJobBlock, CloudRunJobRequest, CloudRunHandle> {
  const env = options.env ?? process.env;
  const secrets = options.secrets ?? secretsManagerReader();
  const policy = options.retry ?? {};
  const full: RetryPolicy = { ...DEFAULT_RETRY, ...policy };
  const readyWaitMs = options.readyWaitMs ?? 60_000;
  const cache = new Map<string, Promise<Clients>>();

  /** One set of clients per key for the container's life; a failed setup is tried again next time. */
  async function clients(target: Target<CloudRunJobBlock>): Promise<Clients> {
    const key = await keyFor(target.block, { env, secrets });
    const id = `${key.client_email}\n${key.private_key_id ?? ''}\n${key.token_uri}`;
    let made = cache.get(id);
    if (!made) {
      made = makeClients(key, env, policy);
      cache.set(id, made);
      made.catch(() => cache.delete(id));
    }
    return made;
  }

  const call = <T>(what: string, fn: () => Promise<T>, attempts?: number) =>
    retrying(what, fn, {
      policy: attempts ? { ...policy, attempts } : policy,
      classifiers: [classifyGoogle, classifyHttp],
    });

  /** Undefined when it is not there (404 / NOT_FOUND). */
  async function orMissing<T>(promise: Promise<T>): Promise<T | undefined> {
    try {
      return await promise;
    } catch (error) {
      if (error instanceof ProviderPermanentError && error.kind === 'not-found') return undefined;
      throw error;
    }
  }

  async function getJob(target: Target<CloudRunJobBlock>, name: string) {
    const { jobs } = await clients(target);
    const got = await orMissing(call(`getting Cloud Run job ${name}`, () => jobs.getJob({ name })));
    return got ? parsed(JobSchema, `getting Cloud Run job ${name}`, got[0]) : undefined;
  }

  /** The job's executions, newest first. */
  async function executionsOf(target: Target<CloudRunJobBlock>, job: string): Promise<Execution[]> {
    const { executions } = await clients(target);
    const got = await orMissing(
      call(`listing the executions of ${job}`, () =>
        executions.listExecutions({ parent: job }, { autoPaginate: true }),
      ),
    );
    return (got?.[0] ?? []).map((e) => parsed(ExecutionSchema, `listing the executions of ${job}`, e));
  }

  function owned(
    target: Target<CloudRunJobBlock>,
    labels: Record<string, string> | null | undefined,
  ): boolean {
    const [key, value] = Object.entries(gcpLabels({ [FLOW_RUN_LABEL]: target.flowRun.id }).labels)[0] ?? [];
    return key !== undefined && labels?.[key] === value;
  }

  /** A job made by another submit may still be reconciling: wait until it can run (or cannot). */
  async function waitReady(target: Target<CloudRunJobBlock>, name: string): Promise<void> {
    const until = Date.now() + readyWaitMs;
    for (let attempt = 1; ; attempt++) {
      const job = await getJob(target, name);
      if (!job) {
        throw new ProviderPermanentError(`Cloud Run job ${name} vanished before it was run`, {
          kind: 'not-found',
        });
      }
      const ready = job.terminalCondition;
      if (!job.reconciling && ready?.state === 'CONDITION_SUCCEEDED') return;
      if (ready?.state === 'CONDITION_FAILED') {
        throw new ProviderPermanentError(
          `Cloud Run job ${name} is not ready to run: ${ready.reason ?? 'failed'}${ready.message ? `: ${ready.message}` : ''}`,
        );
      }
      if (Date.now() > until) {
        throw new ProviderTransientError(
          `Cloud Run job ${name} is still being created after ${Math.round(readyWaitMs / 1000)} s; looking again later`,
        );
      }
      await full.sleep(Math.max(50, backoffMs(attempt, { ...full, baseMs: 200, capMs: 2000 })));
    }
  }

  const driver: Driver<CloudRunJobBlock, CloudRunJobRequest, CloudRunHandle> = {
    handleSchema: CloudRunHandleSchema,
    identify: (handle) =>
      handle.execution ? `${handle.job}/executions/${executionId(handle.execution)}` : handle.job,

    async find(target, request): Promise<Found<CloudRunHandle> | undefined> {
      const job = await getJob(target, fullName(request));
      if (!job || !owned(target, job.labels)) return undefined;
      const latest = job.latestCreatedExecution?.name;
      const execution = latest || (await executionsOf(target, job.name))[0]?.name;
      return execution
        ? { handle: { job: job.name, execution }, started: true }
        : { handle: { job: job.name }, started: false };
    },

    async create(target, request) {
      const { jobs } = await clients(target);
      const what = `creating Cloud Run job ${fullName(request)}`;
      const created = await call(
        what,
        () => jobs.createJob({ parent: request.parent, jobId: request.jobId, job: protoJob(request) }),
        1,
      ).catch(async (error: unknown) => {
        if (error instanceof ProviderPermanentError && error.kind === 'conflict') {
          const existing = await getJob(target, fullName(request)).catch(() => undefined);
          if (existing && !owned(target, existing.labels)) {
            throw new ProviderPermanentError(
              `Cloud Run job ${fullName(request)} exists and does not carry this flow run's label: delete it, or rename the block`,
              { cause: error, kind: 'conflict' },
            );
          }
        }
        throw error;
      });
      // The job exists once the create is accepted; waiting lets a refusal (a missing image) show here.
      try {
        await created[0].promise();
      } catch (error) {
        await retrying(`${what} (its operation)`, () => Promise.reject(error), {
          policy: { attempts: 1 },
          classifiers: [classifyGoogle, classifyHttp],
        });
      }
      return { handle: { job: fullName(request) }, started: false };
    },

    async start(target, _request, handle) {
      const name = handle.job;
      const { jobs } = await clients(target);
      await waitReady(target, name);
      for (let attempt = 1; ; attempt++) {
        // exactly one execution per flow run: one that exists is adopted, never a second run
        const existing = (await executionsOf(target, name))[0];
        if (existing) return { job: name, execution: existing.name };
        let metadata: unknown;
        try {
          const [operation] = await call(`running Cloud Run job ${name}`, () => jobs.runJob({ name }), 1);
          metadata = operation.metadata;
        } catch (error) {
          const transient = error instanceof ProviderTransientError;
          if (!transient || attempt >= full.attempts) {
            // the run may have happened before the failure: look once more before giving up
            const after = (await executionsOf(target, name).catch(() => []))[0];
            if (after) return { job: name, execution: after.name };
            throw error;
          }
          await full.sleep(backoffMs(attempt, full));
          continue;
        }
        // the run's operation completes only when the execution ends: its metadata names the execution
        const named = z.looseObject({ name: z.string().nullish() }).safeParse(metadata);
        if (named.success && named.data.name) return { job: name, execution: named.data.name };
        // accepted without naming its execution: find it, never run again
        for (let look = 1; look <= 5; look++) {
          const made = (await executionsOf(target, name))[0];
          if (made) return { job: name, execution: made.name };
          await full.sleep(200 * look);
        }
        throw new ProviderTransientError(
          `Cloud Run accepted the run of ${name} but its execution is not listed yet; looking again later (it is not run again)`,
        );
      }
    },

    async status(target, handle): Promise<InfraStatus> {
      const links: Record<string, string> = { job: handle.job };
      if (!handle.execution) return { phase: 'pending', reason: 'the job is created and not run yet', links };
      const name = handle.execution;
      links.execution = name;
      const { executions, tasks } = await clients(target);
      const got = await orMissing(call(`getting execution ${name}`, () => executions.getExecution({ name })));
      if (!got) {
        return {
          phase: 'missing',
          reason: `Cloud Run execution ${name} no longer exists: its job was deleted by someone`,
          links,
        };
      }
      const execution = parsed(ExecutionSchema, `getting execution ${name}`, got[0]);
      if (execution.logUri) links.logs = execution.logUri;
      const completed = condition(execution.conditions, 'Completed');
      const exitCode = async (): Promise<number | null> => {
        const listed = await call(`listing the tasks of ${name}`, () =>
          tasks.listTasks({ parent: name }, { autoPaginate: true }),
        ).catch(() => undefined);
        const task = listed?.[0]?.[0];
        if (!task) return null;
        const code = parsed(TaskSchema, `listing the tasks of ${name}`, task).lastAttemptResult?.exitCode;
        return typeof code === 'number' ? code : null;
      };
      if (completed?.state === 'CONDITION_SUCCEEDED') {
        return { phase: 'succeeded', exit_code: (await exitCode()) ?? 0, links };
      }
      if (completed?.state === 'CONDITION_FAILED') {
        const cancelled = (execution.cancelledCount ?? 0) > 0 || completed.executionReason === 'CANCELLED';
        const message = completed.message ?? 'the execution failed';
        return {
          phase: 'failed',
          exit_code: cancelled ? null : await exitCode(),
          reason: cancelled ? `the execution was cancelled: ${message}` : message,
          links,
        };
      }
      if ((execution.runningCount ?? 0) > 0) return { phase: 'running', reason: 'a task is running', links };
      return { phase: 'pending', reason: completed?.message ?? 'the execution is starting', links };
    },

    async stop(target, handle) {
      if (!handle.execution) return;
      const name = handle.execution;
      const { executions } = await clients(target);
      try {
        await call(`cancelling execution ${name}`, () => executions.cancelExecution({ name }));
      } catch (error) {
        // gone, or finished already (FAILED_PRECONDITION): nothing is left to stop
        if (
          error instanceof ProviderPermanentError &&
          (error.kind === 'not-found' || /FAILED_PRECONDITION/.test(error.message))
        )
          return;
        throw error;
      }
    },

    async remove(target, _request, handle) {
      if (!handle || target.block.keep_job) return;
      const { jobs } = await clients(target);
      // the delete is accepted at once; its operation is not waited for
      await orMissing(
        call(`deleting Cloud Run job ${handle.job}`, () => jobs.deleteJob({ name: handle.job })),
      );
    },
  };

  return defineProvider(cloudRunJobSpec, driver, options.runtime);
}

export const cloudRunJobProvider = createCloudRunJobProvider();
