// The `docker-container` provider: one container per flow run on a Docker Engine, as a
// driver of the shared runtime. find: inspect by the deterministic name, owned when its
// `io.prefect.flow-run-id` label is this flow run's. prepare: pull per the resolved policy
// (the registry password read from the block at pull time). create: POST /containers/create
// (409 → the runtime finds and adopts). start: connect the extra networks, start. status:
// inspect (a container removed by auto_remove: its `die` event). stop: stop?t=grace, or
// kill SIGKILL. remove: delete the container. logs: the demultiplexed tail.
import * as z from 'zod';
import { describeError, ProviderPermanentError } from '../../core/errors.js';
import { type SecretReader, secretsManagerReader } from '../../core/secret-ref.js';
import type { InfraStatus, Provider, Target } from '../port.js';
import { type Classifier, classifyHttp } from '../runtime/classify.js';
import { type Driver, defineProvider, type Found, type RuntimeOptions } from '../runtime/provider.js';
import { type RetryPolicy, retrying } from '../runtime/retry.js';
import type { DockerContainerBlock } from './block.js';
import { DOCKER_FLOW_RUN_LABEL, type DockerContainerRequest } from './build.js';
import {
  connectionFromEnv,
  demultiplex,
  type EngineClient,
  type EngineConnection,
  EngineError,
  EngineTimeoutError,
  engineClient,
  engineMessage,
} from './engine.js';
import { dockerContainerSpec } from './spec.js';

export interface DockerProviderOptions {
  /** Where the engine is (default: DOCKER_HOST / DOCKER_TLS_VERIFY / DOCKER_CERT_PATH / DOCKER_TLS_SECRET_ARN of `env`). */
  connection?: () => Promise<EngineConnection>;
  env?: NodeJS.ProcessEnv;
  /** Reads DOCKER_TLS_SECRET_ARN (default: Secrets Manager). */
  secrets?: SecretReader;
  retry?: Partial<RetryPolicy>;
  /** How long a polite stop waits for the engine's answer before taking it as sent (ms). */
  stopAnswerMs?: number;
  /** How long a pull may take (ms). */
  pullTimeoutMs?: number;
  runtime?: RuntimeOptions;
}

/** What Submit saves for a container: its id and name (no secrets), and when it was created. */
export const DockerHandleSchema = z.object({
  id: z.string().regex(/^[0-9a-f]{64}$/, 'expected a Docker container id'),
  name: z.string().min(1),
  /** The engine's `Created` time: where the events of a container removed by auto_remove start. */
  created: z.string().optional(),
});
export type DockerHandle = z.infer<typeof DockerHandleSchema>;

// ---- Engine API answers (only the fields used) ----------------------------------------------

const ContainerSchema = z.object({
  Id: z.string(),
  Name: z.string(),
  Created: z.string(),
  State: z.object({
    Status: z.string(),
    Running: z.boolean(),
    OOMKilled: z.boolean(),
    ExitCode: z.number().int(),
    Error: z.string().default(''),
    StartedAt: z.string().optional(),
  }),
  Config: z.object({ Labels: z.record(z.string(), z.string()).nullable().default({}) }),
  HostConfig: z.object({ AutoRemove: z.boolean().default(false) }).optional(),
  NetworkSettings: z
    .object({ Networks: z.record(z.string(), z.unknown()).nullable().default({}) })
    .optional(),
});
type Container = z.infer<typeof ContainerSchema>;

const CreatedSchema = z.object({ Id: z.string(), Warnings: z.array(z.string()).nullable().optional() });

const EventSchema = z.object({
  Action: z.string(),
  Actor: z.object({ ID: z.string(), Attributes: z.record(z.string(), z.string()).default({}) }),
});

const PullLineSchema = z.object({
  status: z.string().optional(),
  error: z.string().optional(),
  errorDetail: z.object({ message: z.string().optional() }).optional(),
});

