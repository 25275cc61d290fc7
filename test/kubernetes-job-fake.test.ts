// The kubernetes-job provider end to end against a protocol-faithful fake API server over
// HTTPS (test/support/kube-fake.ts): the real workflow (ASL interpreter, middy handlers), the
// provider's own client, the Job controller's transitions played step by step at each read.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, beforeEach, describe, it } from 'node:test';
import { stringify } from 'yaml';
import { ProviderPermanentError } from '../core/errors.js';
import { createLogger } from '../core/logger.js';
import { FolderStore } from '../core/store.js';
import { unwrap } from '../events/envelopes.js';
import type { Deps } from '../functions/lib/deps.js';
import { accept } from '../functions/lib/intake.js';
import { startExecution } from '../functions/local/runner.js';
import { parseBlock } from '../providers/blocks.js';
import type { KubernetesJobBlock } from '../providers/kubernetes-job/block.js';
import type { JobManifest } from '../providers/kubernetes-job/build.js';
import { buildKubernetesJob } from '../providers/kubernetes-job/build.js';
import { deploymentOptions } from '../providers/kubernetes-job/deployment.js';
import {
  createKubernetesJobProvider,
  type KubernetesJobProviderOptions,
} from '../providers/kubernetes-job/index.js';
import { connectionOf } from '../providers/kubernetes-job/kubeconfig.js';
import {
  KubernetesConfigSchema,
  kubernetesEnvironment,
  kubernetesStatements,
} from '../providers/kubernetes-job/manifest.js';
import { secretRead } from '../providers/manifest.js';
import type { Provider, Target } from '../providers/port.js';
import { sleep, tempDir, testDeps } from './helpers.js';
import { type KubeFake, startKubeFake, steps } from './support/kube-fake.js';
import { assertValidJob } from './support/kubernetes-job.js';
import { mutualTlsMaterial, selfSignedCert } from './support/tls.js';
import { cancelMidRun, runAccepted } from './support/workflow.js';

const TOKEN = 'kube-token-canary-5e1d0c';
const JOBS = 'POST /apis/batch/v1/namespaces/:ns/jobs';
const JOB = 'GET /apis/batch/v1/namespaces/:ns/jobs/:name';
const PODS = 'GET /api/v1/namespaces/:ns/pods';

let kube: KubeFake;
let ca: string;
let claims: FolderStore;

before(async () => {
  const cert = await selfSignedCert();
  ca = cert.cert;
  kube = await startKubeFake({ tls: { cert: cert.cert, key: cert.key }, token: TOKEN });
  claims = new FolderStore(await tempDir('submitter-kube-claims-'));
});
after(async () => {
  await kube.close();
});
beforeEach(() => {
  kube.fake.clear();
  kube.state.plans.clear();
  kube.state.created.length = 0;
  kube.state.deletes.length = 0;
  kube.state.forbidden.clear();
  kube.state.defaultPlan = [steps.run(['hello from the flow']), steps.finish(0, ['flow run done'])];
});

function kubeconfig(
  server: string,
  user: Record<string, unknown> = { token: TOKEN },
  cluster: Record<string, unknown> = {},
) {
  return {
    context_name: 'fake',
    config: {
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [
        {
          name: 'fake-cluster',
          cluster: { server, 'certificate-authority-data': Buffer.from(ca).toString('base64'), ...cluster },
        },
      ],
      users: [{ name: 'submitter', user }],
      contexts: [
        { name: 'fake', context: { cluster: 'fake-cluster', user: 'submitter', namespace: 'flows' } },
      ],
      'current-context': 'fake',
    },
  };
}

function event(block: Record<string, unknown> = {}) {
  return {
    flow_run: { id: randomUUID(), name: 'kube-run', flow_name: 'etl' },
    infrastructure: {
      type: 'kubernetes-job',
      namespace: 'flows',
      image: 'prefecthq/prefect:2-python3.11',
      pod_watch_timeout_seconds: 5,
      cluster_config: kubeconfig(kube.url),
      ...block,
    },
  };
}

