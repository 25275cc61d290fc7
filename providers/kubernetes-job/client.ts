// A thin typed client of the few Kubernetes API calls the provider makes, over node:https
// (custom CA, client certificates and SNI per cluster; no dependency). The official
// @kubernetes/client-node 1.4 bundles to 1.6 MB minified, past the function's 1 MB budget
// (docs/providers.md). Answers are parsed with zod; a failed call is a KubernetesApiError
// carrying the HTTP status, the `Status` body and the headers, which classifyHttp reads
// (reason AlreadyExists → conflict, NotFound → not-found, 429/5xx → transient, Retry-After).
import { Agent, request as httpsRequest } from 'node:https';
import * as z from 'zod';
import type { ClusterConnection } from './kubeconfig.js';

/** A `Status` object, as the API server answers a failed call. */
export const StatusSchema = z.looseObject({
  kind: z.literal('Status'),
  status: z.string().optional(),
  message: z.string().optional(),
  reason: z.string().optional(),
  code: z.number().optional(),
});

export class KubernetesApiError extends Error {
  override readonly name = 'KubernetesApiError';
  constructor(
    readonly what: string,
    readonly status: number,
    /** The Status JSON (as text) or whatever the server sent. */
    readonly body: string,
    readonly headers: Record<string, string>,
  ) {
    const parsed = StatusSchema.safeParse(safeJson(body));
    const detail = parsed.success
      ? `${parsed.data.reason ?? 'Failure'}: ${parsed.data.message ?? ''}`
      : body.slice(0, 200);
    super(`${what}: HTTP ${status} ${detail}`.trim());
  }

  /** The Status reason (AlreadyExists, NotFound, Forbidden, …), if the body is a Status. */
  get reason(): string | undefined {
    const parsed = StatusSchema.safeParse(safeJson(this.body));
    return parsed.success ? parsed.data.reason : undefined;
  }
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

const ObjectMetaSchema = z.looseObject({
  name: z.string(),
  namespace: z.string().optional(),
  uid: z.string().optional(),
  labels: z.record(z.string(), z.string()).nullish(),
  deletionTimestamp: z.string().nullish(),
  creationTimestamp: z.string().nullish(),
});

const ConditionSchema = z.looseObject({
  type: z.string(),
  status: z.string(),
  reason: z.string().nullish(),
  message: z.string().nullish(),
});

export const JobSchema = z.looseObject({
  metadata: ObjectMetaSchema,
  spec: z.looseObject({ backoffLimit: z.number().nullish() }).nullish(),
  status: z
    .looseObject({
      conditions: z.array(ConditionSchema).nullish(),
      active: z.number().nullish(),
      succeeded: z.number().nullish(),
      failed: z.number().nullish(),
      startTime: z.string().nullish(),
      completionTime: z.string().nullish(),
    })
    .nullish(),
});
export type Job = z.infer<typeof JobSchema>;

const ContainerStateSchema = z.looseObject({
  waiting: z.looseObject({ reason: z.string().nullish(), message: z.string().nullish() }).nullish(),
  running: z.looseObject({ startedAt: z.string().nullish() }).nullish(),
  terminated: z
    .looseObject({
      exitCode: z.number(),
      reason: z.string().nullish(),
      message: z.string().nullish(),
    })
    .nullish(),
});

export const PodSchema = z.looseObject({
  metadata: ObjectMetaSchema,
  status: z
    .looseObject({
      phase: z.string().nullish(),
      reason: z.string().nullish(),
      message: z.string().nullish(),
      conditions: z.array(ConditionSchema).nullish(),
      containerStatuses: z
        .array(z.looseObject({ name: z.string(), state: ContainerStateSchema.nullish() }))
        .nullish(),
    })
    .nullish(),
});
export type Pod = z.infer<typeof PodSchema>;

const PodListSchema = z.looseObject({ items: z.array(PodSchema) });

export interface ClientOptions {
  /** Per request (ms); a server that does not answer is a TimeoutError (transient). */
  timeoutMs?: number;
  /** The bearer token, when it is made per call (EKS) rather than in the kubeconfig. */
  token?: () => Promise<string | undefined>;
}

interface Answer {
  status: number;
  headers: Record<string, string>;
  text: string;
}

function flatHeaders(headers: Record<string, string | string[] | undefined>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(headers)) {
    if (value !== undefined) out[key] = Array.isArray(value) ? value.join(', ') : value;
  }
  return out;
}

const enc = encodeURIComponent;

export class KubernetesClient {
  private readonly agent: Agent;
  private readonly timeoutMs: number;