/** An answer that is not the shape the Engine API documents. */
function parsed<S extends z.ZodType>(schema: S, what: string, text: string): z.output<S> {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new ProviderPermanentError(
      `${what}: the engine answered something that is not JSON: ${text.slice(0, 200)}`,
    );
  }
  const result = schema.safeParse(value);
  if (!result.success) {
    throw new ProviderPermanentError(
      `${what}: unexpected answer from the engine (${result.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')})`,
    );
  }
  return result.data;
}

/**
 * Pull failures: the engine answers 500 for what the registry refused or could not be reached
 * (an unknown host, denied access, a missing tag); retrying does not fix those. Rate limits
 * and timeouts it relays are transient.
 */
const classifyPull: Classifier = (error) => {
  if (!(error instanceof EngineError) && !(error instanceof PullStreamError)) return undefined;
  const message = error instanceof EngineError ? engineMessage(error.body) : error.message;
  if (/toomanyrequests|too many requests|timeout|connection reset|TLS handshake|50[234]/i.test(message))
    return { kind: 'transient', reason: message };
  if (error instanceof EngineError && error.status !== 500 && error.status !== 404)
    return classifyHttp(error);
  return { kind: 'permanent', reason: message };
};

/** An error inside the pull's progress stream (the answer's status was 200). */
class PullStreamError extends Error {}

/** docker-py's `auth_config` header: base64url JSON. */
function registryAuth(block: DockerContainerBlock, request: DockerContainerRequest): string | undefined {
  const auth = request.pull.auth;
  const registry = block.image_registry;
  if (!auth || !registry) return undefined;
  const json = JSON.stringify({
    username: auth.username,
    password: registry.password,
    serveraddress: auth.serveraddress,
  });
  return Buffer.from(json).toString('base64url');
}

function started(container: Container): boolean {
  return container.State.Status !== 'created' || container.State.Error !== '';
}

