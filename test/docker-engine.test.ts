// The docker-container provider end to end against real dockerd engines (Debian's docker.io):
// one on a unix socket (also on plain TCP, for the HTTP fake in proxy mode in front of it),
// one on TCP with mutual TLS; the real workflow (ASL interpreter, handlers); images made by
// `docker import` of a busybox-static rootfs. Skipped only when dockerd cannot be started.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { request as httpsRequest } from 'node:https';
import { after, before, describe, it } from 'node:test';
import { ProviderPermanentError } from '../core/errors.js';
import { FolderStore } from '../core/store.js';
import { unwrap } from '../events/envelopes.js';
import { accept } from '../functions/lib/intake.js';
import { startExecution } from '../functions/local/runner.js';
import { parseBlock } from '../providers/blocks.js';
import type { DockerContainerBlock } from '../providers/docker-container/block.js';
import { DOCKER_FLOW_RUN_LABEL } from '../providers/docker-container/build.js';
import { connectionFromEnv, parseDockerHost } from '../providers/docker-container/engine.js';
import { createDockerContainerProvider } from '../providers/docker-container/index.js';
import { flowRunEnv } from '../providers/identity.js';
import type { Provider, Target } from '../providers/port.js';
import { sleep, tempDir, testDeps } from './helpers.js';
import {
  BUSYBOX_IMAGE,
  type Dockerd,
  dockerdMissing,
  importBusybox,
  startDockerd,
  watchEvents,
} from './support/docker.js';
import { type HttpFake, startHttpFake } from './support/http-fake.js';
import { cancelMidRun } from './support/workflow.js';

const API = '/v1.41';
let skip: string | undefined = await dockerdMissing();
let local: Dockerd | undefined;
let remote: Dockerd | undefined;
let fake: HttpFake<Record<string, never>> | undefined;
let claims: FolderStore;
const watched = new Map<Dockerd, ReturnType<typeof watchEvents>>();

before(async () => {
  if (skip) return;
  try {
    [local, remote] = await Promise.all([startDockerd({ tcp: 'plain' }), startDockerd({ tcp: 'tls' })]);
  } catch (error) {
    skip = `dockerd could not be started here: ${String(error)}`;
    await Promise.all([local?.stop(), remote?.stop()]);
    return;
  }
  await Promise.all([importBusybox(local), importBusybox(remote)]);
  for (const engine of [local, remote]) watched.set(engine, watchEvents(engine));
  fake = await startHttpFake({
    state: {},
    upstream: (local.tcpHost ?? '').replace('tcp://', 'http://'),
  });
  claims = new FolderStore(await tempDir('submitter-claims-'));
});
after(async () => {
  for (const watcher of watched.values()) watcher.close();
  await fake?.close();
  await Promise.all([local?.stop(), remote?.stop()]);
});

function engines(): { local: Dockerd; remote: Dockerd; fake: HttpFake<Record<string, never>> } {
  assert.ok(local && remote && fake);
  return { local, remote, fake };
}

type Via = 'socket' | 'tls' | 'fake';

/** A provider on one engine: short backoffs and claim polls. */
function provider(via: Via = 'socket') {
  const { local: a, remote: b, fake: f } = engines();
  const connection = async () => {
    if (via === 'tls') {
      assert.ok(b.tls && b.tcpHost);
      return connectionFromEnv({
        DOCKER_HOST: b.tcpHost,
        DOCKER_TLS_VERIFY: '1',
        DOCKER_CERT_PATH: b.tls.dir,
      });
    }
    return { endpoint: parseDockerHost(via === 'fake' ? f.url.replace('http://', 'tcp://') : a.socketHost) };
  };
  return createDockerContainerProvider({
    connection,
    retry: { baseMs: 1, capMs: 5 },
    stopAnswerMs: 500,
    runtime: { claimPollMs: 20, retry: { baseMs: 1, capMs: 5 } },
  });
}

const SECRET = `tok-${randomUUID()}`;

function dockerEvent(infrastructure: Record<string, unknown>, flowRunId = randomUUID()) {
  return {
    flow_run: { id: flowRunId, name: 'docker-test', flow_name: 'etl' },
    infrastructure: {
      type: 'docker-container',
      image: BUSYBOX_IMAGE,
      image_pull_policy: 'NEVER',
      network_mode: 'none',
      ...infrastructure,
    },
  };
}

