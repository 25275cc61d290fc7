// The HTTP fake the provider tests run against: routes, state, fixtures, faults as a real
// client sees them (fetch, node:https, the AWS SDK through proxy mode), TLS and mutual TLS.
import assert from 'node:assert/strict';
import { request as httpsRequest } from 'node:https';
import { after, describe, it } from 'node:test';
import { DescribeTasksCommand, ECSClient, RunTaskCommand } from '@aws-sdk/client-ecs';
import { tempDir } from './helpers.js';
import { fixture, type HttpFake, startHttpFake } from './support/http-fake.js';
import { MOTO_CREDENTIALS } from './support/moto.js';
import { mutualTlsMaterial, selfSignedCert } from './support/tls.js';

const started: HttpFake<unknown>[] = [];
after(async () => {
  await Promise.all(started.map((fake) => fake.close()));
});

async function fake<S>(options: Parameters<typeof startHttpFake<S>>[0]): Promise<HttpFake<S>> {
  const out = await startHttpFake(options);
  started.push(out);
  return out;
}

const JOB_ROUTE = 'GET /apis/batch/v1/namespaces/:ns/jobs/:name';
const CREATE_ROUTE = 'POST /apis/batch/v1/namespaces/:ns/jobs';

/** A Kubernetes-like Jobs API: create and get, over a shared store. */
async function kubernetesFake() {
  return fake({
    state: { jobs: new Map<string, unknown>() },
    routes: [
      {
        route: CREATE_ROUTE,
        name: 'createJob',
        answer: (request, state) => {
          const name = String((request.json as { metadata?: { name?: string } }).metadata?.name);
          state.jobs.set(`${request.params.ns}/${name}`, request.json);
          return { status: 201, body: request.json };
        },
      },
      {
        route: JOB_ROUTE,
        answer: (request, state) => {
          const job = state.jobs.get(`${request.params.ns}/${request.params.name}`);
          if (job) return { status: 200, body: job };
          return {
            status: 404,
            body: { kind: 'Status', status: 'Failure', reason: 'NotFound', code: 404 },
          };
        },
      },
    ],
  });
}

const job = (name: string) => ({ apiVersion: 'batch/v1', kind: 'Job', metadata: { name } });

async function post(url: string, body: unknown, init: RequestInit = {}) {
  return fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
    ...init,
  });
}

