// A protocol-faithful fake of the Kubernetes API server's endpoints the kubernetes-job
// provider uses, over HTTPS, written from the API reference (kubernetes.io/docs/reference/
// kubernetes-api/workload-resources/job-v1/, pod-v1/, common-definitions/status/,
// delete-options/): create/read/delete batch/v1 Jobs, list Pods by label selector, read a
// Pod's log; failures as `Status` objects (401 Unauthorized, 403 Forbidden, 404 NotFound,
// 409 AlreadyExists, 410 Expired, 422 Invalid). Jobs are validated with the official schema
// (kubernetes-models) and refused 422 when invalid.
//
// The Job controller is played by the test: a Job gets one Pod (labels `job-name`,
// `batch.kubernetes.io/job-name`, `controller-uid`) at create; each read of the Job applies
// the next step of its plan (`run`, `finish(code)`, `waiting(reason)`, `evict`, …); a pod that
// fails past backoffLimit makes the Job's condition pair FailureTarget + Failed, a succeeded
// one SuccessCriteriaMet + Complete. Deletion follows propagationPolicy: Foreground marks the
// Job (deletionTimestamp, finalizer foregroundDeletion), deletes its pods, then the Job;
// Background deletes the Job and then its pods; none (batch/v1's default, orphan) leaves the
// pods and answers with the API server's Warning header.
import { randomBytes, randomUUID } from 'node:crypto';
import { Job as JobModel } from 'kubernetes-models/batch/v1';
import {
  type FakeAnswer,
  type FakeRequest,
  type HttpFake,
  startHttpFake,
  type TlsMaterial,
} from './http-fake.js';

export interface FakePod {
  metadata: {
    name: string;
    namespace: string;
    uid: string;
    labels: Record<string, string>;
    creationTimestamp: string;
    deletionTimestamp?: string;
  };
  spec: { containers: { name: string; image?: string }[] };
  status: {
    phase: 'Pending' | 'Running' | 'Succeeded' | 'Failed';
    reason?: string;
    message?: string;
    conditions: { type: string; status: string; reason?: string; message?: string }[];
    containerStatuses: {
      name: string;
      state: Record<string, unknown>;
      ready: boolean;
      restartCount: number;
    }[];
  };
  /** The container's output (not part of the API object). */
  log: string[];
}

export interface FakeJob {
  apiVersion: 'batch/v1';
  kind: 'Job';
  metadata: Record<string, unknown> & {
    name: string;
    namespace: string;
    uid: string;
    labels?: Record<string, string>;
    deletionTimestamp?: string;
    finalizers?: string[];
  };
  spec: Record<string, unknown> & { backoffLimit?: number };
  status: {
    active?: number;
    succeeded?: number;
    failed?: number;
    startTime?: string;
    completionTime?: string;
    conditions?: {
      type: string;
      status: string;
      reason?: string;
      message?: string;
      lastTransitionTime: string;
    }[];
  };
}

/** One step of the Job controller and kubelet, applied at a read of the Job. */
export type Step = (controller: KubeController, job: FakeJob) => void;

export interface KubeState {
  jobs: Map<string, FakeJob>;
  pods: Map<string, FakePod>;
  /** Plans by Job name; a Job without one gets `defaultPlan`. */
  plans: Map<string, Step[]>;
  defaultPlan: Step[];
  /** Every Job body created, as sent. */
  created: unknown[];
  /** Every delete: name and propagationPolicy as sent. */
  deletes: { name: string; propagationPolicy: string | undefined }[];
  /** `verb resource` pairs the caller may not do (403). */
  forbidden: Set<string>;
  resourceVersion: number;
}

const key = (namespace: string, name: string) => `${namespace}/${name}`;
const now = () => new Date().toISOString();

function status(
  code: number,
  reason: string,
  message: string,
  details?: Record<string, unknown>,
): FakeAnswer {
  return {
    status: code,
    body: {
      kind: 'Status',
      apiVersion: 'v1',
      metadata: {},
      status: 'Failure',
      message,
      reason,
      ...(details ? { details } : {}),
      code,
    },
  };
}

