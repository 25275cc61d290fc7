// A fake of the Cloud Run Admin API v2 over REST (as https://cloud.google.com/run/docs/reference/rest
// describes it) and of Google's OAuth 2.0 token endpoint, for the official clients:
// - POST /token: the JWT-bearer grant; the assertion's RS256 signature is checked with the key's
//   public half; API calls without a token it issued get 401 UNAUTHENTICATED.
// - jobs.create (`?jobId=`, 409 ALREADY_EXISTS), get, delete; the create is a long-running
//   operation, done at its first poll (the job then Ready); an image named `…/missing…` fails it
//   (the job's Ready condition CONTAINER_MISSING, as Google does); jobs.run on a job not ready: 400.
// - `validateOnly=true` on create: checked (a missing image: 400 INVALID_ARGUMENT), nothing kept;
//   project `forbidden-project`: 403 PERMISSION_DENIED.
// - jobs.run → an Execution and an operation that ends only with it; executions get/list/cancel;
//   tasks list with `lastAttemptResult.exitCode`.
// - The execution's course comes from its container's env FAKE_OUTCOME: `exit:N` (default
//   `exit:0`) after one read of it running, `forever` (until cancelled).
// Errors are Google's JSON: {"error": {"code", "message", "status"}}.
import { createVerify, generateKeyPairSync, randomUUID } from 'node:crypto';
import { type FakeAnswer, type HttpFake, startHttpFake } from './http-fake.js';

const API = '/v2/projects/:project/locations/:location';

interface FakeJob {
  name: string;
  uid: string;
  body: Record<string, unknown>;
  labels: Record<string, string>;
  ready: 'pending' | 'ok' | 'failed';
  executions: FakeExecution[];
  counter: number;
}

interface FakeExecution {
  name: string;
  job: string;
  outcome: { kind: 'exit'; code: number } | { kind: 'forever' };
  reads: number;
  cancelled: boolean;
  createTime: string;
}

interface FakeOperation {
  name: string;
  polls: number;
  /** What the operation is about: a job's create, a run, a delete. */
  kind: 'create' | 'run' | 'delete';
  job: string;
  execution?: string;
}

export interface GoogleState {
  jobs: Map<string, FakeJob>;
  operations: Map<string, FakeOperation>;
  tokens: Set<string>;
  /** Token grants answered. */
  grants: number;
  deleted: string[];
  opCounter: number;
}

export interface GoogleFake {
  fake: HttpFake<GoogleState>;
  url: string;
  state: GoogleState;
  /** A service-account key whose token_uri is this fake's token endpoint. */
  key: Record<string, string>;
  close(): Promise<void>;
}

export function googleError(code: number, status: string, message: string): FakeAnswer {
  return { status: code, body: { error: { code, message, status } } };
}

function outcomeOf(body: Record<string, unknown>): FakeExecution['outcome'] {
  const text = JSON.stringify(body);
  const match = /"name":"FAKE_OUTCOME","value":"([^"]*)"/.exec(text);
  const value = match?.[1] ?? 'exit:0';
  if (value === 'forever') return { kind: 'forever' };
  return { kind: 'exit', code: Number(value.replace('exit:', '')) };
}

function now(): string {
  return new Date().toISOString();
}

function jobView(job: FakeJob): Record<string, unknown> {
  const latest = job.executions.at(-1);
  return {
    ...job.body,
    name: job.name,
    uid: job.uid,
    labels: job.labels,
    reconciling: job.ready === 'pending',
    executionCount: job.executions.length,
    ...(job.ready === 'pending'
      ? {}
      : {
          terminalCondition:
            job.ready === 'ok'
              ? { type: 'Ready', state: 'CONDITION_SUCCEEDED', lastTransitionTime: now() }
              : {
                  type: 'Ready',
                  state: 'CONDITION_FAILED',
                  reason: 'CONTAINER_MISSING',
                  message: 'Image not found: the image does not exist or the service account cannot read it.',
                },
        }),
    ...(latest ? { latestCreatedExecution: { name: latest.name, createTime: latest.createTime } } : {}),
  };
}

function finished(execution: FakeExecution): boolean {
  return execution.cancelled || (execution.outcome.kind === 'exit' && execution.reads > 1);
}