function targetOf(e: ReturnType<typeof event>): Target<KubernetesJobBlock> {
  const block = parseBlock(e.infrastructure);
  assert.ok(block.type === 'kubernetes-job');
  return { block, flowRun: { ...e.flow_run, parameters: {}, tags: [] } };
}

function provider(options: KubernetesJobProviderOptions = {}) {
  return createKubernetesJobProvider({
    retry: { baseMs: 1, capMs: 5 },
    runtime: { retry: { baseMs: 1, capMs: 5 } },
    ...options,
  });
}

async function runWorkflow(e: ReturnType<typeof event>, p: Provider<KubernetesJobBlock> = provider()) {
  const {
    deps: base,
    reports,
    home,
  } = await testDeps({ loadProvider: async () => p as unknown as Provider });
  const lines: string[] = [];
  const deps: Deps = { ...base, log: createLogger({ level: 'debug', write: (line) => lines.push(line) }) };
  const accepted = await accept(deps, unwrap(e));
  const causes: string[] = [];
  const outcome = await startExecution(accepted.input, {
    deps,
    retryIntervalOverrides: { Watch: 0, Submit: 0 },
    onEvent: (ev) => {
      if (ev.type === 'StateFailed' && typeof ev.Cause === 'string') causes.push(ev.Cause);
    },
  });
  return { outcome, reports, lines, home, causes, flowRunId: accepted.input.flow_run_id };
}

/** Every Job the fake was sent is a valid batch/v1 Job by the official schema. */
function assertCreatedValid(): void {
  assert.ok(kube.state.created.length > 0, 'a Job was created');
  for (const body of kube.state.created) assertValidJob(body as JobManifest);
}

const jobsFor = (flowRunId: string) =>
  [...kube.state.jobs.values()].filter(
    (job) => job.metadata.labels?.['prefect.io/flow-run-id'] === flowRunId,
  );

