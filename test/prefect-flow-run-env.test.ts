// What reaches a flow run so it can talk to the Prefect API, per provider, through loadRun
// (withPrefectEnv → functions/lib/prefect/flow-run-env.ts) and each provider's real build.
// Expected shapes are what Prefect's workers send at ce79dd3d6cfa2b7337265498210dbc4d25bcdc98:
// Cloud Run `{name, valueSource: {secretKeyRef: {secret, version}}}` (prefect_gcp/workers/
// cloud_run_v2.py `_populate_env`), Kubernetes `{name, valueFrom: {secretKeyRef: {name, key}}}`
// on the first container (prefect_kubernetes/worker.py `_replace_env_variable_with_secret`),
// ACI `{name: PREFECT_API_KEY, secureValue}` (prefect_azure/workers/container_instance.py
// `_get_arm_environment`), ECS a container secret `{name, valueFrom: <ARN>}` (ECS's own mechanism).
// A canary key must never be a plain value in any request.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, it } from 'node:test';
import { Job } from 'kubernetes-models/batch/v1';
import { loadRun } from '../functions/lib/context.js';
import type { Deps } from '../functions/lib/deps.js';
import { PrefectConfigError } from '../functions/lib/prefect/config.js';
import { prefectFromEnv } from '../functions/lib/prefect-from-env.js';
import type { CloudRunJobRequest } from '../providers/cloud-run-job/build.js';
import type { ContainerInstanceRequest } from '../providers/container-instance-job/build.js';
import type { DockerContainerRequest } from '../providers/docker-container/build.js';
import type { EcsRequest } from '../providers/ecs-task/build.js';
import type { KubernetesJobRequest } from '../providers/kubernetes-job/build.js';
import { sample, testDeps } from './helpers.js';

const API = 'https://api.prefect.cloud/api/accounts/a1/workspaces/w1';
const KEY = `pnu_canary_${randomUUID().replace(/-/g, '')}`;
const AUTH = `admin:canary-${randomUUID()}`;
const KEY_ARN = 'arn:aws:secretsmanager:us-east-1:123456789012:secret:prefect-api-key-AbCdEf';
const AUTH_ARN = 'arn:aws:secretsmanager:us-east-1:123456789012:secret:prefect-auth-string-AbCdEf';

interface Built {
  request: unknown;
  /** The run's secrets, scrubbed from anything written out. */
  secrets: string[];
  /** ARNs the submitter read from Secrets Manager. */
  reads: string[];
}

/** The request Prepare and Submit build for `sampleName`'s event, with this Prefect configuration. */
async function built(
  sampleName: string,
  env: NodeJS.ProcessEnv,
  edit: (infrastructure: Record<string, unknown>) => void = () => undefined,
): Promise<Built> {
  const event = await sample(sampleName);
  edit(event.infrastructure as Record<string, unknown>);
  const reads: string[] = [];
  const prefect = prefectFromEnv(
    { PREFECT_API_URL: API, ...env },
    {
      secrets: {
        async read(arn) {
          reads.push(arn);
          if (arn === KEY_ARN) return KEY;
          if (arn === AUTH_ARN) return AUTH;
          throw new Error(`no secret ${arn}`);
        },
      },
    },
  );
  assert.ok(prefect);
  const { deps: base } = await testDeps();
  const deps: Deps = { ...base, prefect };
  const ref = `events/${randomUUID()}.json`;
  await deps.store.put(ref, JSON.stringify(event));
  const run = await loadRun(deps, ref);
  const spec = await deps.loadSpec(run.block.type);
  return { request: spec.build(run), secrets: run.secrets, reads };
}

function assertNoValue(request: unknown, value: string) {
  assert.equal(JSON.stringify(request).includes(value), false, 'the credential is in the request');
}

const dropKey = (infrastructure: Record<string, unknown>) => {
  const env = infrastructure.env as Record<string, unknown> | undefined;
  delete env?.PREFECT_API_KEY;
};

