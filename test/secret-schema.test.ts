// Secrets marked in the block schemas: what is masked (exactly the marked values), where
// (blocks get, preview, validation errors, logs, kept rejected deliveries), and what is not
// (keys, and values that merely contain a short secret's characters).
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { main } from '../cli/main.js';
import { InvalidInputError } from '../core/errors.js';
import { createLogger } from '../core/logger.js';
import { collectSecretValues, REDACTED, redact, scrub } from '../core/secrets.js';
import { keepRejected } from '../functions/lib/intake.js';
import { parseBlock } from '../providers/blocks.js';
import { tempDir, testDeps } from './helpers.js';

const FLOW_RUN = { id: '7a1c2d3e-4b5a-4c6d-8e7f-0a1b2c3d4e99', name: 'secrets' };
const SUBSCRIPTION = '6f1c2d3e-4b5a-4c6d-8e7f-0a1b2c3d4e5f';

/** Every canary, by what it stands for; none may ever be printed, logged or kept. */
const CANARY = {
  clientKeyData: 'canary-client-key-data-91b2',
  kubeToken: 'canary-kube-token-3c4d',
  oidcClientSecret: 'canary-oidc-client-secret-5e6f',
  refreshToken: 'canary-refresh-token-7a8b',
  accessToken: 'canary-access-token-9c0d',
  idToken: 'canary-id-token-1e2f',
  execEnv: 'canary-exec-env-aws-secret-3a4b',
  kubePassword: 'canary-kube-password-5c6d',
  privateKey: 'canary-service-account-private-key-7e8f',
  dockerPassword: 'canary-docker-registry-password-9a0b',
  aciPassword: 'canary-aci-registry-password-1c2d',
  azureClientSecret: 'canary-azure-client-secret-3e4f',
  subscription: SUBSCRIPTION,
} as const;

function assertNoCanary(text: string, where: string): void {
  for (const [name, canary] of Object.entries(CANARY)) {
    assert.equal(
      text.toLowerCase().includes(canary.toLowerCase()),
      false,
      `${where}: the ${name} canary leaked`,
    );
  }
}

function kubernetesBlock(): Record<string, unknown> {
  return {
    type: 'kubernetes-job',
    namespace: 'flows',
    cluster_config: {
      context_name: 'prod',
      config: {
        apiVersion: 'v1',
        clusters: [
          {
            name: 'prod',
            cluster: { server: 'https://k8s.example.com', 'certificate-authority-data': 'Q0EtcHVibGlj' },
          },
        ],
        users: [
          {
            name: 'cert',
            user: { 'client-certificate-data': 'Y2VydA==', 'client-key-data': CANARY.clientKeyData },
          },
          { name: 'bearer', user: { token: CANARY.kubeToken } },
          {
            name: 'oidc',
            user: {
              'auth-provider': {
                name: 'oidc',
                config: {
                  'client-id': 'flows-oidc',
                  'client-secret': CANARY.oidcClientSecret,
                  'refresh-token': CANARY.refreshToken,
                  'access-token': CANARY.accessToken,
                  'id-token': CANARY.idToken,
                  'idp-issuer-url': 'https://idp.example.com',
                },
              },
            },
          },
          {
            name: 'eks',
            user: {
              exec: {
                command: 'aws',
                args: ['eks', 'get-token'],
                env: [{ name: 'AWS_SECRET_ACCESS_KEY_FOR_EKS', value: CANARY.execEnv }],
              },
            },
          },
          { name: 'basic', user: { username: 'admin', password: CANARY.kubePassword } },
        ],
        contexts: [{ name: 'prod', context: { cluster: 'prod', user: 'bearer' } }],
      },
    },
  };
}