export class KubeController {
  constructor(readonly state: KubeState) {}

  podsOf(job: FakeJob): FakePod[] {
    return [...this.state.pods.values()].filter(
      (pod) =>
        pod.metadata.namespace === job.metadata.namespace &&
        pod.metadata.labels['job-name'] === job.metadata.name,
    );
  }

  current(job: FakeJob): FakePod | undefined {
    return this.podsOf(job).at(-1);
  }

  bump(): string {
    this.state.resourceVersion += 1;
    return String(this.state.resourceVersion);
  }

  /** The Job controller makes a pod for the Job (Pending, unscheduled). */
  makePod(job: FakeJob): FakePod {
    const template = (job.spec.template as { spec: { containers: { name: string; image?: string }[] } }).spec;
    const name = `${job.metadata.name}-${randomBytes(3).toString('hex').slice(0, 5)}`;
    const pod: FakePod = {
      metadata: {
        name,
        namespace: job.metadata.namespace,
        uid: randomUUID(),
        labels: {
          'job-name': job.metadata.name,
          'batch.kubernetes.io/job-name': job.metadata.name,
          'controller-uid': job.metadata.uid,
          'batch.kubernetes.io/controller-uid': job.metadata.uid,
        },
        creationTimestamp: `${now()}#${this.bump().padStart(8, '0')}`,
      },
      spec: {
        containers: template.containers.map((c) => ({
          name: c.name,
          ...(c.image ? { image: c.image } : {}),
        })),
      },
      status: {
        phase: 'Pending',
        conditions: [{ type: 'PodScheduled', status: 'True' }],
        containerStatuses: template.containers.map((c) => ({
          name: c.name,
          state: { waiting: { reason: 'ContainerCreating' } },
          ready: false,
          restartCount: 0,
        })),
      },
      log: [],
    };
    this.state.pods.set(key(pod.metadata.namespace, name), pod);
    job.status.active = 1;
    job.status.startTime ??= now();
    return pod;
  }

  private setFlow(pod: FakePod, state: Record<string, unknown>): void {
    const flow = pod.status.containerStatuses[0];
    if (flow) flow.state = state;
  }

  run(job: FakeJob, log: string[] = []): void {
    const pod = this.current(job);
    if (!pod) return;
    pod.status.phase = 'Running';
    pod.log.push(...log);
    this.setFlow(pod, { running: { startedAt: now() } });
  }

  waiting(job: FakeJob, reason: string, message: string): void {
    const pod = this.current(job);
    if (pod) this.setFlow(pod, { waiting: { reason, message } });
  }

  unschedulable(job: FakeJob, message: string): void {
    const pod = this.current(job);
    if (!pod) return;
    pod.status.conditions = [{ type: 'PodScheduled', status: 'False', reason: 'Unschedulable', message }];
    pod.status.containerStatuses = []; // the kubelet reports containers only once the pod is on a node
  }

  /** The flow container exits; the Job controller counts the pod. */
  finish(job: FakeJob, exitCode: number, log: string[] = []): void {
    const pod = this.current(job);
    if (!pod) return;
    pod.log.push(...log);
    pod.status.phase = exitCode === 0 ? 'Succeeded' : 'Failed';
    this.setFlow(pod, {
      terminated: {
        exitCode,
        reason: exitCode === 0 ? 'Completed' : 'Error',
        startedAt: now(),
        finishedAt: now(),
      },
    });
    this.count(job, exitCode === 0);
  }

  /** The kubelet evicts the pod (node pressure): Failed with reason Evicted, no exit code. */
  evict(job: FakeJob): void {
    const pod = this.current(job);
    if (!pod) return;
    pod.status.phase = 'Failed';
    pod.status.reason = 'Evicted';
    pod.status.message = 'The node was low on resource: memory.';
    this.setFlow(pod, { terminated: undefined });
    const flow = pod.status.containerStatuses[0];
    if (flow) flow.state = {};
    this.count(job, false);
  }