describe('Cloud Run: the key as a Secret Manager secretKeyRef', () => {
  const container = (b: Built) => (b.request as CloudRunJobRequest).job.template.template.containers[0];

  it('PREFECT_API_KEY_GCP_SECRET (+ _VERSION) gives the container a valueSource.secretKeyRef, never the value', async () => {
    const b = await built(
      'cloud-run-job.json',
      {
        PREFECT_API_KEY_SECRET_ARN: KEY_ARN,
        PREFECT_API_KEY_GCP_SECRET: 'projects/my-project/secrets/prefect-api-key',
        PREFECT_API_KEY_GCP_SECRET_VERSION: '4',
      },
      dropKey,
    );
    const env = container(b)?.env ?? [];
    assert.deepEqual(
      env.filter((e) => e.name.startsWith('PREFECT_API')),
      [
        { name: 'PREFECT_API_URL', value: API },
        {
          name: 'PREFECT_API_KEY',
          valueSource: {
            secretKeyRef: { secret: 'projects/my-project/secrets/prefect-api-key', version: '4' },
          },
        },
      ],
    );
    // the block's own secret stays
    assert.ok(env.some((e) => e.name === 'DB_PASSWORD' && 'valueSource' in e));
    assertNoValue(b.request, KEY);
    assert.deepEqual(b.reads, [], 'the key is not even read for Cloud Run');
  });

  it('the version defaults to latest; the auth string goes the same way', async () => {
    const b = await built('cloud-run-job.json', {
      PREFECT_API_AUTH_STRING_SECRET_ARN: AUTH_ARN,
      PREFECT_API_KEY_GCP_SECRET: 'prefect-api-key',
      PREFECT_API_AUTH_STRING_GCP_SECRET: 'prefect-auth',
    });
    const env = container(b)?.env ?? [];
    assert.deepEqual(
      env.filter((e) => e.name === 'PREFECT_API_KEY' || e.name === 'PREFECT_API_AUTH_STRING'),
      [
        {
          name: 'PREFECT_API_KEY',
          valueSource: { secretKeyRef: { secret: 'prefect-api-key', version: 'latest' } },
        },
        {
          name: 'PREFECT_API_AUTH_STRING',
          valueSource: { secretKeyRef: { secret: 'prefect-auth', version: 'latest' } },
        },
      ],
    );
    assertNoValue(b.request, AUTH);
  });

  it('without the setting the container gets the API URL only; a block’s own env_from_secrets.PREFECT_API_KEY wins', async () => {
    const none = await built('cloud-run-job.json', { PREFECT_API_KEY_SECRET_ARN: KEY_ARN });
    assert.deepEqual(
      (container(none)?.env ?? []).filter((e) => e.name.startsWith('PREFECT_API')).map((e) => e.name),
      ['PREFECT_API_URL'],
    );
    const own = await built(
      'cloud-run-job.json',
      { PREFECT_API_KEY_GCP_SECRET: 'prefect-api-key' },
      (infrastructure) => {
        infrastructure.env_from_secrets = { PREFECT_API_KEY: { secret: 'team-key', version: '2' } };
      },
    );
    assert.deepEqual(
      (container(own)?.env ?? []).filter((e) => e.name === 'PREFECT_API_KEY'),
      [{ name: 'PREFECT_API_KEY', valueSource: { secretKeyRef: { secret: 'team-key', version: '2' } } }],
    );
  });
});