function cloudRunBlock(): Record<string, unknown> {
  return {
    type: 'cloud-run-job',
    credentials: {
      service_account_info: {
        type: 'service_account',
        project_id: 'my-project',
        private_key: `-----BEGIN PRIVATE KEY-----\n${CANARY.privateKey}\n-----END PRIVATE KEY-----\n`,
        client_email: 'submitter@my-project.iam.gserviceaccount.com',
      },
    },
    region: 'europe-west1',
  };
}

function dockerBlock(): Record<string, unknown> {
  return {
    type: 'docker-container',
    image: 'registry.example.com/etl:1',
    image_registry: {
      username: 'robot',
      password: CANARY.dockerPassword,
      registry_url: 'registry.example.com',
    },
  };
}

function aciBlock(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    type: 'container-instance-job',
    subscription_id: CANARY.subscription,
    resource_group_name: 'flows-rg',
    aci_credentials: {
      tenant_id: 'tenant-1',
      client_id: 'client-1',
      client_secret: CANARY.azureClientSecret,
    },
    image_registry: { registry_url: 'r.azurecr.io', username: 'flows-pull', password: CANARY.aciPassword },
    ...extra,
  };
}

const BLOCKS = {
  kubernetes: kubernetesBlock,
  'cloud-run': cloudRunBlock,
  docker: dockerBlock,
  aci: aciBlock,
};

async function cli(args: string[]) {
  let stdout = '';
  let stderr = '';
  const code = await main(args, { out: (t) => (stdout += `${t}\n`), err: (t) => (stderr += `${t}\n`) });
  return { code, stdout, stderr };
}

async function writeJson(dir: string, name: string, doc: unknown): Promise<string> {
  const file = join(dir, name);
  await writeFile(file, JSON.stringify(doc));
  return file;
}