  /** Someone deletes the pod: since Kubernetes 1.26 the Job counts it as failed. */
  deletePod(job: FakeJob): void {
    const pod = this.current(job);
    if (!pod) return;
    this.state.pods.delete(key(pod.metadata.namespace, pod.metadata.name));
    this.count(job, false);
  }

  private count(job: FakeJob, succeeded: boolean): void {
    const at = now();
    job.status.active = 0;
    if (succeeded) {
      job.status.succeeded = (job.status.succeeded ?? 0) + 1;
      job.status.completionTime = at;
      job.status.conditions = [
        {
          type: 'SuccessCriteriaMet',
          status: 'True',
          reason: 'CompletionsReached',
          message: 'Reached expected number of succeeded pods',
          lastTransitionTime: at,
        },
        {
          type: 'Complete',
          status: 'True',
          reason: 'CompletionsReached',
          message: 'Reached expected number of succeeded pods',
          lastTransitionTime: at,
        },
      ];
      return;
    }
    job.status.failed = (job.status.failed ?? 0) + 1;
    if (job.status.failed > (job.spec.backoffLimit ?? 6)) {
      const message = 'Job has reached the specified backoff limit';
      job.status.conditions = [
        {
          type: 'FailureTarget',
          status: 'True',
          reason: 'BackoffLimitExceeded',
          message,
          lastTransitionTime: at,
        },
        { type: 'Failed', status: 'True', reason: 'BackoffLimitExceeded', message, lastTransitionTime: at },
      ];
    } else {
      this.makePod(job);
    }
  }
}

export const steps = {
  run:
    (log: string[] = []): Step =>
    (c, job) =>
      c.run(job, log),
  finish:
    (exitCode: number, log: string[] = []): Step =>
    (c, job) =>
      c.finish(job, exitCode, log),
  waiting:
    (reason: string, message: string): Step =>
    (c, job) =>
      c.waiting(job, reason, message),
  unschedulable:
    (message: string): Step =>
    (c, job) =>
      c.unschedulable(job, message),
  evict: (): Step => (c, job) => c.evict(job),
  deletePod: (): Step => (c, job) => c.deletePod(job),
  nothing: (): Step => () => undefined,
};

export interface KubeFake {
  fake: HttpFake<KubeState>;
  controller: KubeController;
  url: string;
  state: KubeState;
  close(): Promise<void>;
}

export interface KubeFakeOptions {
  tls: TlsMaterial;
  /** The bearer token the server accepts; undefined: only mutual TLS (tls.requestCert) authenticates. */
  token?: string;
  /** Instead of `token`: a webhook-style authenticator (e.g. EKS's, which replays the token to STS). */
  authenticate?: (authorization: string | undefined) => boolean | Promise<boolean>;
}

function selectorMatches(selector: string, labels: Record<string, string>): boolean {
  return selector
    .split(',')
    .filter(Boolean)
    .every((term) => {
      const [name, value] = term.split('=');
      return name !== undefined && labels[name] === value;
    });
}