describe('kubernetes-job on a fake API server: the workflow', () => {
  it('runs to Completed: the Job sent is what build made, exit code 0, the log tail, the finished Job deleted', async () => {
    const e = event();
    const { outcome, reports, causes } = await runWorkflow(e);
    assert.equal(outcome.status, 'SUCCEEDED', outcome.error);
    const report = reports[0];
    assert.equal(report?.state, 'Completed', report?.reason ?? '');
    assert.equal(report?.status_code, 0);
    assert.ok(
      causes.some((cause) => cause.startsWith('running')),
      causes.join(' | '),
    );
    assert.match(report?.logs_tail ?? '', /flow run done/);
    const sent = kube.fake.callsOf(JOBS);
    assert.equal(sent.length, 1);
    const { job } = buildKubernetesJob(targetOf(e));
    assert.deepEqual(sent[0]?.body, job);
    assert.equal(report?.identifier, `flows/${job.metadata.name}`);
    assertCreatedValid();
    // no finished_job_ttl: cleanup deletes it, pods too
    assert.deepEqual(kube.state.deletes, [{ name: job.metadata.name, propagationPolicy: 'Foreground' }]);
  });

  it('a Prefect 3 kubernetes work pool runs on it: the cluster from a block reference in the job variables, a valid Job', async () => {
    const { deps: base, reports } = await testDeps({
      loadProvider: async () => provider() as unknown as Provider,
    });
    await base.blocks.put('kubernetes-cluster-config/fake', {
      type: 'kubernetes-cluster-config',
      ...kubeconfig(kube.url),
    });
    const id = randomUUID();
    const { outcome } = await runAccepted(
      base,
      {
        flow_run: { id, name: 'kube-pool-run' },
        work_pool: { type: 'kubernetes' },
        job_variables: {
          namespace: 'flows',
          image: 'prefecthq/prefect:3-python3.12',
          pod_watch_timeout_seconds: 5,
          cluster_config: '{{ prefect.blocks.kubernetes-cluster-config.fake }}',
          env: { GREETING: 'hi' },
        },
      },
      { Watch: 0, Submit: 0 },
    );
    assert.equal(outcome.status, 'SUCCEEDED', outcome.error);
    assert.equal(reports[0]?.state, 'Completed', reports[0]?.reason ?? '');
    const sent = kube.fake.callsOf(JOBS);
    assert.equal(sent.length, 1);
    assertCreatedValid();
    const job = sent[0]?.body as {
      spec: {
        backoffLimit?: number;
        template: {
          spec: {
            containers: { args?: string[]; env?: { name: string; value?: string }[]; image?: string }[];
          };
        };
      };
    };
    const container = job.spec.template.spec.containers[0];
    assert.deepEqual(container?.args, ['prefect', 'flow-run', 'execute'], "Prefect 3's worker command");
    assert.equal(container?.image, 'prefecthq/prefect:3-python3.12');
    assert.ok(container?.env?.some((e) => e.name === 'GREETING' && e.value === 'hi'));
    assert.equal(job.spec.backoffLimit, 0, "the worker's default backoff_limit");
  });

  it('a non-zero exit ends Failed with the code; the Job is Failed (BackoffLimitExceeded)', async () => {
    kube.state.defaultPlan = [steps.run(), steps.finish(3, ['Traceback: boom'])];
    const { reports } = await runWorkflow(event());
    assert.equal(reports[0]?.state, 'Failed');
    assert.equal(reports[0]?.status_code, 3);
    assert.match(reports[0]?.reason ?? '', /BackoffLimitExceeded.*exited with code 3/);
    assert.match(reports[0]?.logs_tail ?? '', /Traceback: boom/);
  });

  it('an image that never pulls: pending with ImagePullBackOff, then Crashed at the pod watch timeout, the Job deleted', async () => {
    const waiting = steps.waiting('ImagePullBackOff', 'Back-off pulling image "nope:1"');
    kube.state.defaultPlan = [waiting];
    const { reports, causes } = await runWorkflow(event({ pod_watch_timeout_seconds: 1 }));
    assert.equal(reports[0]?.state, 'Crashed');
    assert.match(reports[0]?.reason ?? '', /start timeout.*ImagePullBackOff: Back-off pulling image/);
    assert.ok(
      causes.some((cause) => /^pending: pod .*ImagePullBackOff/.test(cause)),
      causes.slice(0, 3).join(' | '),
    );
    assert.equal(kube.state.deletes.at(-1)?.propagationPolicy, 'Foreground');
  });

  it('an unschedulable pod is pending with the scheduler’s reason', async () => {
    kube.state.defaultPlan = [steps.unschedulable('0/3 nodes are available: 3 Insufficient cpu.')];
    const { reports } = await runWorkflow(event({ pod_watch_timeout_seconds: 1 }));
    assert.equal(reports[0]?.state, 'Crashed');
    assert.match(reports[0]?.reason ?? '', /Unschedulable: 0\/3 nodes are available/);
  });

  it('an evicted pod ends Crashed (no exit code), not Running forever', async () => {
    kube.state.defaultPlan = [steps.run(), steps.evict()];
    const { reports } = await runWorkflow(event());
    assert.equal(reports[0]?.state, 'Crashed');
    assert.equal(reports[0]?.status_code, null);
    assert.match(reports[0]?.reason ?? '', /BackoffLimitExceeded.*Evicted/);
  });

  it('a deleted pod, or a deleted Job, ends the run', async () => {
    kube.state.defaultPlan = [steps.run(), steps.deletePod()];
    const first = await runWorkflow(event());
    assert.equal(first.reports[0]?.state, 'Crashed');
    const e = event();
    const p = provider();
    const target = targetOf(e);
    const { handle } = await p.submit(target, { store: claims });
    kube.state.jobs.clear();
    assert.equal((await p.status(target, handle)).phase, 'missing');
  });

  it('10 duplicate deliveries of one event through the workflow: one execution, one Job created', async () => {
    const e = event();
    const p = provider();
    const { deps, reports } = await testDeps({ loadProvider: async () => p as unknown as Provider });
    const outcomes = await Promise.all(
      Array.from({ length: 10 }, async () => {
        const accepted = await accept(deps, unwrap(structuredClone(e)));
        return startExecution(accepted.input, { deps, retryIntervalOverrides: { Watch: 0, Submit: 0 } });
      }),
    );
    assert.equal(outcomes.filter((o) => o.started).length, 1);
    assert.equal(reports.length, 1);
    assert.equal(reports[0]?.state, 'Completed');
    assert.equal(kube.fake.callsOf(JOBS).length, 1);
    assert.equal(kube.state.created.length, 1);
  });

  it('a duplicate delivery creates one Job: the second create answers 409 and is adopted', async () => {
    kube.state.defaultPlan = [steps.run()];
    const target = targetOf(event());
    // two cold starts with separate claim stores (two deliveries racing): the second's looks
    // before creating miss the first's Job (404, as when both look before either creates)
    const first = await provider().submit(target, { store: new FolderStore(await tempDir()) });
    const notFound = { kind: 'Status', apiVersion: 'v1', status: 'Failure', reason: 'NotFound', code: 404 };
    kube.fake.inject({ route: JOB, status: 404, body: notFound, times: 2 });
    const second = await provider().submit(target, { store: new FolderStore(await tempDir()) });
    assert.equal(jobsFor(target.flowRun.id).length, 1);
    assert.equal(second.identifier, first.identifier);
    assert.deepEqual([first.adopted, second.adopted], [false, true]);
    const answers = kube.fake.callsOf(JOBS).map((call) => call.status);
    assert.deepEqual(answers, [201, 409], 'both created; the API server refused the second, which adopted');
    // a third, later: found by name and adopted without creating
    const c = await provider().submit(target, { store: claims });
    assert.equal(c.adopted, true);
  });

  it('a Job under our name that belongs to another flow run is not adopted', async () => {
    const target = targetOf(event());
    const other = { ...target, flowRun: { ...target.flowRun, id: randomUUID() } };
    const { job } = buildKubernetesJob(target);
    const p = provider();
    await p.submit({ ...other }, { store: claims }); // makes a Job under its own name
    // plant a Job with our name but the other flow run's label
    const planted = kube.state.jobs.values().next().value;
    assert.ok(planted);
    kube.state.jobs.set(`flows/${job.metadata.name}`, {
      ...planted,
      metadata: { ...planted.metadata, name: job.metadata.name ?? '' },
    });
    await assert.rejects(p.submit(target, { store: claims }), (error: unknown) => {
      assert.ok(error instanceof ProviderPermanentError);
      assert.match(error.message, /AlreadyExists.*name is taken by something else/);
      return true;
    });
  });

  it('a cancellation during the run deletes the Job with propagationPolicy Foreground and ends Cancelled', async () => {
    kube.state.defaultPlan = [steps.run()];
    const e = event();
    const { reports, accepted } = await cancelMidRun(e, provider() as unknown as Provider, {
      Submit: 0,
      Watch: 20,
    });
    assert.equal(reports[0]?.state, 'Cancelled');
    assert.equal(kube.state.deletes[0]?.propagationPolicy, 'Foreground');
    await sleep(50); // the garbage collector removes the pods, then the Job
    assert.equal(jobsFor(accepted.input.flow_run_id).length, 0);
    assert.equal(
      [...kube.state.pods.values()].filter(
        (pod) => pod.metadata.labels['job-name'] === kube.state.deletes[0]?.name,
      ).length,
      0,
    );
  });

  it('with finished_job_ttl the Job carries ttlSecondsAfterFinished and cleanup leaves it to the TTL controller', async () => {
    const { reports } = await runWorkflow(event({ finished_job_ttl: 300 }));
    assert.equal(reports[0]?.state, 'Completed');
    assert.equal(
      (kube.state.created[0] as { spec: { ttlSecondsAfterFinished?: number } }).spec.ttlSecondsAfterFinished,
      300,
    );
    assert.deepEqual(kube.state.deletes, []);
  });

  it('a burst of 429 and 5xx on create, read and list is survived: Completed, one Job', async () => {
    kube.fake.inject({ route: JOBS, status: 503, times: 1 });
    kube.fake.inject({ route: JOBS, status: 500, when: 'after', times: 1 }); // the create happened, the answer lost
    kube.fake.inject({ route: JOB, status: 429, retryAfter: 0, times: 3 });
    kube.fake.inject({ route: PODS, status: 502, times: 2 });
    const { reports, flowRunId } = await runWorkflow(event());
    assert.equal(reports[0]?.state, 'Completed', reports[0]?.reason ?? '');
    assert.equal(
      kube.state.created.length,
      1,
      'one Job: after the lost answer it was looked for, not created again',
    );
    assert.deepEqual(
      kube.fake.callsOf(JOBS).map((call) => call.status),
      [503, 500],
    );
    assert.equal(kube.state.deletes.length, 1, 'and deleted at cleanup');
    assert.equal(jobsFor(flowRunId).length <= 1, true);
  });

  it('403 on create is Crashed with the RBAC hint naming the verb and resource; 401 names the credentials', async () => {
    kube.state.forbidden.add('create jobs');
    const forbidden = await runWorkflow(event());
    assert.equal(forbidden.reports[0]?.state, 'Crashed');
    assert.match(
      forbidden.reports[0]?.reason ?? '',
      /may not 'create' jobs in namespace 'flows'.*verbs \["create"\]/,
    );
    assert.equal(kube.fake.callsOf(JOBS).length, 1, 'not retried');
    kube.state.forbidden.clear();
    const unauthorized = await runWorkflow(
      event({ cluster_config: kubeconfig(kube.url, { token: 'wrong' }) }),
    );
    assert.equal(unauthorized.reports[0]?.state, 'Crashed');
    assert.match(
      unauthorized.reports[0]?.reason ?? '',
      /HTTP 401.*did not accept the credentials of context 'fake'/,
    );
  });

  it('kubeconfig secrets never reach logs, workflow state, the execution record or the report', async () => {
    const { outcome, reports, lines, home, flowRunId } = await runWorkflow(event());
    assert.equal(reports[0]?.state, 'Completed');
    assert.ok(kube.fake.calls.length > 0);
    const execution = await readFile(join(home, 'store', 'executions', `fr-${flowRunId}.json`), 'utf8');
    for (const [what, text] of [
      ['logs', lines.join('\n')],
      ['workflow state', JSON.stringify(outcome.state)],
      ['execution record', execution],
      ['report', JSON.stringify(reports)],
    ] as const) {
      assert.doesNotMatch(text, new RegExp(TOKEN), `${what} holds the kubeconfig token`);
    }
  });
});