describe('Kubernetes: the key as a secretKeyRef to a Secret', () => {
  const firstContainer = (b: Built) => {
    const spec = (b.request as KubernetesJobRequest).job.spec as {
      template: { spec: { containers: { env: Record<string, unknown>[]; resources?: unknown }[] } };
    };
    return spec.template.spec.containers[0];
  };

  it("Prefect's kubernetes worker settings give the first container valueFrom.secretKeyRef, after the block's customizations", async () => {
    const b = await built(
      'kubernetes-job.json',
      {
        PREFECT_API_KEY_SECRET_ARN: KEY_ARN,
        PREFECT_INTEGRATIONS_KUBERNETES_WORKER_API_KEY_SECRET_NAME: 'prefect-api-key',
        PREFECT_INTEGRATIONS_KUBERNETES_WORKER_API_KEY_SECRET_KEY: 'value',
      },
      dropKey,
    );
    const container = firstContainer(b);
    const env = container?.env ?? [];
    assert.deepEqual(
      env.filter((e) => String(e.name).startsWith('PREFECT_API')),
      [
        { name: 'PREFECT_API_URL', value: API },
        { name: 'PREFECT_API_KEY', valueFrom: { secretKeyRef: { name: 'prefect-api-key', key: 'value' } } },
      ],
    );
    assert.ok(container?.resources, "the block's own customization still applies");
    new Job(
      (b.request as KubernetesJobRequest).job as unknown as ConstructorParameters<typeof Job>[0],
    ).validate();
    assertNoValue(b.request, KEY);
    assert.deepEqual(b.reads, []);
  });

  it('the auth string by its own Secret; a block that sets PREFECT_API_KEY itself keeps its entry alone', async () => {
    const b = await built('kubernetes-job.json', {
      PREFECT_API_AUTH_STRING_SECRET_ARN: AUTH_ARN,
      PREFECT_INTEGRATIONS_KUBERNETES_WORKER_API_KEY_SECRET_NAME: 'prefect-api-key',
      PREFECT_INTEGRATIONS_KUBERNETES_WORKER_API_KEY_SECRET_KEY: 'value',
      PREFECT_INTEGRATIONS_KUBERNETES_WORKER_API_AUTH_STRING_SECRET_NAME: 'prefect-auth',
      PREFECT_INTEGRATIONS_KUBERNETES_WORKER_API_AUTH_STRING_SECRET_KEY: 'auth',
    });
    const env = firstContainer(b)?.env ?? [];
    // the sample block has its own PREFECT_API_KEY value (the user's choice, as Prefect keeps it)
    assert.deepEqual(
      env.filter((e) => e.name === 'PREFECT_API_KEY' || e.name === 'PREFECT_API_AUTH_STRING'),
      [
        { name: 'PREFECT_API_KEY', value: 'pnu_k8s-api-key-canary' },
        {
          name: 'PREFECT_API_AUTH_STRING',
          valueFrom: { secretKeyRef: { name: 'prefect-auth', key: 'auth' } },
        },
      ],
    );
    assertNoValue(b.request, AUTH);
  });

  it('a Secret name without its key (or the reverse) is refused naming both settings', () => {
    assert.throws(
      () =>
        prefectFromEnv({
          PREFECT_API_URL: API,
          PREFECT_INTEGRATIONS_KUBERNETES_WORKER_API_KEY_SECRET_NAME: 'prefect-api-key',
        }),
      (error: unknown) =>
        error instanceof PrefectConfigError &&
        /PREFECT_INTEGRATIONS_KUBERNETES_WORKER_API_KEY_SECRET_NAME and PREFECT_INTEGRATIONS_KUBERNETES_WORKER_API_KEY_SECRET_KEY go together.*set PREFECT_INTEGRATIONS_KUBERNETES_WORKER_API_KEY_SECRET_KEY/.test(
          error.message,
        ),
    );
    assert.throws(
      () =>
        prefectFromEnv({
          PREFECT_API_URL: API,
          PREFECT_INTEGRATIONS_KUBERNETES_WORKER_API_KEY_SECRET_NAME: 'Not_A_Name',
          PREFECT_INTEGRATIONS_KUBERNETES_WORKER_API_KEY_SECRET_KEY: 'value',
        }),
      /_SECRET_NAME must be a Kubernetes Secret name/,
    );
    assert.throws(
      () => prefectFromEnv({ PREFECT_API_URL: API, PREFECT_API_KEY_GCP_SECRET: 'no/such/form' }),
      /PREFECT_API_KEY_GCP_SECRET must name a Secret Manager secret/,
    );
    assert.throws(
      () => prefectFromEnv({ PREFECT_API_URL: API, PREFECT_API_KEY_GCP_SECRET_VERSION: '3' }),
      /PREFECT_API_KEY_GCP_SECRET_VERSION is set without PREFECT_API_KEY_GCP_SECRET/,
    );
  });
});