function handleOf(container: Container): DockerHandle {
  return { id: container.Id, name: container.Name.replace(/^\//, ''), created: container.Created };
}

export function createDockerContainerProvider(
  options: DockerProviderOptions = {},
): Provider<DockerContainerBlock, DockerContainerRequest, DockerHandle> {
  const env = options.env ?? process.env;
  const connect =
    options.connection ?? (() => connectionFromEnv(env, options.secrets ?? secretsManagerReader()));
  let client: Promise<EngineClient> | undefined;
  /** One client per container lifetime; a failed connection setup is tried again next time. */
  const engine = (): Promise<EngineClient> => {
    if (!client) {
      client = connect().then(engineClient);
      client.catch(() => {
        client = undefined;
      });
    }
    return client;
  };
  const policy = options.retry ?? {};
  const stopAnswerMs = options.stopAnswerMs ?? 2000;
  const pullTimeoutMs = options.pullTimeoutMs ?? 15 * 60_000;

  const run = <T>(what: string, call: (engine: EngineClient) => Promise<T>, attempts?: number) =>
    retrying(what, async () => call(await engine()), {
      policy: attempts ? { ...policy, attempts } : policy,
      classifiers: [classifyHttp],
    });

  async function inspect(ref: string): Promise<Container | undefined> {
    const answer = await run(`inspecting container ${ref}`, async (docker) => {
      const got = await docker.send('GET', `/containers/${encodeURIComponent(ref)}/json`);
      if (got.status === 404) return undefined;
      if (got.status !== 200)
        throw new EngineError(
          `inspecting container ${ref}`,
          got.status,
          got.body.toString('utf8'),
          got.headers,
        );
      return got.body.toString('utf8');
    });
    return answer === undefined ? undefined : parsed(ContainerSchema, `inspecting container ${ref}`, answer);
  }

  async function imagePresent(image: string): Promise<boolean> {
    return run(`looking for image '${image}'`, async (docker) => {
      const got = await docker.send('GET', `/images/${encodeURI(image)}/json`);
      if (got.status === 404) return false;
      if (got.status !== 200)
        throw new EngineError(
          `looking for image '${image}'`,
          got.status,
          got.body.toString('utf8'),
          got.headers,
        );
      return true;
    });
  }

  async function pull(target: Target<DockerContainerBlock>, request: DockerContainerRequest): Promise<void> {
    const { image } = target.block;
    const docker = await engine();
    const { policy: pullPolicy, fromImage, tag } = request.pull;
    const pullFirst = pullPolicy === 'ALWAYS' || pullPolicy === 'IF_POSSIBLE';
    if (!pullFirst && (await imagePresent(image))) return;
    if (pullPolicy === 'NEVER') {
      throw new ProviderPermanentError(
        `image '${image}' is not on the engine ${docker.label} and image_pull_policy is NEVER: load it there (docker pull / docker load) or set image_pull_policy to IF_NOT_PRESENT`,
        { kind: 'not-found' },
      );
    }
    const auth = registryAuth(target.block, request);
    const what = `pulling image '${image}' on ${docker.label}`;
    try {
      await pullOnce(what, fromImage, tag, auth);
    } catch (error) {
      // Prefect 3's IfPossible: a failed pull goes on with the engine's copy, if it has one
      if (pullPolicy !== 'IF_POSSIBLE') throw error;
      if (await imagePresent(image)) return;
      throw new ProviderPermanentError(
        `image '${image}' could not be pulled on ${docker.label} (${describeError(error)}) and is not on the engine either (image_pull_policy IF_POSSIBLE): make the registry reachable or load the image there`,
        { cause: error, kind: 'not-found' },
      );
    }
  }

  async function pullOnce(
    what: string,
    fromImage: string,
    tag: string,
    auth: string | undefined,
  ): Promise<void> {
    const docker = await engine();
    await retrying(
      what,
      async () => {
        const body = await docker.call(what, 'POST', '/images/create', {
          query: { fromImage, tag },
          ...(auth ? { headers: { 'X-Registry-Auth': auth } } : {}),
          timeoutMs: pullTimeoutMs,
        });
        // progress lines; a failure after the 200 is a line with `error`
        for (const line of body.toString('utf8').split('\n')) {
          if (!line.trim()) continue;
          const progress = PullLineSchema.safeParse(JSON.parse(line));
          const error = progress.success
            ? (progress.data.errorDetail?.message ?? progress.data.error)
            : undefined;
          if (error) throw new PullStreamError(error);
        }
      },
      { policy, classifiers: [classifyPull, classifyHttp] },
    );
  }

  /** The container under the name exists already: adopt it (the runtime finds it) or say whose it is. */
  async function conflict(
    target: Target<DockerContainerBlock>,
    name: string,
    error: ProviderPermanentError,
  ): Promise<never> {
    const existing = await inspect(name).catch(() => undefined);
    const owner = existing?.Config.Labels?.[DOCKER_FLOW_RUN_LABEL];
    if (existing && owner !== target.flowRun.id) {
      throw new ProviderPermanentError(
        `container '${name}' exists on the engine and belongs to ${owner ? `flow run ${owner}` : 'no flow run'} (label ${DOCKER_FLOW_RUN_LABEL}), not to flow run ${target.flowRun.id}: remove or rename that container`,
        { cause: error, kind: 'conflict' },
      );
    }
    throw error;
  }

  const driver: Driver<DockerContainerBlock, DockerContainerRequest, DockerHandle> = {
    handleSchema: DockerHandleSchema,
    identify: (handle) => handle.name,

    async find(target, request): Promise<Found<DockerHandle> | undefined> {
      const container = await inspect(request.create.name);
      if (!container || container.Config.Labels?.[DOCKER_FLOW_RUN_LABEL] !== target.flowRun.id)
        return undefined;
      return { handle: handleOf(container), started: started(container) };
    },

    async prepare(target, request) {
      await pull(target, request);
      return request;
    },

    async create(target, request) {
      const { name, body } = request.create;
      try {
        const answer = await run(
          `creating container '${name}'`,
          (docker) =>
            docker.call(`creating container '${name}'`, 'POST', '/containers/create', {
              query: { name },
              body,
            }),
          1,
        );
        const created = parsed(CreatedSchema, `creating container '${name}'`, answer.toString('utf8'));
        return { handle: { id: created.Id, name }, started: false };
      } catch (error) {
        if (error instanceof ProviderPermanentError && error.kind === 'conflict')
          return conflict(target, name, error);
        throw error;
      }
    },

    async start(_target, request, handle) {
      const container = await inspect(handle.id);
      if (!container) {
        throw new ProviderPermanentError(`container '${handle.name}' vanished before it was started`, {
          kind: 'not-found',
        });
      }
      const attached = new Set(Object.keys(container.NetworkSettings?.Networks ?? {}));
      for (const network of request.connect_networks) {
        if (attached.has(network)) continue;
        await run(`connecting container '${handle.name}' to network '${network}'`, (docker) =>
          docker.call(
            `connecting to network '${network}'`,
            'POST',
            `/networks/${encodeURIComponent(network)}/connect`,
            {
              body: { Container: handle.id },
            },
          ),
        );
      }
      try {
        // 304: started already
        await run(`starting container '${handle.name}'`, async (docker) => {
          const got = await docker.send('POST', `/containers/${handle.id}/start`);
          if (got.status !== 204 && got.status !== 304)
            throw new EngineError(
              `starting container '${handle.name}'`,
              got.status,
              got.body.toString('utf8'),
              got.headers,
            );
        });
      } catch (error) {
        // a start the engine refused (e.g. a missing executable) is recorded on the container: status reports it
        if (!(error instanceof ProviderPermanentError)) throw error;
        const after = await inspect(handle.id).catch(() => undefined);
        if (!after?.State.Error) throw error;
      }
      return handleOf(container);
    },

    async status(target, handle): Promise<InfraStatus> {
      const container = await inspect(handle.id);
      const links = { container: handle.name };
      if (!container) {
        if (target.block.auto_remove) return removedAfterExit(handle);
        return {
          phase: 'missing',
          reason: `container '${handle.name}' is no longer on the engine: someone removed it`,
          links,
        };
      }
      const { State } = container;
      if (State.Error) {
        return {
          phase: 'failed',
          exit_code: null,
          reason: `the container could not run: ${State.Error}`,
          links,
        };
      }
      if (State.Status === 'created') return { phase: 'pending', reason: 'created, not started yet', links };
      if (State.Running || State.Status === 'restarting' || State.Status === 'paused') {
        return { phase: 'running', reason: State.Status, links };
      }
      // Docker 20.10 on cgroup v2 can lose OOMKilled (its exit event resets the flag the oom event
      // set); the engine's `oom` event is kept, so a 137 without the flag asks the events
      if (State.OOMKilled || (State.ExitCode === 137 && (await eventsOf(handle, ['oom'])).length > 0)) {
        return {
          phase: 'failed',
          exit_code: 137,
          reason:
            "out of memory: the container was killed for exceeding its memory limit (raise 'mem_limit')",
          links,
        };
      }
      if (State.ExitCode === 0) return { phase: 'succeeded', exit_code: 0, links };
      return {
        phase: 'failed',
        exit_code: State.ExitCode,
        reason: `the container exited with status code ${State.ExitCode}`,
        links,
      };
    },

    async stop(_target, handle, request) {
      if (request.force) {
        await run(`killing container '${handle.name}'`, async (docker) => {
          const got = await docker.send('POST', `/containers/${handle.id}/kill`, {
            query: { signal: 'SIGKILL' },
          });
          // 404: gone; 409: not running
          if (got.status >= 300 && got.status !== 404 && got.status !== 409)
            throw new EngineError(
              `killing container '${handle.name}'`,
              got.status,
              got.body.toString('utf8'),
              got.headers,
            );
        });
        return;
      }
      // The engine sends the stop signal, waits `t` seconds, then SIGKILL; its answer comes only
      // then, so an answer that has not come within stopAnswerMs is taken as the stop under way.
      const docker = await engine();
      try {
        const got = await docker.send('POST', `/containers/${handle.id}/stop`, {
          query: { t: Math.max(0, Math.round(request.graceSeconds)) },
          timeoutMs: stopAnswerMs,
        });
        // 304: stopped already; 404: gone
        if (got.status >= 300 && got.status !== 304 && got.status !== 404)
          throw new EngineError(
            `stopping container '${handle.name}'`,
            got.status,
            got.body.toString('utf8'),
            got.headers,
          );
      } catch (error) {
        if (!(error instanceof EngineTimeoutError)) {
          await retrying(`stopping container '${handle.name}'`, () => Promise.reject(error), {
            policy: { attempts: 1 },
            classifiers: [classifyHttp],
          });
        }
      }
    },

    async remove(_target, _request, handle) {
      if (!handle) return;
      // auto_remove removes a container that ran; one that never started is still there
      await run(`removing container '${handle.name}'`, async (docker) => {
        const got = await docker.send('DELETE', `/containers/${handle.id}`, {
          query: { force: true, v: true },
        });
        // 404: gone already (auto_remove); 409: a removal is under way
        if (got.status >= 300 && got.status !== 404 && got.status !== 409)
          throw new EngineError(
            `removing container '${handle.name}'`,
            got.status,
            got.body.toString('utf8'),
            got.headers,
          );
      });
    },

    async logs(_target, handle, lines) {
      const docker = await engine();
      const got = await docker.send('GET', `/containers/${handle.id}/logs`, {
        query: { stdout: 1, stderr: 1, tail: lines },
      });
      if (got.status !== 200) return undefined;
      return demultiplex(got.body);
    },
  };

  /** The engine's recorded events of a container (kept after it is removed), oldest first. */
  async function eventsOf(handle: DockerHandle, actions: string[]) {
    const nowSeconds = Math.floor(Date.now() / 1000);
    const since = handle.created ? Math.floor(Date.parse(handle.created) / 1000) - 1 : nowSeconds - 3600;
    const filters = JSON.stringify({ type: ['container'], container: [handle.id], event: actions });
    const text = await run(`reading the events of container '${handle.name}'`, async (docker) =>
      (
        await docker.call('reading container events', 'GET', '/events', {
          query: { since, until: nowSeconds + 1, filters },
        })
      ).toString('utf8'),
    );
    return text
      .split('\n')
      .filter((line) => line.trim())
      .map((line) => EventSchema.safeParse(JSON.parse(line)))
      .flatMap((event) => (event.success && event.data.Actor.ID === handle.id ? [event.data] : []));
  }

  /** Gone with auto_remove: removed once it ended; its `die` event (kept by the engine) says how. */
  async function removedAfterExit(handle: DockerHandle): Promise<InfraStatus> {
    const links = { container: handle.name };
    const events = await eventsOf(handle, ['die', 'oom']);
    const died = events.findLast((event) => event.Action === 'die');
    if (!died) {
      return {
        phase: 'missing',
        reason: `container '${handle.name}' is no longer on the engine and no exit of it was recorded: was it removed by someone?`,
        links,
      };
    }
    const code = Number(died.Actor.Attributes.exitCode ?? Number.NaN);
    if (events.some((event) => event.Action === 'oom')) {
      return { phase: 'failed', exit_code: 137, reason: "out of memory (raise 'mem_limit')", links };
    }
    if (code === 0)
      return { phase: 'succeeded', exit_code: 0, reason: 'exited; removed by auto_remove', links };
    return {
      phase: 'failed',
      exit_code: Number.isFinite(code) ? code : null,
      reason: `the container exited with status code ${code} (removed by auto_remove)`,
      links,
    };
  }

  return defineProvider(dockerContainerSpec, driver, options.runtime);
}

export const dockerContainerProvider = createDockerContainerProvider();