describe('kubernetes-job: connecting from the kubeconfig', () => {
  it('a client certificate and key over mutual TLS', async () => {
    const tls = await mutualTlsMaterial(await tempDir('submitter-kube-mtls-'));
    const mtls = await startKubeFake({ tls: { ...tls.server, ca: tls.ca, requestCert: true } });
    try {
      const b64 = (text: string) => Buffer.from(text).toString('base64');
      const e = event({
        cluster_config: {
          context_name: 'fake',
          config: {
            clusters: [
              { name: 'c', cluster: { server: mtls.url, 'certificate-authority-data': b64(tls.ca) } },
            ],
            users: [
              {
                name: 'u',
                user: {
                  'client-certificate-data': b64(tls.client.cert),
                  'client-key-data': b64(tls.client.key),
                },
              },
            ],
            contexts: [{ name: 'fake', context: { cluster: 'c', user: 'u' } }],
          },
        },
      });
      const target = targetOf(e);
      const p = provider();
      const { handle } = await p.submit(target, { store: claims });
      assert.equal(mtls.state.jobs.size, 1);
      assert.equal((await p.status(target, handle)).phase, 'running');
    } finally {
      await mtls.close();
    }
  });

  it('a server certificate not signed by the kubeconfig CA is refused', async () => {
    const other = await selfSignedCert();
    const target = targetOf(
      event({
        cluster_config: kubeconfig(
          kube.url,
          { token: TOKEN },
          { 'certificate-authority-data': Buffer.from(other.cert).toString('base64') },
        ),
      }),
    );
    await assert.rejects(
      provider({ retry: { attempts: 1 } }).submit(target, { store: claims }),
      /certificate|self.signed/i,
    );
    assert.equal(jobsFor(target.flowRun.id).length, 0);
  });

  it('insecure-skip-tls-verify is refused unless the deployment allows it', async () => {
    const config = kubeconfig(
      kube.url,
      { token: TOKEN },
      {
        'insecure-skip-tls-verify': true,
        'certificate-authority-data': undefined,
      },
    );
    // no CA: only skipping verification could make this work
    assert.throws(() => connectionOf(config), /insecure-skip-tls-verify: true', which the submitter refuses/);
    const connection = connectionOf(config, { allowInsecure: true });
    assert.equal(connection.verify, false);
    const target = targetOf(event({ cluster_config: config }));
    const { handle } = await provider({ allowInsecureTls: true }).submit(target, { store: claims });
    assert.equal(handle.namespace, 'flows');
  });

  it('names what it cannot use: an unknown context, file paths, exec plugins, plain http; recognises aws eks get-token', () => {
    const base = kubeconfig('https://k8s.example.com');
    assert.throws(
      () => connectionOf({ ...base, context_name: 'prod' }),
      /context_name 'prod' is not among the kubeconfig's contexts \('fake'\)/,
    );
    assert.throws(() => connectionOf(kubeconfig('http://k8s.example.com')), /is not https/);
    assert.throws(
      () =>
        connectionOf(
          kubeconfig('https://k8s.example.com', {
            'client-key': '/home/me/key.pem',
            'client-certificate': '/x',
          }),
        ),
      /refers to files/,
    );
    assert.throws(
      () =>
        connectionOf(kubeconfig('https://k8s.example.com', { exec: { command: 'gke-gcloud-auth-plugin' } })),
      /exec plugin \('gke-gcloud-auth-plugin'\)/,
    );
    const eks = connectionOf(
      kubeconfig('https://k8s.example.com', {
        exec: {
          command: 'aws',
          args: ['--region', 'eu-west-1', 'eks', 'get-token', '--cluster-name', 'flows'],
        },
      }),
    );
    assert.deepEqual(eks.eks, { clusterName: 'flows', region: 'eu-west-1' });
    // and the token never appears in what it says
    try {
      connectionOf({ ...kubeconfig('https://k8s.example.com', { token: TOKEN }), context_name: 'x' });
    } catch (error) {
      assert.doesNotMatch(String(error), new RegExp(TOKEN));
    }
  });
});

describe('kubernetes-job: the deployment', () => {
  it('a block without cluster_config uses the kubeconfig secret named by the deployment (YAML, its current-context)', async () => {
    const { config } = kubeconfig(kube.url);
    const arn = 'arn:aws:secretsmanager:us-east-1:123456789012:secret:kubeconfig-AbC123';
    const reads: string[] = [];
    const reader = {
      read: async (asked: string) => {
        reads.push(asked);
        return stringify(config);
      },
    };
    const section = KubernetesConfigSchema.parse({ kubeconfigSecretArn: arn });
    const env = kubernetesEnvironment(section);
    assert.deepEqual(env, { KUBERNETES_KUBECONFIG_SECRET_ARN: arn });
    assert.deepEqual(kubernetesStatements(section), [secretRead(arn)]);
    assert.deepEqual(kubernetesStatements(KubernetesConfigSchema.parse({})), []);
    const p = provider(deploymentOptions(env, reader));
    const target = targetOf(event({ cluster_config: null }));
    const { handle } = await p.submit(target, { store: claims });
    assert.equal((await p.status(target, handle)).phase, 'running');
    assert.ok(reads.length >= 1 && reads.every((asked) => asked === arn));
    await assert.rejects(
      provider().submit(targetOf(event({ cluster_config: null })), { store: claims }),
      /cluster_config: required/,
    );
  });
});

describe('the fake speaks the API server’s protocol', () => {
  async function raw(method: string, path: string, body?: unknown, token = TOKEN) {
    const { request } = await import('node:https');
    return new Promise<{ status: number; headers: Record<string, unknown>; json: unknown }>(
      (resolve, reject) => {
        const req = request(
          `${kube.url}${path}`,
          {
            method,
            ca,
            headers: {
              authorization: `Bearer ${token}`,
              'content-type': 'application/json',
              'content-length': body === undefined ? 0 : Buffer.byteLength(JSON.stringify(body)),
            },
          },
          (res) => {
            let text = '';
            res.on('data', (chunk: Buffer) => {
              text += chunk.toString();
            });
            res.on('end', () => {
              let json: unknown;
              try {
                json = JSON.parse(text);
              } catch {
                json = text;
              }
              resolve({ status: res.statusCode ?? 0, headers: res.headers, json });
            });
          },
        );
        req.on('error', reject);
        req.end(body === undefined ? undefined : JSON.stringify(body));
      },
    );
  }

  it('answers failures with Status objects: 401, 404, 409, 410; deleting without a policy orphans the pods, with a Warning', async () => {
    const { job } = buildKubernetesJob(targetOf(event()));
    const jobs = '/apis/batch/v1/namespaces/flows/jobs';
    const unauthorized = await raw('GET', `${jobs}/x`, undefined, 'nope');
    assert.deepEqual(
      [unauthorized.status, (unauthorized.json as { reason: string }).reason],
      [401, 'Unauthorized'],
    );
    const missing = await raw('GET', `${jobs}/x`);
    assert.deepEqual(missing.json, {
      kind: 'Status',
      apiVersion: 'v1',
      metadata: {},
      status: 'Failure',
      message: 'jobs.batch "x" not found',
      reason: 'NotFound',
      details: { name: 'x', group: 'batch', kind: 'jobs' },
      code: 404,
    });
    assert.equal((await raw('POST', jobs, job)).status, 201);
    const again = await raw('POST', jobs, job);
    assert.equal(again.status, 409);
    assert.equal((again.json as { reason: string }).reason, 'AlreadyExists');
    const expired = await raw('GET', '/api/v1/namespaces/flows/pods?watch=1&resourceVersion=1');
    assert.deepEqual([expired.status, (expired.json as { reason: string }).reason], [410, 'Expired']);
    const waitingLog = await raw(
      'GET',
      `/api/v1/namespaces/flows/pods/${[...kube.state.pods.values()].at(-1)?.metadata.name}/log?container=prefect-job`,
    );
    assert.equal(waitingLog.status, 400, 'a container that has not started has no log yet');
    const deleted = await raw('DELETE', `${jobs}/${job.metadata.name}`, {
      kind: 'DeleteOptions',
      apiVersion: 'v1',
    });
    assert.equal(deleted.status, 200, JSON.stringify(deleted.json));
    assert.match(String(deleted.headers.warning), /child pods are preserved by default/);
    const orphans = [...kube.state.pods.values()].filter(
      (pod) => pod.metadata.labels['job-name'] === job.metadata.name,
    );
    assert.equal(orphans.length, 1, 'the pod outlives its Job');
    for (const pod of orphans) kube.state.pods.delete(`flows/${pod.metadata.name}`);
  });

  it('no pod ever runs: Crashed at the pod watch timeout, saying what the pod was doing', async () => {
    kube.state.defaultPlan = [];
    const { reports } = await runWorkflow(event({ pod_watch_timeout_seconds: 1 }));
    assert.equal(reports[0]?.state, 'Crashed');
    assert.match(reports[0]?.reason ?? '', /did not start within 1 s \(last seen: pod .*ContainerCreating\)/);
  });
});