describe('http fake: routes, state, recording', () => {
  it('routes by method and path with params, over state the routes share', async () => {
    const k8s = await kubernetesFake();
    const created = await post(`${k8s.url}/apis/batch/v1/namespaces/prod/jobs`, job('pi'));
    assert.equal(created.status, 201);
    const got = await fetch(`${k8s.url}/apis/batch/v1/namespaces/prod/jobs/pi?pretty=true`);
    assert.equal(got.status, 200);
    assert.deepEqual(await got.json(), job('pi'));
    assert.equal(got.headers.get('content-type'), 'application/json');
    const elsewhere = await fetch(`${k8s.url}/apis/batch/v1/namespaces/dev/jobs/pi`);
    assert.equal(elsewhere.status, 404, 'the namespace is part of the key');
    assert.equal(((await elsewhere.json()) as { reason: string }).reason, 'NotFound');
    assert.deepEqual([...k8s.state.jobs.keys()], ['prod/pi']);
  });

  it('an unmatched route answers 404 with a JSON body naming it; a wrong method does not match', async () => {
    const k8s = await kubernetesFake();
    const missing = await fetch(`${k8s.url}/api/v1/namespaces/prod/pods`);
    assert.equal(missing.status, 404);
    assert.deepEqual(await missing.json(), {
      error: 'the fake has no route for GET /api/v1/namespaces/prod/pods',
      route: 'GET /api/v1/namespaces/prod/pods',
    });
    const wrongMethod = await fetch(`${k8s.url}/apis/batch/v1/namespaces/prod/jobs/pi`, { method: 'DELETE' });
    assert.equal(wrongMethod.status, 404);
    await wrongMethod.arrayBuffer();
    assert.deepEqual(
      k8s.calls.map((call) => [call.route, call.outcome]),
      [
        ['GET /api/v1/namespaces/prod/pods', 'unmatched'],
        ['DELETE /apis/batch/v1/namespaces/prod/jobs/pi', 'unmatched'],
      ],
    );
  });

  it('records every call: route name, method, path, params, body, outcome and status', async () => {
    const k8s = await kubernetesFake();
    await (await post(`${k8s.url}/apis/batch/v1/namespaces/prod/jobs`, job('pi'))).arrayBuffer();
    await (await fetch(`${k8s.url}/apis/batch/v1/namespaces/prod/jobs/pi`)).arrayBuffer();
    assert.deepEqual(k8s.calls[0], {
      route: 'createJob',
      method: 'POST',
      path: '/apis/batch/v1/namespaces/prod/jobs',
      params: { ns: 'prod' },
      operation: undefined,
      body: job('pi'),
      outcome: 'ok',
      status: 201,
    });
    assert.equal(k8s.callsOf('createJob').length, 1);
    assert.equal(k8s.callsOf(CREATE_ROUTE).length, 1, 'by pattern too');
    assert.deepEqual(k8s.callsOf(JOB_ROUTE)[0]?.params, { ns: 'prod', name: 'pi' });
    k8s.clear();
    assert.equal(k8s.calls.length, 0);
    assert.equal(k8s.state.jobs.size, 1, 'clear() keeps the state');
  });

  it('answers as a stream, chunk by chunk', async () => {
    const release: (() => void)[] = [];
    const docker = await fake({ state: {} });
    docker.route('GET /containers/:id/logs', () => ({
      status: 200,
      headers: { 'content-type': 'text/plain' },
      stream: (async function* () {
        yield 'line 1\n';
        await new Promise<void>((resolve) => release.push(resolve));
        yield 'line 2\n';
      })(),
    }));
    const answer = await fetch(`${docker.url}/containers/abc/logs?follow=1`);
    assert.equal(answer.status, 200);
    const reader = answer.body?.getReader();
    assert.ok(reader);
    const first = await reader.read();
    assert.equal(
      new TextDecoder().decode(first.value),
      'line 1\n',
      'the first chunk comes before the stream ends',
    );
    release.forEach((resolve) => {
      resolve();
    });
    let rest = '';
    for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read())
      rest += new TextDecoder().decode(chunk.value);
    assert.equal(rest, 'line 2\n');
  });
});

describe('http fake: fixtures', () => {
  it('a route answers a recorded fixture, with its status, headers and body', async () => {
    const k8s = await fake({ state: {} });
    k8s.route(CREATE_ROUTE, fixture('kubernetes', 'create-job', 'already-exists'));
    const answer = await post(`${k8s.url}/apis/batch/v1/namespaces/prod/jobs`, job('pi'));
    assert.equal(answer.status, 409);
    const status = (await answer.json()) as { kind: string; reason: string; code: number };
    assert.deepEqual([status.kind, status.reason, status.code], ['Status', 'AlreadyExists', 409]);
  });

  it('a fixture that is a plain body answers 200; an unknown one throws naming the file', () => {
    const missing = fixture('ecs', 'describe-tasks', 'missing');
    assert.equal(missing.status, 200);
    assert.deepEqual((missing.body as { tasks: unknown[] }).tasks, []);
    assert.deepEqual(fixture('cloud-run', 'create-job', 'unavailable').headers, {
      'content-type': 'application/json; charset=UTF-8',
    });
    assert.throws(() => fixture('docker', 'create-container', 'nope'), /create-container-nope\.json/);
  });
});

const GOOGLE_503 = {
  error: { code: 503, status: 'UNAVAILABLE', message: 'The service is currently unavailable.' },
};