  constructor(
    private readonly connection: ClusterConnection,
    private readonly options: ClientOptions = {},
  ) {
    this.agent = new Agent({
      keepAlive: true,
      rejectUnauthorized: connection.verify,
      ...(connection.ca ? { ca: connection.ca } : {}),
      ...(connection.cert && connection.key ? { cert: connection.cert, key: connection.key } : {}),
      ...(connection.servername ? { servername: connection.servername } : {}),
    });
    this.timeoutMs = options.timeoutMs ?? 20_000;
  }

  close(): void {
    this.agent.destroy();
  }

  private async send(
    method: string,
    path: string,
    body?: unknown,
    accept = 'application/json',
  ): Promise<Answer> {
    const token = (await this.options.token?.()) ?? this.connection.token;
    // appended, not resolved: a server behind a proxy has a path of its own (https://rancher/k8s/clusters/c-1)
    const url = new URL(`${this.connection.server}${path}`);
    const payload = body === undefined ? undefined : JSON.stringify(body);
    return new Promise<Answer>((resolve, reject) => {
      const req = httpsRequest(
        url,
        {
          method,
          agent: this.agent,
          headers: {
            accept,
            'user-agent': 'flow-run-submitter',
            ...(payload !== undefined
              ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) }
              : {}),
            ...(token ? { authorization: `Bearer ${token}` } : {}),
          },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (chunk: Buffer) => chunks.push(chunk));
          res.on('error', reject);
          res.on('end', () =>
            resolve({
              status: res.statusCode ?? 0,
              headers: flatHeaders(res.headers),
              text: Buffer.concat(chunks).toString('utf8'),
            }),
          );
        },
      );
      req.setTimeout(this.timeoutMs, () => {
        const error = new Error(`no answer from ${url.host} within ${this.timeoutMs} ms`);
        error.name = 'TimeoutError';
        req.destroy(error);
      });
      req.on('error', reject);
      req.end(payload);
    });
  }

  private async json<T>(what: string, schema: z.ZodType<T>, method: string, path: string, body?: unknown) {
    const answer = await this.send(method, path, body);
    if (answer.status < 200 || answer.status >= 300) {
      throw new KubernetesApiError(what, answer.status, answer.text, answer.headers);
    }
    const parsed = schema.safeParse(safeJson(answer.text));
    if (!parsed.success) {
      throw new Error(
        `${what}: the API server's answer is not what Kubernetes sends (${parsed.error.message})`,
      );
    }
    return { value: parsed.data, headers: answer.headers };
  }

  async createJob(namespace: string, job: unknown): Promise<Job> {
    const path = `/apis/batch/v1/namespaces/${enc(namespace)}/jobs`;
    return (await this.json('create Job', JobSchema, 'POST', path, job)).value;
  }

  async readJob(namespace: string, name: string): Promise<Job> {
    const path = `/apis/batch/v1/namespaces/${enc(namespace)}/jobs/${enc(name)}`;
    return (await this.json('read Job', JobSchema, 'GET', path)).value;
  }

  /** Deletes the Job; Foreground: its pods first, the Job last (without a policy, batch/v1 orphans the pods). */
  async deleteJob(
    namespace: string,
    name: string,
    propagationPolicy: 'Foreground' | 'Background',
  ): Promise<void> {
    const path = `/apis/batch/v1/namespaces/${enc(namespace)}/jobs/${enc(name)}`;
    const body = { kind: 'DeleteOptions', apiVersion: 'v1', propagationPolicy };
    const answer = await this.send('DELETE', path, body);
    if (answer.status < 200 || answer.status >= 300) {
      throw new KubernetesApiError('delete Job', answer.status, answer.text, answer.headers);
    }
  }

  async listPods(namespace: string, labelSelector: string): Promise<Pod[]> {
    const path = `/api/v1/namespaces/${enc(namespace)}/pods?labelSelector=${enc(labelSelector)}`;
    return (await this.json('list Pods', PodListSchema, 'GET', path)).value.items;
  }

  /** The last lines of a container's log (400 while the container has not started). */
  async podLog(namespace: string, pod: string, container: string, tailLines: number): Promise<string> {
    const path = `/api/v1/namespaces/${enc(namespace)}/pods/${enc(pod)}/log?container=${enc(container)}&tailLines=${tailLines}`;
    const answer = await this.send('GET', path, undefined, 'text/plain, */*');
    if (answer.status < 200 || answer.status >= 300) {
      throw new KubernetesApiError('read Pod log', answer.status, answer.text, answer.headers);
    }
    return answer.text;
  }
}