async function runWorkflow(event: Record<string, unknown>, via: Via = 'socket') {
  const dockerProvider = provider(via);
  const { deps, reports } = await testDeps({
    loadProvider: async () => dockerProvider as unknown as Provider,
  });
  const accepted = await accept(deps, unwrap(event));
  const causes: string[] = [];
  const outcome = await startExecution(accepted.input, {
    deps,
    retryIntervalOverrides: { Watch: 0.02, Submit: 0 },
    onEvent: (e) => {
      if (e.type === 'StateFailed' && typeof e.Cause === 'string') causes.push(e.Cause);
    },
  });
  return { outcome, reports, causes, deps, accepted };
}

/** The engine's container events of one kind for the containers of a flow run (by its label). */
async function containerEvents(engine: Dockerd, flowRunId: string, action: string): Promise<string[]> {
  await sleep(100); // events are published just after the call that caused them
  const events = watched.get(engine)?.events ?? [];
  return events
    .filter(
      (event) =>
        event.Type === 'container' &&
        event.Action === action &&
        event.Actor.Attributes?.[DOCKER_FLOW_RUN_LABEL] === flowRunId,
    )
    .map((event) => event.Actor.ID);
}

async function containersOf(engine: Dockerd, flowRunId: string): Promise<string[]> {
  const out = await engine.docker(['ps', '-aq', '--filter', `label=${DOCKER_FLOW_RUN_LABEL}=${flowRunId}`]);
  return out.split('\n').filter(Boolean);
}

function targetOf(event: ReturnType<typeof dockerEvent>): Target<DockerContainerBlock> {
  const block = parseBlock(event.infrastructure);
  assert.ok(block.type === 'docker-container');
  return { block, flowRun: { ...event.flow_run, parameters: {}, tags: [] } };
}