describe('http fake: injected faults', () => {
  it('a status fault, N times, with Retry-After and the provider error body; then the route again', async () => {
    const run = await fake({ state: {} });
    run.route('POST /v2/projects/:project/locations/:location/jobs', () => ({
      status: 200,
      body: { done: false },
    }));
    run.inject({
      route: 'POST /v2/projects/:project/locations/:location/jobs',
      status: 503,
      retryAfter: 7,
      body: GOOGLE_503,
      times: 2,
    });
    const url = `${run.url}/v2/projects/p/locations/europe-west1/jobs?jobId=flow`;
    const answers = [];
    for (let i = 0; i < 3; i++) {
      const answer = await post(url, {});
      answers.push([answer.status, answer.headers.get('retry-after'), await answer.json()]);
    }
    assert.deepEqual(answers, [
      [503, '7', GOOGLE_503],
      [503, '7', GOOGLE_503],
      [200, null, { done: false }],
    ]);
    assert.deepEqual(
      run.calls.map((call) => [call.outcome, call.status]),
      [
        ['fault', 503],
        ['fault', 503],
        ['ok', 200],
      ],
    );
  });

  it("'after': the route ran (the resource exists), the client gets the fault", async () => {
    const k8s = await kubernetesFake();
    k8s.inject({
      route: 'createJob',
      when: 'after',
      status: 500,
      body: { kind: 'Status', status: 'Failure', reason: 'InternalError', code: 500 },
    });
    const answer = await post(`${k8s.url}/apis/batch/v1/namespaces/prod/jobs`, job('pi'));
    assert.equal(answer.status, 500);
    assert.equal(((await answer.json()) as { reason: string }).reason, 'InternalError');
    assert.ok(k8s.state.jobs.has('prod/pi'), 'the job was created');
    const before = await post(`${k8s.url}/apis/batch/v1/namespaces/prod/jobs`, job('other'));
    assert.equal(before.status, 201, 'times defaults to 1');
    await before.arrayBuffer();
  });

  it('hang: no answer until the client gives up; the next call is answered', async () => {
    const k8s = await kubernetesFake();
    k8s.inject({ route: JOB_ROUTE, kind: 'hang' });
    const url = `${k8s.url}/apis/batch/v1/namespaces/prod/jobs/pi`;
    const started = Date.now();
    await assert.rejects(fetch(url, { signal: AbortSignal.timeout(150) }), { name: 'TimeoutError' });
    assert.ok(Date.now() - started >= 140);
    const next = await fetch(url);
    assert.equal(next.status, 404);
    await next.arrayBuffer();
    assert.deepEqual(
      k8s.calls.map((call) => call.outcome),
      ['hang', 'ok'],
    );
  });

  it('close() drops a hung call', async () => {
    const k8s = await startHttpFake({ state: {} });
    k8s.inject({ route: 'GET /slow', kind: 'hang' });
    const hung = fetch(`${k8s.url}/slow`);
    while (k8s.calls.length === 0) await new Promise((resolve) => setTimeout(resolve, 5));
    await k8s.close();
    await assert.rejects(hung, TypeError);
  });

  it('reset: the connection is reset, before or after the route ran', async () => {
    const k8s = await kubernetesFake();
    k8s.inject({ route: 'createJob', kind: 'reset' });
    k8s.inject({ route: 'createJob', kind: 'reset', when: 'after' });
    const create = () => post(`${k8s.url}/apis/batch/v1/namespaces/prod/jobs`, job('pi'));
    const resetError = (error: unknown) => {
      assert.ok(error instanceof TypeError, String(error));
      const code = (error.cause as { code?: string } | undefined)?.code;
      assert.equal(code, 'ECONNRESET', 'a TCP reset, not a clean close');
      return true;
    };
    await assert.rejects(create(), resetError);
    assert.equal(k8s.state.jobs.size, 0, 'before: nothing was created');
    await assert.rejects(create(), resetError);
    assert.equal(k8s.state.jobs.size, 1, 'after: the job exists');
    assert.deepEqual(
      k8s.calls.map((call) => call.outcome),
      ['reset', 'reset'],
    );
  });

  it('faults for one route leave the others alone', async () => {
    const k8s = await kubernetesFake();
    k8s.inject({ route: 'createJob', status: 429, retryAfter: 1, times: 5 });
    const got = await fetch(`${k8s.url}/apis/batch/v1/namespaces/prod/jobs/pi`);
    assert.equal(got.status, 404);
    await got.arrayBuffer();
  });
});