function executionView(execution: FakeExecution): Record<string, unknown> {
  const base = {
    name: execution.name,
    job: execution.job.split('/').at(-1),
    createTime: execution.createTime,
    taskCount: 1,
    logUri: `https://console.cloud.google.com/logs/viewer?resource=${encodeURIComponent(execution.name)}`,
  };
  if (execution.cancelled) {
    return {
      ...base,
      cancelledCount: 1,
      completionTime: now(),
      conditions: [
        {
          type: 'Completed',
          state: 'CONDITION_FAILED',
          executionReason: 'CANCELLED',
          message: 'The execution was cancelled.',
        },
      ],
    };
  }
  if (!finished(execution)) {
    return {
      ...base,
      runningCount: 1,
      reconciling: true,
      conditions: [{ type: 'Completed', state: 'CONDITION_PENDING', message: 'Tasks are running.' }],
    };
  }
  const code = execution.outcome.kind === 'exit' ? execution.outcome.code : 0;
  return {
    ...base,
    completionTime: now(),
    ...(code === 0 ? { succeededCount: 1 } : { failedCount: 1 }),
    conditions: [
      code === 0
        ? { type: 'Completed', state: 'CONDITION_SUCCEEDED', message: 'Execution completed successfully.' }
        : {
            type: 'Completed',
            state: 'CONDITION_FAILED',
            reason: 'NonZeroExitCode',
            message: `Task ${execution.name.split('/').at(-1)}-task0 failed with message: The container exited with an error.`,
          },
    ],
  };
}