describe('secrets marked in the block schemas', () => {
  it('redact masks exactly the marked values; what is not marked stays readable, whatever its name', () => {
    const aci = redact(parseBlock(aciBlock({ labels: { password: 'a-label', token: 'another' } })));
    assert.equal(aci.type, 'container-instance-job');
    if (aci.type !== 'container-instance-job') return;
    assert.equal(aci.subscription_id, REDACTED);
    assert.deepEqual(aci.aci_credentials, {
      tenant_id: 'tenant-1',
      client_id: 'client-1',
      client_secret: REDACTED,
    });
    assert.deepEqual(aci.image_registry, {
      registry_url: 'r.azurecr.io',
      username: 'flows-pull',
      password: REDACTED,
    });
    assert.deepEqual(aci.labels, { password: 'a-label', token: 'another' }, 'labels are not secrets');

    const kube = redact(kubernetesBlock());
    const text = JSON.stringify(kube);
    assertNoCanary(text, 'redacted kubeconfig');
    for (const visible of [
      'https://k8s.example.com',
      'Q0EtcHVibGlj',
      'Y2VydA==',
      'flows-oidc',
      'admin',
      'get-token',
    ]) {
      assert.ok(text.includes(visible), `${visible} is not a secret and stays`);
    }

    const cloudRun = redact(cloudRunBlock()) as { credentials: { service_account_info: unknown } };
    assert.equal(cloudRun.credentials.service_account_info, REDACTED, 'the whole service account key');
  });

  it('overrides are masked by the field their dot key sets; an unknown type falls back to the name rules', () => {
    const event = {
      flow_run: FLOW_RUN,
      infrastructure_block: 'container-instance-job/prod',
      infra_overrides: {
        'aci_credentials.client_secret': CANARY.azureClientSecret,
        subscription_id: CANARY.subscription,
        'env.GITHUB_TOKEN': CANARY.kubeToken,
        'labels.token': 'a-label',
      },
    };
    assert.deepEqual(redact(event).infra_overrides, {
      'aci_credentials.client_secret': REDACTED,
      subscription_id: REDACTED,
      'env.GITHUB_TOKEN': REDACTED,
      'labels.token': 'a-label',
    });
    // no schema for 'lambda-function': the names marked in any schema, and secret-looking names, still mask
    const unknown = redact({
      detail: {
        flow_run: FLOW_RUN,
        infrastructure: {
          type: 'lambda-function',
          subscription_id: CANARY.subscription,
          client_secret: 'x',
          memory: 1,
        },
      },
    });
    assert.deepEqual(unknown.detail.infrastructure, {
      type: 'lambda-function',
      subscription_id: REDACTED,
      client_secret: REDACTED,
      memory: 1,
    });
  });

  it('blocks get never shows a canary (kubeconfig, service account, registry passwords, Azure)', async () => {
    const dir = await tempDir();
    const store = join(dir, 'blocks');
    for (const [name, block] of Object.entries(BLOCKS)) {
      const file = await writeJson(dir, `${name}.json`, block());
      const put = await cli(['blocks', 'put', file, '--name', name, '--blocks', store]);
      assert.equal(put.code, 0, put.stderr);
      const type = String(block().type);
      const got = await cli(['blocks', 'get', `${type}/${name}`, '--blocks', store]);
      assert.equal(got.code, 0, got.stderr);
      assertNoCanary(got.stdout + got.stderr, `blocks get ${type}/${name}`);
      assert.equal(JSON.parse(got.stdout).type, type, 'the rest of the block is shown');
    }
  });

  it('preview never shows a canary, and keeps what is not secret', async () => {
    const dir = await tempDir();
    for (const [name, block] of Object.entries(BLOCKS)) {
      const file = await writeJson(dir, `${name}.json`, { flow_run: FLOW_RUN, infrastructure: block() });
      const out = await cli(['preview', file]);
      assert.equal(out.code, 0, `${name}: ${out.stderr}`);
      assertNoCanary(out.stdout + out.stderr, `preview ${name}`);
    }
    const aci = await cli([
      'preview',
      await writeJson(dir, 'aci-event.json', { flow_run: FLOW_RUN, infrastructure: aciBlock() }),
    ]);
    const shown = JSON.parse(aci.stdout);
    assert.deepEqual(shown.request.body.properties.imageRegistryCredentials, [
      { server: 'r.azurecr.io', username: 'flows-pull', password: REDACTED },
    ]);
  });

  it('validation errors never show a canary, even one quoted inside the value a problem is about', async () => {
    const dir = await tempDir();
    // the resource group check quotes the value, which here holds the subscription id (in upper case)
    const quoting = await writeJson(dir, 'quoting.json', {
      flow_run: FLOW_RUN,
      infrastructure: aciBlock({ resource_group_name: `rg-${SUBSCRIPTION.toUpperCase()}.` }),
    });
    const out = await cli(['preview', quoting]);
    assert.equal(out.code, 2, out.stderr);
    assert.match(
      out.stderr,
      /infrastructure\.resource_group_name: 'rg-\*{10}\.' is not a resource group name/,
    );
    assertNoCanary(out.stderr + out.stdout, 'preview error');
    for (const [name, block] of Object.entries(BLOCKS)) {
      const file = await writeJson(dir, `${name}-bad.json`, {
        flow_run: FLOW_RUN,
        infrastructure: { ...block(), comand: ['x'] },
      });
      const bad = await cli(['validate', file]);
      assert.equal(bad.code, 2, name);
      assert.match(bad.stderr, /infrastructure\.comand: unknown field/);
      assertNoCanary(bad.stderr + bad.stdout, `validate ${name}`);
    }
  });

  it('logs never show a canary: fields are redacted by schema, messages scrubbed of the run’s secrets', () => {
    const lines: string[] = [];
    const event = { flow_run: FLOW_RUN, infrastructure: kubernetesBlock() };
    const secrets = [
      ...Object.values(BLOCKS).flatMap((block) => collectSecretValues(block())),
      ...collectSecretValues(event),
    ];
    const log = createLogger({ level: 'debug', write: (line) => lines.push(line) }).withSecrets(secrets);
    log.info(`kubectl --token ${CANARY.kubeToken} failed for ${SUBSCRIPTION.toUpperCase()}`, { event });
    for (const block of Object.values(BLOCKS))
      log.error(`password ${CANARY.aciPassword} refused`, { block: block() });
    assert.equal(lines.length, 5);
    assertNoCanary(lines.join('\n'), 'log lines');
    assert.match(lines[0] ?? '', /kubectl --token \*{10} failed for \*{10}/);
  });

  it('kept rejected deliveries never hold a canary: bad field, unknown type, in an envelope, in overrides', async () => {
    const { deps } = await testDeps();
    // each with a problem that quotes one of its secrets, as a check quoting a value may
    const rejected: [unknown, string][] = [
      [{ flow_run: FLOW_RUN, infrastructure: { ...aciBlock(), comand: ['x'] } }, SUBSCRIPTION.toUpperCase()],
      [{ flow_run: FLOW_RUN, infrastructure: { ...kubernetesBlock(), cpu: 'lots' } }, CANARY.kubeToken],
      [
        { detail: { flow_run: FLOW_RUN, infrastructure: { ...cloudRunBlock(), type: 'cloud-run-jobs' } } },
        `-----BEGIN PRIVATE KEY-----\n${CANARY.privateKey}\n-----END PRIVATE KEY-----\n`,
      ],
      [
        {
          flow_run: FLOW_RUN,
          infrastructure: dockerBlock(),
          infra_overrides: { 'image_registry.password': `${CANARY.dockerPassword}-2`, cpu: 'x' },
        },
        `${CANARY.dockerPassword}-2`,
      ],
    ];
    for (const [index, [raw, quoted]] of rejected.entries()) {
      const problem = { path: 'infrastructure.x', message: `'${quoted}-rg' is not valid` };
      const key = await keepRejected(
        deps,
        raw,
        new InvalidInputError('Invalid', [problem]),
        `delivery-${index}`,
      );
      const body = (await deps.store.get(key)) ?? '';
      assertNoCanary(body, `kept delivery ${index}`);
      assert.match(body, /"message": "'\*{10}-rg' is not valid"/, 'the problem is kept, scrubbed');
      assert.match(body, /"flow_run"/, 'the input is kept');
    }
  });

  it("refuses Prefect's '**********' placeholder in any secret field, naming the field and how to pass the secret", async () => {
    const dir = await tempDir();
    const cases: [Record<string, unknown>, RegExp][] = [
      [
        aciBlock({ subscription_id: REDACTED }),
        /infrastructure\.subscription_id: is '\*{10}', the placeholder/,
      ],
      [
        aciBlock({ aci_credentials: { tenant_id: 't', client_id: 'c', client_secret: REDACTED } }),
        /infrastructure\.aci_credentials\.client_secret: is '\*{10}'/,
      ],
      [
        { ...dockerBlock(), image_registry: { username: 'u', password: REDACTED, registry_url: 'r' } },
        /infrastructure\.image_registry\.password: is '\*{10}'/,
      ],
      [
        { type: 'ecs-task', aws_credentials: { aws_access_key_id: 'AKIA', aws_secret_access_key: REDACTED } },
        /infrastructure\.aws_credentials\.aws_secret_access_key: is '\*{10}'/,
      ],
      [
        { type: 'cloud-run-job', credentials: { service_account_info: { private_key: REDACTED } } },
        /infrastructure\.credentials\.service_account_info\.private_key: is '\*{10}'/,
      ],
      [
        {
          type: 'kubernetes-job',
          cluster_config: {
            context_name: 'c',
            config: { users: [{ name: 'u', user: { token: REDACTED } }] },
          },
        },
        /infrastructure\.cluster_config\.config\.users\[0\]\.user\.token: is '\*{10}'/,
      ],
    ];
    for (const [index, [block, expected]] of cases.entries()) {
      const file = await writeJson(dir, `placeholder-${index}.json`, {
        flow_run: FLOW_RUN,
        infrastructure: block,
      });
      const out = await cli(['validate', file]);
      assert.equal(out.code, 2, `${block.type}: ${out.stdout}`);
      assert.match(out.stderr, expected);
      assert.match(out.stderr, /submitter blocks put FILE --name NAME/);
    }
    // a kubeconfig field that is not a secret may hold anything
    const harmless = await writeJson(dir, 'harmless.json', {
      flow_run: FLOW_RUN,
      infrastructure: {
        type: 'kubernetes-job',
        cluster_config: { context_name: 'c', config: { 'current-context': REDACTED } },
      },
    });
    assert.equal((await cli(['validate', harmless])).code, 0);
  });
});