/** A tiny upstream that answers like ECS (JSON 1.1 protocol, `x-amz-target`). */
async function ecsLike() {
  return fake({
    state: { started: 0 },
    routes: [
      {
        route: 'POST /',
        answer: (request, state) => {
          const headers = { 'content-type': 'application/x-amz-json-1.1' };
          if (request.operation === 'RunTask') {
            state.started++;
            const taskArn = `arn:aws:ecs:us-east-1:123456789012:task/c/${state.started}`;
            return {
              status: 200,
              headers,
              body: { tasks: [{ taskArn, lastStatus: 'PROVISIONING' }], failures: [] },
            };
          }
          if (request.operation === 'DescribeTasks')
            return { status: 200, headers, body: { tasks: [], failures: [] } };
          return { status: 400, headers, body: { __type: 'InvalidParameterException', message: 'unknown' } };
        },
      },
    ],
  });
}

describe('http fake: proxy mode with the AWS SDK', () => {
  const client = (endpoint: string) =>
    new ECSClient({ endpoint, region: 'us-east-1', credentials: MOTO_CREDENTIALS, maxAttempts: 1 });

  it('forwards what no route matches, names calls by AWS operation, and injects faults by operation', async () => {
    const upstream = await ecsLike();
    const proxy = await fake({ state: {}, upstream: upstream.url });
    const ecs = client(proxy.url);
    const run = () =>
      ecs.send(new RunTaskCommand({ taskDefinition: 'prefect__abc', cluster: 'c', clientToken: 'flow-1' }));
    try {
      const ok = await run();
      assert.equal(ok.tasks?.[0]?.taskArn, 'arn:aws:ecs:us-east-1:123456789012:task/c/1');
      assert.deepEqual(proxy.callsOf('RunTask')[0]?.body, {
        taskDefinition: 'prefect__abc',
        cluster: 'c',
        clientToken: 'flow-1',
      });

      proxy.inject({
        route: 'RunTask',
        status: 400,
        headers: { 'content-type': 'application/x-amz-json-1.1', 'x-amzn-errortype': 'ThrottlingException' },
        body: { __type: 'ThrottlingException', message: 'Rate exceeded' },
      });
      await assert.rejects(run(), { name: 'ThrottlingException' });
      assert.equal(upstream.state.started, 1, 'before: the upstream never saw it');

      proxy.inject({ route: 'RunTask', status: 503, retryAfter: 3, when: 'after' });
      await assert.rejects(run(), (error: unknown) => {
        const metadata = (error as { $metadata?: { httpStatusCode?: number } }).$metadata;
        assert.equal(metadata?.httpStatusCode, 503);
        return true;
      });
      assert.equal(upstream.state.started, 2, 'after: the task was started, the answer lost');

      const described = await ecs.send(new DescribeTasksCommand({ tasks: ['x'], cluster: 'c' }));
      assert.deepEqual(described.tasks, [], 'other operations are untouched');
      assert.deepEqual(
        proxy.calls.map((call) => [call.route, call.outcome, call.status]),
        [
          ['RunTask', 'ok', 200],
          ['RunTask', 'fault', 400],
          ['RunTask', 'fault', 503],
          ['DescribeTasks', 'ok', 200],
        ],
      );
      assert.equal(upstream.callsOf('RunTask').length, 2, 'the upstream names them too');
    } finally {
      ecs.destroy();
    }
  });

  it('names query-protocol calls by their Action, with the form as the body', async () => {
    const upstream = await fake({ state: {} });
    upstream.route('POST /', () => ({ status: 200, headers: { 'content-type': 'text/xml' }, body: '<ok/>' }));
    const proxy = await fake({ state: {}, upstream: upstream.url });
    const answer = await fetch(`${proxy.url}/`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'Action=DescribeSubnets&Version=2016-11-15&Filter.1.Name=vpc-id',
    });
    assert.equal(await answer.text(), '<ok/>');
    assert.equal(answer.headers.get('content-type'), 'text/xml');
    assert.deepEqual(proxy.callsOf('DescribeSubnets')[0]?.body, {
      Action: 'DescribeSubnets',
      Version: '2016-11-15',
      'Filter.1.Name': 'vpc-id',
    });
  });

  it('an unreachable upstream answers 502', async () => {
    const gone = await startHttpFake({ state: {} });
    const url = gone.url;
    await gone.close();
    const proxy = await fake({ state: {}, upstream: url });
    const answer = await fetch(`${proxy.url}/anything`);
    assert.equal(answer.status, 502);
    assert.match(((await answer.json()) as { error: string }).error, /could not reach/);
  });
});