describe('Azure Container Instances: the key as a secureValue', () => {
  const envOf = (b: Built) =>
    (b.request as ContainerInstanceRequest).body.properties.containers[0]?.properties.environmentVariables ??
    [];

  it('the key read from PREFECT_API_KEY_SECRET_ARN at submit goes as secureValue, never as value', async () => {
    const b = await built('container-instance-job.json', { PREFECT_API_KEY_SECRET_ARN: KEY_ARN }, dropKey);
    const env = envOf(b);
    assert.deepEqual(
      env.filter((e) => e.name.startsWith('PREFECT_API')),
      [
        { name: 'PREFECT_API_URL', value: API },
        { name: 'PREFECT_API_KEY', secureValue: KEY },
      ],
    );
    assert.equal(
      env.some((e) => 'value' in e && e.value === KEY),
      false,
    );
    assert.deepEqual(b.reads, [KEY_ARN]);
    assert.ok(b.secrets.includes(KEY), 'the key is one of the run’s secrets, scrubbed from logs and reports');
  });

  it('the auth string goes as a secureValue too, as prefect-azure sends it; a block’s own key wins', async () => {
    const auth = await built(
      'container-instance-job.json',
      { PREFECT_API_AUTH_STRING_SECRET_ARN: AUTH_ARN },
      dropKey,
    );
    assert.deepEqual(
      envOf(auth).filter((e) => e.name.startsWith('PREFECT_API')),
      [
        { name: 'PREFECT_API_URL', value: API },
        { name: 'PREFECT_API_AUTH_STRING', secureValue: AUTH },
      ],
    );
    assert.equal(
      envOf(auth).some((e) => 'value' in e && e.value === AUTH),
      false,
    );
    assert.ok(auth.secrets.includes(AUTH), 'the auth string is one of the run’s secrets');
    const own = await built('container-instance-job.json', { PREFECT_API_KEY_SECRET_ARN: KEY_ARN });
    assert.deepEqual(
      envOf(own).filter((e) => e.name === 'PREFECT_API_KEY'),
      [{ name: 'PREFECT_API_KEY', secureValue: 'pnu_aci-api-key-canary' }],
    );
    assertNoValue(own.request, KEY);
  });
});

describe('ECS: the key as a container secret', () => {
  const containerOf = (b: Built) => (b.request as EcsRequest).taskDefinition?.containerDefinitions?.[0];

  it('PREFECT_API_KEY_SECRET_ARN and PREFECT_API_AUTH_STRING_SECRET_ARN become secrets valueFrom; no value anywhere', async () => {
    const b = await built('ecs-task-moto.json', { PREFECT_API_KEY_SECRET_ARN: KEY_ARN });
    assert.deepEqual(
      (containerOf(b)?.secrets ?? []).filter((s) => s.name === 'PREFECT_API_KEY'),
      [{ name: 'PREFECT_API_KEY', valueFrom: KEY_ARN }],
    );
    assertNoValue(b.request, KEY);
    const auth = await built('ecs-task-moto.json', { PREFECT_API_AUTH_STRING_SECRET_ARN: AUTH_ARN });
    assert.deepEqual(
      (containerOf(auth)?.secrets ?? []).filter((s) => s.name?.startsWith('PREFECT_API')),
      [{ name: 'PREFECT_API_AUTH_STRING', valueFrom: AUTH_ARN }],
    );
    assertNoValue(auth.request, AUTH);
  });

  it("a block's own secrets.PREFECT_API_KEY wins; an existing task definition (task_definition_arn) is run as registered", async () => {
    const own = await built('ecs-task.json', { PREFECT_API_KEY_SECRET_ARN: KEY_ARN });
    assert.deepEqual(
      (containerOf(own)?.secrets ?? []).filter((s) => s.name === 'PREFECT_API_KEY'),
      [
        {
          name: 'PREFECT_API_KEY',
          valueFrom: 'arn:aws:secretsmanager:us-east-1:123456789012:secret:prefect-api-key',
        },
      ],
    );
    const registered = await built(
      'ecs-task-moto.json',
      { PREFECT_API_KEY_SECRET_ARN: KEY_ARN },
      (infrastructure) => {
        delete infrastructure.image;
        delete infrastructure.configure_cloudwatch_logs;
        infrastructure.task_definition_arn = 'arn:aws:ecs:us-east-1:123456789012:task-definition/flows:3';
      },
    );
    assert.equal((registered.request as EcsRequest).taskDefinition, null, 'nothing registered');
    assertNoValue(registered.request, KEY);
  });
});

describe('Docker: the API URL only', () => {
  it('a Docker container gets PREFECT_API_URL and no credential', async () => {
    const b = await built('docker-container.json', { PREFECT_API_KEY_SECRET_ARN: KEY_ARN }, dropKey);
    const env = (b.request as DockerContainerRequest).create.body.Env;
    assert.deepEqual(
      env.filter((e) => e.startsWith('PREFECT_API')),
      [`PREFECT_API_URL=${API}`],
    );
    assertNoValue(b.request, KEY);
  });
});