describe('docker-container on a real dockerd: the workflow', { concurrency: 2 }, () => {
  it('success: Completed with exit 0, both streams in the log tail, the secret env value in neither logs nor reports, the container removed', async (t) => {
    if (skip) return t.skip(skip);
    const event = dockerEvent({
      env: { SERVICE_TOKEN: SECRET },
      command: ['sh', '-c', 'echo hello-from-docker; echo to-stderr >&2; echo "token=$SERVICE_TOKEN"'],
    });
    const { outcome, reports, deps, accepted } = await runWorkflow(event);
    assert.equal(outcome.status, 'SUCCEEDED', outcome.error);
    const report = reports[0];
    assert.equal(report?.state, 'Completed', JSON.stringify(report));
    assert.equal(report?.status_code, 0);
    assert.match(report?.identifier ?? '', /^docker-test-/);
    // both streams, each line whole (their order across streams is the engine's)
    for (const line of ['hello-from-docker', 'to-stderr', 'token=**********'])
      assert.ok(report?.logs_tail?.split('\n').includes(line), `${line} in ${report?.logs_tail}`);
    const everything =
      JSON.stringify(reports) + JSON.stringify(await deps.store.list(`runs/${accepted.input.flow_run_id}`));
    assert.ok(!everything.includes(SECRET), 'the secret value reached a report');
    // the container ran it (one create, one start), and cleanup removed it
    const id = event.flow_run.id;
    assert.equal((await containerEvents(engines().local, id, 'create')).length, 1);
    assert.equal((await containerEvents(engines().local, id, 'start')).length, 1);
    assert.deepEqual(await containersOf(engines().local, id), []);
  });

  it('a Prefect 3 docker work pool runs on the engine: command string, anonymous volume, unlimited swap', async (t) => {
    if (skip) return t.skip(skip);
    const id = randomUUID();
    const event = {
      flow_run: { id, name: 'docker-pool-test' },
      work_pool: { type: 'docker' },
      job_variables: {
        image: BUSYBOX_IMAGE,
        image_pull_policy: 'Never',
        network_mode: 'none',
        command: "sh -c 'echo from-a-work-pool; ls -d /scratch'",
        volumes: ['/scratch'],
        mem_limit: '64m',
        memswap_limit: '-1',
      },
    };
    const { outcome, reports } = await runWorkflow(event);
    assert.equal(outcome.status, 'SUCCEEDED', outcome.error);
    const report = reports[0];
    assert.equal(report?.state, 'Completed', JSON.stringify(report));
    assert.deepEqual(report?.logs_tail?.split('\n').filter(Boolean), ['from-a-work-pool', '/scratch']);
    assert.equal((await containerEvents(engines().local, id, 'create')).length, 1);
    assert.deepEqual(await containersOf(engines().local, id), [], 'cleanup removed it');
  });

  it('a non-zero exit → Failed with the code', async (t) => {
    if (skip) return t.skip(skip);
    const { reports } = await runWorkflow(dockerEvent({ command: ['sh', '-c', 'echo failing; exit 3'] }));
    assert.equal(reports[0]?.state, 'Failed', JSON.stringify(reports[0]));
    assert.equal(reports[0]?.status_code, 3);
    assert.match(reports[0]?.logs_tail ?? '', /failing/);
  });

  it('over the memory limit → Failed 137, out of memory', async (t) => {
    if (skip) return t.skip(skip);
    const { reports } = await runWorkflow(
      dockerEvent({
        mem_limit: '8m',
        memswap_limit: '8m',
        // the shell itself (the container's main process) holds 64 MB, so the OOM killer picks it,
        // not a helper in a pipe (whose death would leave the flow exiting 0)
        command: ['sh', '-c', 'x="$(head -c 64m /dev/zero | tr "\\0" a)"; echo survived'],
      }),
    );
    assert.equal(reports[0]?.state, 'Failed', JSON.stringify(reports[0]));
    assert.equal(reports[0]?.status_code, 137);
    assert.match(reports[0]?.reason ?? '', /out of memory/);
    // the signal the driver falls back on when the engine loses OOMKilled (Docker 20.10, cgroup v2)
    // (one per process the kernel killed: the shell, maybe its helpers)
    assert.ok((await containerEvents(engines().local, reports[0]?.flow_run_id ?? '', 'oom')).length >= 1);
  });

  it('a missing executable → Crashed with the engine’s State.Error', async (t) => {
    if (skip) return t.skip(skip);
    const { reports } = await runWorkflow(dockerEvent({ command: ['no-such-program'] }));
    assert.equal(reports[0]?.state, 'Crashed', JSON.stringify(reports[0]));
    assert.match(reports[0]?.reason ?? '', /could not run: .*no-such-program.*not found/);
  });

  it('a missing image: NEVER → Crashed naming the image, no pull; IF_NOT_PRESENT and ALWAYS → the pull’s error', async (t) => {
    if (skip) return t.skip(skip);
    const never = await runWorkflow(dockerEvent({ image: 'local/absent:1', image_pull_policy: 'NEVER' }));
    assert.equal(never.reports[0]?.state, 'Crashed');
    assert.match(never.reports[0]?.reason ?? '', /image 'local\/absent:1' is not on the engine .* NEVER/);
    // a registry nobody listens on: the engine's pull fails at once
    const ifNotPresent = await runWorkflow(
      dockerEvent({ image: '127.0.0.1:9/absent:1', image_pull_policy: 'IF_NOT_PRESENT' }),
    );
    assert.equal(ifNotPresent.reports[0]?.state, 'Crashed');
    assert.match(
      ifNotPresent.reports[0]?.reason ?? '',
      /pulling image '127\.0\.0\.1:9\/absent:1'.*failed: .*refused/,
    );
    // ALWAYS pulls even what the engine has (and there is no registry for it)
    const always = await runWorkflow(dockerEvent({ image: BUSYBOX_IMAGE, image_pull_policy: 'ALWAYS' }));
    assert.equal(always.reports[0]?.state, 'Crashed');
    assert.match(always.reports[0]?.reason ?? '', /pulling image 'local\/busybox:test'/);
    for (const run of [never, ifNotPresent, always])
      assert.deepEqual(await containersOf(engines().local, run.accepted.input.flow_run_id), []);
  });

  it('a redelivered event (two executions of it at once) → one container', async (t) => {
    if (skip) return t.skip(skip);
    const event = dockerEvent({ command: ['sh', '-c', 'sleep 0.3; echo once'] });
    const dockerProvider = provider();
    const { deps, reports } = await testDeps({
      loadProvider: async () => dockerProvider as unknown as Provider,
    });
    const first = await accept(deps, unwrap(event));
    const again = await accept(deps, unwrap(structuredClone(event)));
    const options = { deps, retryIntervalOverrides: { Watch: 0.02, Submit: 0 } };
    await Promise.all([startExecution(first.input, options), startExecution(again.input, options)]);
    assert.ok(reports.length >= 1);
    assert.ok(
      reports.every((report) => report.state === 'Completed'),
      JSON.stringify(reports),
    );
    assert.equal((await containerEvents(engines().local, event.flow_run.id, 'create')).length, 1);
    assert.equal((await containerEvents(engines().local, event.flow_run.id, 'start')).length, 1);
  });

  it('cancel mid-run → Cancelled, the container stopped (SIGTERM within the grace period)', async (t) => {
    if (skip) return t.skip(skip);
    const event = dockerEvent({
      command: ['sh', '-c', 'trap "echo got-term; exit 143" TERM; echo started; sleep 30 & wait'],
    });
    const { reports, elapsedMs } = await cancelMidRun(event, provider() as unknown as Provider, {
      Submit: 0,
      Watch: 0.05,
    });
    assert.equal(reports[0]?.state, 'Cancelled', JSON.stringify(reports[0]));
    assert.ok(elapsedMs < 20_000, 'stopped long before the command would have ended');
    assert.equal((await containerEvents(engines().local, event.flow_run.id, 'die')).length, 1);
    assert.ok((await containerEvents(engines().local, event.flow_run.id, 'kill')).length >= 1);
  });

  it('auto_remove: the exit code is read from the engine’s die event once the container is gone', async (t) => {
    if (skip) return t.skip(skip);
    const event = dockerEvent({ auto_remove: true, command: ['sh', '-c', 'sleep 0.2; exit 5'] });
    const { reports } = await runWorkflow(event);
    assert.equal(reports[0]?.state, 'Failed', JSON.stringify(reports[0]));
    assert.equal(reports[0]?.status_code, 5);
    assert.equal((await containerEvents(engines().local, event.flow_run.id, 'destroy')).length, 1);
    const ok = await runWorkflow(dockerEvent({ auto_remove: true, command: ['true'] }));
    assert.equal(ok.reports[0]?.state, 'Completed', JSON.stringify(ok.reports[0]));
  });

  it('mutual TLS: a run on the TLS engine completes; the engine refuses a client without a certificate', async (t) => {
    if (skip) return t.skip(skip);
    const event = dockerEvent({ command: ['sh', '-c', 'echo over-tls'] });
    const { reports } = await runWorkflow(event, 'tls');
    assert.equal(reports[0]?.state, 'Completed', JSON.stringify(reports[0]));
    assert.match(reports[0]?.logs_tail ?? '', /over-tls/);
    assert.equal((await containerEvents(engines().remote, event.flow_run.id, 'create')).length, 1);
    assert.deepEqual(await containersOf(engines().local, event.flow_run.id), []);
    const { remote: b } = engines();
    assert.ok(b.tls && b.tcpHost);
    const url = new URL(b.tcpHost.replace('tcp://', 'https://'));
    const refused = await new Promise<string>((done) => {
      const call = httpsRequest(
        { host: url.hostname, port: url.port, path: `${API}/version`, ca: b.tls?.ca },
        (response) => done(`answered ${response.statusCode}`),
      );
      call.on('error', (error) => done(`error: ${error.message}`));
      call.end();
    });
    assert.match(refused, /^error: /);
  });
});