interface TlsClient {
  ca?: string;
  cert?: string;
  key?: string;
}

/** A GET with node:https, trusting `ca` (and presenting a client certificate, if given). */
function httpsGet(url: string, tls: TlsClient): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const request = httpsRequest(url, { ...tls, agent: false }, (response) => {
      let body = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => {
        body += chunk;
      });
      response.on('end', () => resolve({ status: response.statusCode ?? 0, body }));
      response.on('error', reject);
    });
    request.on('error', reject);
    request.end();
  });
}

describe('http fake: HTTPS', () => {
  it('serves TLS with a self-signed certificate for 127.0.0.1: a client given it as CA connects', async () => {
    const cert = await selfSignedCert();
    const arm = await fake({ state: {}, tls: { cert: cert.cert, key: cert.key } });
    arm.route(
      'GET /subscriptions/:sub/providers/Microsoft.ContainerInstance/containerGroups/:name',
      (request) => ({
        status: 200,
        body: { name: request.params.name, properties: { provisioningState: 'Succeeded' } },
      }),
    );
    assert.match(arm.url, /^https:\/\/127\.0\.0\.1:\d+$/);
    const path =
      '/subscriptions/s/providers/Microsoft.ContainerInstance/containerGroups/flow?api-version=2023-05-01';
    const answer = await httpsGet(`${arm.url}${path}`, { ca: cert.cert });
    assert.equal(answer.status, 200);
    assert.equal((JSON.parse(answer.body) as { name: string }).name, 'flow');
    await assert.rejects(httpsGet(`${arm.url}${path}`, {}), { code: 'DEPTH_ZERO_SELF_SIGNED_CERT' });
  });

  it('mutual TLS: only a client with a certificate signed by the CA is answered', async () => {
    const material = await mutualTlsMaterial(await tempDir('submitter-mtls-'));
    const docker = await fake({ state: {}, tls: { ...material.server, ca: material.ca, requestCert: true } });
    docker.route('GET /:version/_ping', () => ({
      status: 200,
      headers: { 'content-type': 'text/plain' },
      body: 'OK',
    }));
    const withCert = await httpsGet(`${docker.url}/v1.43/_ping`, { ca: material.ca, ...material.client });
    assert.deepEqual(withCert, { status: 200, body: 'OK' });
    await assert.rejects(httpsGet(`${docker.url}/v1.43/_ping`, { ca: material.ca }));
    assert.equal(docker.calls.length, 1, 'the client without a certificate never got to a route');
  });
});