export async function startGoogleFake(): Promise<GoogleFake> {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const state: GoogleState = {
    jobs: new Map(),
    operations: new Map(),
    tokens: new Set(),
    grants: 0,
    deleted: [],
    opCounter: 0,
  };
  const fake = await startHttpFake({ state });

  const authorized = (headers: Record<string, unknown>): boolean => {
    const header = headers.authorization;
    return typeof header === 'string' && state.tokens.has(header.replace(/^Bearer /, ''));
  };
  const unauthenticated = googleError(
    401,
    'UNAUTHENTICATED',
    'Request had invalid authentication credentials. Expected OAuth 2 access token.',
  );
  const operation = (project: string, location: string, op: Omit<FakeOperation, 'name' | 'polls'>) => {
    const name = `projects/${project}/locations/${location}/operations/${randomUUID()}`;
    state.operations.set(name, { ...op, name, polls: 0 });
    return name;
  };
  const jobName = (p: Record<string, string>, id: string) =>
    `projects/${p.project}/locations/${p.location}/jobs/${id}`;

  fake.route('POST /token', (request) => {
    const form = new URLSearchParams(request.text);
    const assertion = form.get('assertion') ?? '';
    const [header, claims, signature] = assertion.split('.');
    const valid =
      form.get('grant_type') === 'urn:ietf:params:oauth:grant-type:jwt-bearer' &&
      header !== undefined &&
      claims !== undefined &&
      signature !== undefined &&
      createVerify('RSA-SHA256')
        .update(`${header}.${claims}`)
        .verify(publicKey, Buffer.from(signature, 'base64url'));
    if (!valid)
      return { status: 400, body: { error: 'invalid_grant', error_description: 'Invalid JWT Signature.' } };
    const token = `ya29.fake-${randomUUID()}`;
    state.tokens.add(token);
    state.grants++;
    return { status: 200, body: { access_token: token, expires_in: 3599, token_type: 'Bearer' } };
  });

  fake.route(`POST ${API}/jobs`, (request, s) => {
    if (!authorized(request.headers)) return unauthenticated;
    const id = request.query.get('jobId') ?? '';
    const name = jobName(request.params, id);
    if (s.jobs.has(name)) return googleError(409, 'ALREADY_EXISTS', `Resource '${id}' already exists.`);
    const body = (request.json ?? {}) as Record<string, unknown>;
    const labels = (body.labels ?? {}) as Record<string, string>;
    if (request.params.project === 'forbidden-project') {
      return googleError(
        403,
        'PERMISSION_DENIED',
        `Permission 'run.jobs.create' denied on resource 'projects/forbidden-project/locations/${request.params.location}/jobs/${id}' (or it may not exist).`,
      );
    }
    if (request.query.get('validateOnly') === 'true') {
      // validated, defaults filled in, nothing kept
      if (JSON.stringify(body).includes('/missing')) {
        return googleError(
          400,
          'INVALID_ARGUMENT',
          'Image not found: the image does not exist or the service account cannot read it.',
        );
      }
      const op = `projects/${request.params.project}/locations/${request.params.location}/operations/${randomUUID()}`;
      return {
        status: 200,
        body: {
          name: op,
          done: true,
          response: { '@type': 'type.googleapis.com/google.cloud.run.v2.Job', ...body, name },
        },
      };
    }
    s.jobs.set(name, {
      name,
      uid: randomUUID(),
      body,
      labels,
      ready: 'pending',
      executions: [],
      counter: 0,
    });
    const op = operation(request.params.project ?? '', request.params.location ?? '', {
      kind: 'create',
      job: name,
    });
    return {
      status: 200,
      body: { name: op, metadata: { '@type': 'type.googleapis.com/google.cloud.run.v2.Job', name } },
    };
  });

  fake.route(`GET ${API}/operations/:op`, (request, s) => {
    if (!authorized(request.headers)) return unauthenticated;
    const name = `projects/${request.params.project}/locations/${request.params.location}/operations/${request.params.op}`;
    const op = s.operations.get(name);
    if (!op) return googleError(404, 'NOT_FOUND', `Operation ${name} not found.`);
    op.polls++;
    const job = s.jobs.get(op.job);
    if (op.kind === 'create' && job) {
      const missing = JSON.stringify(job.body).includes('/missing');
      job.ready = missing ? 'failed' : 'ok';
      if (missing) {
        return {
          status: 200,
          body: {
            name,
            done: true,
            error: {
              code: 5,
              message: 'Image not found: the image does not exist or the service account cannot read it.',
            },
          },
        };
      }
      return {
        status: 200,
        body: {
          name,
          done: true,
          response: { '@type': 'type.googleapis.com/google.cloud.run.v2.Job', ...jobView(job) },
        },
      };
    }
    if (op.kind === 'run') {
      const execution = job?.executions.find((e) => e.name === op.execution);
      const view = execution ? executionView(execution) : {};
      const done = execution ? finished(execution) : true;
      return {
        status: 200,
        body: {
          name,
          metadata: { '@type': 'type.googleapis.com/google.cloud.run.v2.Execution', ...view },
          ...(done
            ? {
                done: true,
                response: { '@type': 'type.googleapis.com/google.cloud.run.v2.Execution', ...view },
              }
            : {}),
        },
      };
    }
    return {
      status: 200,
      body: { name, done: true, response: { '@type': 'type.googleapis.com/google.cloud.run.v2.Job' } },
    };
  });

  // `jobs/J` and `jobs/J:run` (the route's last segment holds the custom method)
  fake.route(`GET ${API}/jobs/:job`, (request, s) => {
    if (!authorized(request.headers)) return unauthenticated;
    const job = s.jobs.get(jobName(request.params, request.params.job ?? ''));
    if (!job)
      return googleError(404, 'NOT_FOUND', `Resource '${request.params.job}' of kind 'JOB' does not exist.`);
    return { status: 200, body: jobView(job) };
  });

  fake.route(`DELETE ${API}/jobs/:job`, (request, s) => {
    if (!authorized(request.headers)) return unauthenticated;
    const name = jobName(request.params, request.params.job ?? '');
    const job = s.jobs.get(name);
    if (!job)
      return googleError(404, 'NOT_FOUND', `Resource '${request.params.job}' of kind 'JOB' does not exist.`);
    s.jobs.delete(name);
    s.deleted.push(name);
    const op = operation(request.params.project ?? '', request.params.location ?? '', {
      kind: 'delete',
      job: name,
    });
    return {
      status: 200,
      body: { name: op, metadata: { '@type': 'type.googleapis.com/google.cloud.run.v2.Job', name } },
    };
  });

  fake.route(`POST ${API}/jobs/:jobrun`, (request, s) => {
    if (!authorized(request.headers)) return unauthenticated;
    const [id, method] = (request.params.jobrun ?? '').split(':');
    if (method !== 'run') return googleError(404, 'NOT_FOUND', `Method ${method} not found.`);
    const name = jobName(request.params, id ?? '');
    const job = s.jobs.get(name);
    if (!job) return googleError(404, 'NOT_FOUND', `Resource '${id}' of kind 'JOB' does not exist.`);
    if (job.ready !== 'ok') {
      return googleError(400, 'FAILED_PRECONDITION', `Job ${id} is not ready: see its Ready condition.`);
    }
    job.counter++;
    const execution: FakeExecution = {
      name: `${name}/executions/${id}-${String(job.counter).padStart(5, 'x')}`,
      job: name,
      outcome: outcomeOf(job.body),
      reads: 0,
      cancelled: false,
      createTime: now(),
    };
    job.executions.push(execution);
    const op = operation(request.params.project ?? '', request.params.location ?? '', {
      kind: 'run',
      job: name,
      execution: execution.name,
    });
    return {
      status: 200,
      body: {
        name: op,
        metadata: {
          '@type': 'type.googleapis.com/google.cloud.run.v2.Execution',
          ...executionView(execution),
        },
      },
    };
  });

  const findExecution = (s: GoogleState, params: Record<string, string>) => {
    const job = s.jobs.get(jobName(params, params.job ?? ''));
    const id = (params.exec ?? '').split(':')[0];
    return job?.executions.find((e) => e.name.endsWith(`/executions/${id}`));
  };

  fake.route(`GET ${API}/jobs/:job/executions`, (request, s) => {
    if (!authorized(request.headers)) return unauthenticated;
    const job = s.jobs.get(jobName(request.params, request.params.job ?? ''));
    if (!job)
      return googleError(404, 'NOT_FOUND', `Resource '${request.params.job}' of kind 'JOB' does not exist.`);
    const executions = [...job.executions].reverse().map(executionView);
    return { status: 200, body: executions.length ? { executions } : {} };
  });

  fake.route(`GET ${API}/jobs/:job/executions/:exec`, (request, s) => {
    if (!authorized(request.headers)) return unauthenticated;
    const execution = findExecution(s, request.params);
    if (!execution)
      return googleError(404, 'NOT_FOUND', `Execution '${request.params.exec}' does not exist.`);
    execution.reads++;
    return { status: 200, body: executionView(execution) };
  });

  fake.route(`POST ${API}/jobs/:job/executions/:exec`, (request, s) => {
    if (!authorized(request.headers)) return unauthenticated;
    const execution = findExecution(s, request.params);
    if (!execution || !(request.params.exec ?? '').endsWith(':cancel'))
      return googleError(404, 'NOT_FOUND', `Execution '${request.params.exec}' does not exist.`);
    if (finished(execution))
      return googleError(400, 'FAILED_PRECONDITION', 'The execution has already finished.');
    execution.cancelled = true;
    const op = operation(request.params.project ?? '', request.params.location ?? '', {
      kind: 'run',
      job: execution.job,
      execution: execution.name,
    });
    return {
      status: 200,
      body: {
        name: op,
        metadata: {
          '@type': 'type.googleapis.com/google.cloud.run.v2.Execution',
          ...executionView(execution),
        },
      },
    };
  });

  fake.route(`GET ${API}/jobs/:job/executions/:exec/tasks`, (request, s) => {
    if (!authorized(request.headers)) return unauthenticated;
    const execution = findExecution(s, request.params);
    if (!execution)
      return googleError(404, 'NOT_FOUND', `Execution '${request.params.exec}' does not exist.`);
    const done = finished(execution) && !execution.cancelled && execution.outcome.kind === 'exit';
    const code = execution.outcome.kind === 'exit' ? execution.outcome.code : 0;
    return {
      status: 200,
      body: {
        tasks: [
          {
            name: `${execution.name}/tasks/${execution.name.split('/').at(-1)}-task0`,
            index: 0,
            ...(done ? { lastAttemptResult: { exitCode: code, status: { code: code === 0 ? 0 : 2 } } } : {}),
          },
        ],
      },
    };
  });

  const key = {
    type: 'service_account',
    project_id: 'fake-project',
    private_key_id: randomUUID().replaceAll('-', ''),
    private_key: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    client_email: 'submitter@fake-project.iam.gserviceaccount.com',
    client_id: '1234567890',
    token_uri: `${fake.url}/token`,
  };
  return { fake, url: fake.url, state, key, close: () => fake.close() };
}