export async function startKubeFake(options: KubeFakeOptions): Promise<KubeFake> {
  const state: KubeState = {
    jobs: new Map(),
    pods: new Map(),
    plans: new Map(),
    defaultPlan: [steps.run(['hello from the flow']), steps.finish(0, ['flow run done'])],
    created: [],
    deletes: [],
    forbidden: new Set(),
    resourceVersion: 1000,
  };
  const controller = new KubeController(state);
  const fake = await startHttpFake<KubeState>({ state, tls: options.tls });

  /** 401 without the credential; 403 for a forbidden verb; undefined when allowed. */
  const deny = async (
    request: FakeRequest,
    verb: string,
    resource: string,
    group: string,
  ): Promise<FakeAnswer | undefined> => {
    const authorization = request.headers.authorization;
    const authenticated = options.authenticate
      ? await options.authenticate(authorization)
      : options.token === undefined || authorization === `Bearer ${options.token}`;
    if (!authenticated) return status(401, 'Unauthorized', 'Unauthorized');
    if (state.forbidden.has(`${verb} ${resource}`)) {
      const ns = request.params.ns ?? '';
      return status(
        403,
        'Forbidden',
        `${resource}${group ? `.${group}` : ''} is forbidden: User "system:serviceaccount:prefect:submitter" cannot ${verb} resource "${resource}" in API group "${group}" in the namespace "${ns}"`,
        { kind: resource },
      );
    }
    return undefined;
  };

  const jobAnswer = (job: FakeJob): unknown => ({
    ...job,
    metadata: { ...job.metadata, resourceVersion: controller.bump() },
  });

  fake.route('POST /apis/batch/v1/namespaces/:ns/jobs', async (request) => {
    const denied = await deny(request, 'create', 'jobs', 'batch');
    if (denied) return denied;
    const ns = request.params.ns ?? '';
    const body = request.json as FakeJob | undefined;
    if (body?.kind !== 'Job' || body.apiVersion !== 'batch/v1') {
      return status(400, 'BadRequest', 'the body is not a batch/v1 Job');
    }
    try {
      new JobModel(body as unknown as ConstructorParameters<typeof JobModel>[0]).validate();
    } catch (error) {
      return status(
        422,
        'Invalid',
        `Job is invalid: ${error instanceof Error ? error.message : String(error)}`,
      );
    }
    const metadata = body.metadata ?? {};
    if (metadata.namespace !== undefined && metadata.namespace !== ns) {
      return status(
        400,
        'BadRequest',
        'the namespace of the provided object does not match the namespace sent on the request',
      );
    }
    const generateName = typeof metadata.generateName === 'string' ? metadata.generateName : undefined;
    const name =
      metadata.name ??
      (generateName ? `${generateName}${randomBytes(3).toString('hex').slice(0, 5)}` : undefined);
    if (!name)
      return status(
        422,
        'Invalid',
        'Job.batch "" is invalid: metadata.name: Required value: name or generateName is required',
      );
    state.created.push(structuredClone(body));
    if (state.jobs.has(key(ns, name))) {
      return status(409, 'AlreadyExists', `jobs.batch "${name}" already exists`, {
        name,
        group: 'batch',
        kind: 'jobs',
      });
    }
    const uid = randomUUID();
    const job: FakeJob = {
      ...structuredClone(body),
      metadata: { ...structuredClone(metadata), name, namespace: ns, uid, creationTimestamp: now() },
      status: {},
    };
    // the Job controller's labels on the pod template and the Job
    job.metadata.labels = { ...(job.metadata.labels ?? {}), 'controller-uid': uid, 'job-name': name };
    state.jobs.set(key(ns, name), job);
    controller.makePod(job);
    return { status: 201, body: jobAnswer(job) };
  });

  fake.route('GET /apis/batch/v1/namespaces/:ns/jobs/:name', async (request) => {
    const denied = await deny(request, 'get', 'jobs', 'batch');
    if (denied) return denied;
    const { ns = '', name = '' } = request.params;
    const job = state.jobs.get(key(ns, name));
    if (!job)
      return status(404, 'NotFound', `jobs.batch "${name}" not found`, {
        name,
        group: 'batch',
        kind: 'jobs',
      });
    const plan = state.plans.get(name) ?? [...state.defaultPlan];
    const step = plan.shift();
    state.plans.set(name, plan);
    if (step && !job.metadata.deletionTimestamp) step(controller, job);
    return { status: 200, body: jobAnswer(job) };
  });

  fake.route('DELETE /apis/batch/v1/namespaces/:ns/jobs/:name', async (request) => {
    const denied = await deny(request, 'delete', 'jobs', 'batch');
    if (denied) return denied;
    const { ns = '', name = '' } = request.params;
    const options = (request.json ?? {}) as { propagationPolicy?: string };
    const policy = options.propagationPolicy ?? request.query.get('propagationPolicy') ?? undefined;
    state.deletes.push({ name, propagationPolicy: policy });
    const job = state.jobs.get(key(ns, name));
    if (!job)
      return status(404, 'NotFound', `jobs.batch "${name}" not found`, {
        name,
        group: 'batch',
        kind: 'jobs',
      });
    const pods = controller.podsOf(job);
    if (policy === 'Foreground') {
      // the garbage collector: the Job stays, marked, until its dependents are gone
      job.metadata.deletionTimestamp = now();
      job.metadata.finalizers = ['foregroundDeletion'];
      const answer = { status: 200, body: jobAnswer(job) };
      setTimeout(() => {
        for (const pod of pods) state.pods.delete(key(ns, pod.metadata.name));
        state.jobs.delete(key(ns, name));
      }, 30);
      return answer;
    }
    state.jobs.delete(key(ns, name));
    if (policy === 'Background') {
      setTimeout(() => {
        for (const pod of pods) state.pods.delete(key(ns, pod.metadata.name));
      }, 30);
      return {
        status: 200,
        body: {
          kind: 'Status',
          apiVersion: 'v1',
          metadata: {},
          status: 'Success',
          details: { name, group: 'batch', kind: 'jobs', uid: job.metadata.uid },
        },
      };
    }
    return {
      status: 200,
      headers: {
        warning:
          '299 - "child pods are preserved by default when jobs are deleted; set propagationPolicy=Background to remove them or set propagationPolicy=Orphan to suppress this warning"',
      },
      body: {
        kind: 'Status',
        apiVersion: 'v1',
        metadata: {},
        status: 'Success',
        details: { name, group: 'batch', kind: 'jobs', uid: job.metadata.uid },
      },
    };
  });

  fake.route('GET /api/v1/namespaces/:ns/pods', async (request) => {
    const denied = await deny(request, 'list', 'pods', '');
    if (denied) return denied;
    const ns = request.params.ns ?? '';
    const version = request.query.get('resourceVersion');
    if (request.query.get('watch') && version && Number(version) < state.resourceVersion - 100) {
      return status(410, 'Expired', `too old resource version: ${version} (${state.resourceVersion})`);
    }
    const selector = request.query.get('labelSelector') ?? '';
    const items = [...state.pods.values()]
      .filter((pod) => pod.metadata.namespace === ns && selectorMatches(selector, pod.metadata.labels))
      .map(({ log: _log, ...pod }) => pod);
    return {
      status: 200,
      body: { kind: 'PodList', apiVersion: 'v1', metadata: { resourceVersion: controller.bump() }, items },
    };
  });

  fake.route('GET /api/v1/namespaces/:ns/pods/:name/log', async (request) => {
    const denied = await deny(request, 'get', 'pods/log', '');
    if (denied) return denied;
    const { ns = '', name = '' } = request.params;
    const pod = state.pods.get(key(ns, name));
    if (!pod) return status(404, 'NotFound', `pods "${name}" not found`, { name, kind: 'pods' });
    const container = request.query.get('container') ?? pod.spec.containers[0]?.name ?? '';
    const flow = pod.status.containerStatuses.find((c) => c.name === container);
    if (!flow) return status(400, 'BadRequest', `container ${container} is not valid for pod ${name}`);
    const waiting = flow.state.waiting as { reason?: string } | undefined;
    if (waiting || (pod.log.length === 0 && !flow.state.terminated && !flow.state.running)) {
      return status(
        400,
        'BadRequest',
        `container "${container}" in pod "${name}" is waiting to start: ${waiting?.reason ?? 'ContainerCreating'}`,
      );
    }
    const tail = Number(request.query.get('tailLines') ?? 'NaN');
    const lines = Number.isFinite(tail) ? pod.log.slice(-tail) : pod.log;
    return {
      status: 200,
      headers: { 'content-type': 'text/plain' },
      body: lines.map((l) => `${l}\n`).join(''),
    };
  });

  return { fake, controller, url: fake.url, state, close: () => fake.close() };
}