describe('scrubbing masks secret values, never keys, and inside other values only distinctive ones', () => {
  it("subscription_id 'test' leaves the resource group 'test-group' and a command argument 'test' alone", async () => {
    const dir = await tempDir();
    const file = await writeJson(dir, 'short.json', {
      flow_run: FLOW_RUN,
      infrastructure: aciBlock({
        subscription_id: 'test',
        resource_group_name: 'test-group',
        command: ['python', 'flow.py', 'test'],
      }),
    });
    const out = await cli(['preview', file]);
    assert.equal(out.code, 0, out.stderr);
    const { request } = JSON.parse(out.stdout);
    assert.match(request.path, /\/resourceGroups\/test-group\/providers\//);
    assert.deepEqual(request.body.properties.containers[0].properties.command.slice(-3), [
      'python',
      'flow.py',
      'test',
    ]);
    assert.equal(request.lookups.location, "the location of resource group 'test-group'");
    // and in free text
    assert.equal(
      scrub("resource group 'test-group' not found", ['test']),
      "resource group 'test-group' not found",
    );
    assert.equal(scrub('login with password=test', ['test']), `login with password=${REDACTED}`);
  });

  it('a registry password \'password\' masks the value, never the key "password" (preview and logs)', async () => {
    const dir = await tempDir();
    const file = await writeJson(dir, 'password.json', {
      flow_run: FLOW_RUN,
      infrastructure: aciBlock({
        image_registry: { registry_url: 'r.azurecr.io', username: 'u', password: 'password' },
      }),
    });
    const out = await cli(['preview', file]);
    assert.equal(out.code, 0, out.stderr);
    assert.match(out.stdout, /"password": "\*{10}"/);
    assert.deepEqual(JSON.parse(out.stdout).request.body.properties.imageRegistryCredentials, [
      { server: 'r.azurecr.io', username: 'u', password: REDACTED },
    ]);
    const lines: string[] = [];
    createLogger({ write: (line) => lines.push(line) })
      .withSecrets(['password'])
      .info('registry login', { registry: { password: 'password', username: 'u' } });
    assert.deepEqual(JSON.parse(lines[0] ?? '{}').registry, { password: REDACTED, username: 'u' });
  });

  it('a subscription id written in upper case inside another value is masked', async () => {
    const dir = await tempDir();
    const subnet = `/subscriptions/${SUBSCRIPTION.toUpperCase()}/resourceGroups/net/providers/Microsoft.Network/virtualNetworks/v/subnets/s`;
    const file = await writeJson(dir, 'case.json', {
      flow_run: FLOW_RUN,
      infrastructure: aciBlock({ subnet_ids: [subnet] }),
    });
    const out = await cli(['preview', file]);
    assert.equal(out.code, 0, out.stderr);
    assert.equal(
      JSON.parse(out.stdout).request.body.properties.subnetIds[0].id,
      `/subscriptions/${REDACTED}/resourceGroups/net/providers/Microsoft.Network/virtualNetworks/v/subnets/s`,
    );
    assert.equal(scrub(`in ${SUBSCRIPTION.toUpperCase()}`, [SUBSCRIPTION]), `in ${REDACTED}`);
  });
});