describe('docker-container on a real dockerd: the driver', { concurrency: 2 }, () => {
  it('sends labels, env, volumes, network mode and memory as inspect shows them; cleanup stops and removes it', async (t) => {
    if (skip) return t.skip(skip);
    const dir = await tempDir('submitter-volume-');
    const event = dockerEvent({
      labels: { 'io.prefect/team': 'data' },
      env: { GREETING: 'hi' },
      volumes: [`${dir}:/data:ro`],
      mem_limit: '64m',
      command: ['sleep', '30'],
    });
    const target = targetOf(event);
    const docker = provider();
    const submitted = await docker.submit(target, { store: claims });
    assert.equal(submitted.adopted, false);
    const [inspected] = JSON.parse(await engines().local.docker(['inspect', submitted.identifier])) as [
      {
        Config: { Labels: Record<string, string>; Env: string[] };
        HostConfig: { NetworkMode: string; Memory: number; Binds: string[] };
        State: { Running: boolean };
      },
    ];
    assert.ok(inspected);
    assert.equal(inspected.Config.Labels[DOCKER_FLOW_RUN_LABEL], event.flow_run.id);
    assert.equal(inspected.Config.Labels['prefect.io.team'], 'data');
    assert.ok(inspected.Config.Env.includes('GREETING=hi'));
    for (const [name, value] of Object.entries(flowRunEnv(target.flowRun)))
      assert.ok(inspected.Config.Env.includes(`${name}=${value}`));
    assert.equal(inspected.HostConfig.NetworkMode, 'none');
    assert.equal(inspected.HostConfig.Memory, 64 * 1024 * 1024);
    assert.deepEqual(inspected.HostConfig.Binds, [`${dir}:/data:ro`]);
    assert.equal(inspected.State.Running, true);
    assert.equal((await docker.status(target, submitted.handle)).phase, 'running');
    await docker.cleanup(target, undefined); // no handle: found by name, killed, removed
    assert.deepEqual(await containersOf(engines().local, event.flow_run.id), []);
    assert.equal((await docker.status(target, submitted.handle)).phase, 'missing');
  });

  it('a created but not started container is adopted and started; another flow run’s container under the name is a clear error', async (t) => {
    if (skip) return t.skip(skip);
    const event = dockerEvent({ command: ['sh', '-c', 'echo resumed'] });
    const target = targetOf(event);
    const docker = provider();
    const request = docker.build(target);
    // a submit that died between create and start
    await engines().local.docker([
      'create',
      '--name',
      request.create.name,
      '--label',
      `${DOCKER_FLOW_RUN_LABEL}=${event.flow_run.id}`,
      '--network',
      'none',
      BUSYBOX_IMAGE,
      'sh',
      '-c',
      'echo resumed',
    ]);
    const submitted = await docker.submit(target, { store: claims });
    assert.equal(submitted.adopted, true);
    assert.equal((await containerEvents(engines().local, event.flow_run.id, 'start')).length, 1);
    await docker.cleanup(target, submitted.handle);

    const other = targetOf(dockerEvent({ command: ['true'] }));
    const name = docker.build(other).create.name;
    const stranger = randomUUID();
    await engines().local.docker([
      'create',
      '--name',
      name,
      '--label',
      `${DOCKER_FLOW_RUN_LABEL}=${stranger}`,
      BUSYBOX_IMAGE,
    ]);
    await assert.rejects(
      docker.submit(other, { store: claims }),
      (error) =>
        error instanceof ProviderPermanentError &&
        error.message.includes(`belongs to flow run ${stranger}`) &&
        error.message.includes(name),
    );
    await engines().local.docker(['rm', '-f', name]);
  });

  it('survives the engine’s 503s (HTTP fake in proxy mode): a lost create answer is adopted, not repeated', async (t) => {
    if (skip) return t.skip(skip);
    const { fake: f } = engines();
    const event = dockerEvent({ command: ['sh', '-c', 'echo through-the-fake'] });
    f.inject({ route: `GET ${API}/images/${BUSYBOX_IMAGE}/json`, status: 503, times: 2 });
    f.inject({ route: `POST ${API}/containers/create`, status: 503, when: 'after' });
    const { reports } = await runWorkflow(event, 'fake');
    assert.equal(reports[0]?.state, 'Completed', JSON.stringify(reports[0]));
    assert.match(reports[0]?.logs_tail ?? '', /through-the-fake/);
    assert.equal(f.callsOf(`POST ${API}/containers/create`).length, 1);
    assert.equal((await containerEvents(engines().local, event.flow_run.id, 'create')).length, 1);
  });

  it('pulls with the registry credentials as X-Registry-Auth, read from the block at pull time; an error in the pull stream is a Crashed reason', async (t) => {
    if (skip) return t.skip(skip);
    const { fake: f } = engines();
    const seen: string[] = [];
    f.route(`POST ${API}/images/create`, (request) => {
      seen.push(String(request.headers['x-registry-auth'] ?? ''));
      return {
        status: 200,
        body: `{"status":"Pulling from team/etl"}\n{"errorDetail":{"message":"manifest for registry.example.com/team/etl:2 not found"},"error":"manifest unknown"}\n`,
      };
    });
    const password = `pw-${randomUUID()}`;
    const event = dockerEvent({
      image: 'registry.example.com/team/etl:2',
      image_pull_policy: 'ALWAYS',
      image_registry: { username: 'robot', password, registry_url: 'registry.example.com' },
    });
    const { reports } = await runWorkflow(event, 'fake');
    assert.equal(reports[0]?.state, 'Crashed');
    assert.match(
      reports[0]?.reason ?? '',
      /pulling image 'registry\.example\.com\/team\/etl:2'.*manifest for .* not found/,
    );
    assert.ok(!JSON.stringify(reports).includes(password));
    const auth = JSON.parse(Buffer.from(seen[0] ?? '', 'base64url').toString('utf8')) as Record<
      string,
      string
    >;
    assert.deepEqual(auth, { username: 'robot', password, serveraddress: 'registry.example.com' });
    assert.equal(seen.length, 1, 'a refused pull is not retried');
  });
});
