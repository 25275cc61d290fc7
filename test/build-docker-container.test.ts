// docker-container's pure half: block + flow run → the Docker Engine API calls.
// Expected names and labels marked "Prefect:" were produced by running Prefect's own
// functions (from the seeds) with python-slugify 9.0.0.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import {
  buildDockerRequest,
  DOCKER_FLOW_RUN_LABEL,
  dockerLabelKey,
  parseBytes,
} from '../providers/docker-container/build.js';
import { dockerContainerSpec } from '../providers/docker-container/spec.js';
import { runSuffix } from '../providers/naming.js';
import { SAMPLES } from './helpers.js';
import { assertProblem, FLOW_RUN_ID, OTHER_FLOW_RUN_ID, previewCli, targetOf } from './support/build.js';

/** What Docker accepts as a container name. */
const DOCKER_NAME = /^\/?[a-zA-Z0-9][a-zA-Z0-9_.-]+$/;
const build = async (fields: Record<string, unknown> = {}, input = {}) =>
  buildDockerRequest(await targetOf('docker-container', fields, input));

describe('docker-container build', () => {
  it("Prefect's deployment example: env override merged, flow-run env and labels added, nothing else switched on", async () => {
    // the seed's deployment YAML: docker-container with `env.EXTRA_PIP_PACKAGES: s3fs`
    const request = await build(
      { image: 'prefecthq/prefect:dev-python3.9' },
      { infra_overrides: { 'env.EXTRA_PIP_PACKAGES': 's3fs' } },
    );
    assert.deepEqual(request.create.body, {
      Image: 'prefecthq/prefect:dev-python3.9',
      Cmd: ['python', '-m', 'prefect.engine'],
      Env: ['EXTRA_PIP_PACKAGES=s3fs', 'PREFECT__FLOW_RUN_ID=0b3b3c3e00004000800000000000abcd'],
      Labels: {
        [DOCKER_FLOW_RUN_LABEL]: FLOW_RUN_ID,
        'io.prefect.flow-run-name': 'nightly-etl',
      },
      HostConfig: {
        AutoRemove: false,
        Privileged: false,
        // Prefect on Linux: the API may be on the host, so host.docker.internal must resolve
        ExtraHosts: ['host.docker.internal:host-gateway'],
      },
    });
    assert.deepEqual(request.pull, {
      policy: 'IF_NOT_PRESENT',
      fromImage: 'prefecthq/prefect',
      tag: 'dev-python3.9',
      auth: null,
    });
    assert.deepEqual(request.connect_networks, []);
    assert.equal(request.idempotency_key, 'prefect-0b3b3c3e00004000800000000000abcd');
  });

  it('defaults: the Prefect image, pulled if not present (2-latest is a tag, not latest)', async () => {
    const request = await build();
    assert.equal(request.create.body.Image, 'prefecthq/prefect:2-latest');
    assert.equal(request.pull.policy, 'IF_NOT_PRESENT');
    assert.equal(request.create.body.HostConfig.NetworkMode, undefined);
    assert.equal(request.create.body.HostConfig.Memory, undefined);
    assert.equal(request.create.body.NetworkingConfig, undefined);
  });

  it("pull policy: an explicit one wins; no tag or 'latest' → ALWAYS; a tag or digest → IF_NOT_PRESENT", async () => {
    const cases: [Record<string, unknown>, string, string, string][] = [
      [{ image: 'python' }, 'ALWAYS', 'python', 'latest'],
      [{ image: 'python:latest' }, 'ALWAYS', 'python', 'latest'],
      [{ image: 'python:3.11' }, 'IF_NOT_PRESENT', 'python', '3.11'],
      // a registry port is not a tag (Prefect splits on the first ':' and would call it one)
      [{ image: 'registry.local:5000/etl' }, 'ALWAYS', 'registry.local:5000/etl', 'latest'],
      [{ image: 'registry.local:5000/etl:1.2' }, 'IF_NOT_PRESENT', 'registry.local:5000/etl', '1.2'],
      [{ image: 'etl@sha256:abc123' }, 'IF_NOT_PRESENT', 'etl', 'sha256:abc123'],
      [{ image: 'python:latest', image_pull_policy: 'NEVER' }, 'NEVER', 'python', 'latest'],
      [{ image: 'python:3.11', image_pull_policy: 'ALWAYS' }, 'ALWAYS', 'python', '3.11'],
    ];
    for (const [fields, policy, fromImage, tag] of cases) {
      const { pull } = await build(fields);
      assert.deepEqual(
        [pull.policy, pull.fromImage, pull.tag],
        [policy, fromImage, tag],
        JSON.stringify(fields),
      );
    }
  });

  it("labels: Prefect's convert_labels_to_docker_format (a.b/c → b.a.c), the flow-run labels too", async () => {
    // Prefect: {"io.prefect/team": "prefect.io.team", "a.b.c/d/e": "c.b.a.d/e", "plain": "plain",
    //           "prefect.io/flow-run-id": "io.prefect.flow-run-id"}
    assert.equal(dockerLabelKey('io.prefect/team'), 'prefect.io.team');
    assert.equal(dockerLabelKey('a.b.c/d/e'), 'c.b.a.d/e');
    assert.equal(dockerLabelKey('plain'), 'plain');
    assert.equal(dockerLabelKey('prefect.io/flow-run-id'), 'io.prefect.flow-run-id');
    const { create } = await build({ labels: { 'io.prefect/team': 'data', plain: 'yes', n: 3 } });
    assert.deepEqual(create.body.Labels, {
      'prefect.io.team': 'data',
      plain: 'yes',
      n: '3',
      'io.prefect.flow-run-id': FLOW_RUN_ID,
      'io.prefect.flow-run-name': 'nightly-etl',
    });
  });

  it("container name: Prefect's slug of the block name (else the flow-run name) + the run suffix", async () => {
    const suffix = runSuffix(FLOW_RUN_ID);
    // Prefect: "My Flow Run!" → "My-Flow-Run", "__lead.dots" → "lead.dots", "café au lait" → "cafe-au-lait"
    const cases: [string | null, string | undefined, string][] = [
      ['My Flow Run!', 'nightly-etl', `My-Flow-Run-${suffix}`],
      ['__lead.dots', undefined, `lead.dots-${suffix}`],
      ['café au lait', undefined, `cafe-au-lait-${suffix}`],
      [null, 'Nightly ETL', `Nightly-ETL-${suffix}`],
      [null, undefined, `prefect-${suffix}`],
      ['!!!', undefined, `prefect-${suffix}`],
    ];
    for (const [name, flowRunName, expected] of cases) {
      const target = await targetOf('docker-container', { name }, { flow_run: { name: flowRunName } });
      const { create } = buildDockerRequest(target);
      assert.equal(create.name, expected);
      assert.match(create.name, DOCKER_NAME);
    }
    const long = await build({ name: 'x'.repeat(300) });
    assert.ok(long.create.name.length <= 213, `${long.create.name.length}`);
  });

  it('is deterministic per flow run: same run → same request; another run → another container name', async () => {
    const first = await build({ name: 'etl' });
    const again = await build({ name: 'etl' });
    const other = await build({ name: 'etl' }, { flow_run: { id: OTHER_FLOW_RUN_ID } });
    assert.deepEqual(first, again);
    assert.notEqual(first.create.name, other.create.name);
    assert.equal(other.create.body.Labels[DOCKER_FLOW_RUN_LABEL], OTHER_FLOW_RUN_ID);
  });

  it('network mode: host for a local PREFECT_API_URL, unset for a remote one; explicit and networks win', async () => {
    for (const url of ['http://localhost:4200/api', 'http://127.0.0.1:4200/api']) {
      const { create } = await build({ env: { PREFECT_API_URL: url } });
      assert.equal(create.body.HostConfig.NetworkMode, 'host', url);
      assert.deepEqual(create.body.HostConfig.ExtraHosts, ['host.docker.internal:host-gateway']);
    }
    const remote = await build({ env: { PREFECT_API_URL: 'https://api.prefect.cloud/api/accounts/a' } });
    assert.equal(remote.create.body.HostConfig.NetworkMode, undefined);
    assert.equal(remote.create.body.HostConfig.ExtraHosts, undefined, 'no host mapping for a remote API');
    const garbled = await build({ env: { PREFECT_API_URL: 'not a url' } });
    assert.equal(garbled.create.body.HostConfig.NetworkMode, undefined);

    const explicit = await build({
      network_mode: 'bridge',
      env: { PREFECT_API_URL: 'http://localhost:4200' },
    });
    assert.equal(explicit.create.body.HostConfig.NetworkMode, 'bridge');
    // Docker 20.10 answers 400 "conflicting options: custom host-to-IP mapping and the network mode"
    const shared = await build({ network_mode: 'container:sidecar' });
    assert.equal(shared.create.body.HostConfig.NetworkMode, 'container:sidecar');
    assert.equal(shared.create.body.HostConfig.ExtraHosts, undefined);

    const networks = await build({
      networks: ['flows', 'db', 'cache'],
      env: { PREFECT_API_URL: 'http://localhost' },
    });
    assert.equal(
      networks.create.body.HostConfig.NetworkMode,
      'flows',
      'docker-py: the first network is the mode',
    );
    assert.deepEqual(networks.create.body.NetworkingConfig, { EndpointsConfig: { flows: {} } });
    assert.deepEqual(networks.connect_networks, ['db', 'cache']);
  });

  it('volumes → Binds (and Volumes, as docker-py sends them); bad ones are refused with the index', async () => {
    const { create } = await build({ volumes: ['/srv/data:/data:ro', 'cache:/cache', '/tmp:/scratch:rw,z'] });
    assert.deepEqual(create.body.HostConfig.Binds, [
      '/srv/data:/data:ro',
      'cache:/cache',
      '/tmp:/scratch:rw,z',
    ]);
    assert.deepEqual(create.body.Volumes, { '/data': {}, '/cache': {}, '/scratch': {} });
    const target = await targetOf('docker-container', {
      volumes: ['/srv:/ok', '/srv:data', '/a:/b:rox', 'a:b:c:d'],
    });
    assertProblem(() => buildDockerRequest(target), 'infrastructure.volumes[1]', /must be absolute/);
    assertProblem(() => buildDockerRequest(target), 'infrastructure.volumes[2]', /unknown mode 'rox'/);
    assertProblem(() => buildDockerRequest(target), 'infrastructure.volumes[3]', /host_path:container_path/);
  });

  it('mem_limit / memswap_limit as bytes (docker-py parse_bytes); swap needs memory and must cover it', async () => {
    assert.equal(parseBytes('512m'), 536_870_912);
    assert.equal(parseBytes('2g'), 2_147_483_648);
    assert.equal(parseBytes('100K'), 102_400);
    assert.equal(parseBytes('4096'), 4096);
    assert.equal(parseBytes(1_000_000), 1_000_000);
    const { create } = await build({ mem_limit: '512m', memswap_limit: '1g' });
    assert.equal(create.body.HostConfig.Memory, 536_870_912);
    assert.equal(create.body.HostConfig.MemorySwap, 1_073_741_824);
    const swapOnly = await targetOf('docker-container', { memswap_limit: '1g' });
    assertProblem(() => buildDockerRequest(swapOnly), 'infrastructure.memswap_limit', /needs 'mem_limit'/);
    const less = await targetOf('docker-container', { mem_limit: '1g', memswap_limit: '512m' });
    assertProblem(() => buildDockerRequest(less), 'infrastructure.memswap_limit', /at least mem_limit/);
  });

  it('privileged and auto_remove are carried; the command is Cmd', async () => {
    const { create } = await build({
      privileged: true,
      auto_remove: true,
      command: ['prefect', 'flow-run', 'execute'],
    });
    assert.equal(create.body.HostConfig.Privileged, true);
    assert.equal(create.body.HostConfig.AutoRemove, true);
    assert.deepEqual(create.body.Cmd, ['prefect', 'flow-run', 'execute']);
  });

  it('registry credentials: who pulls is named, the password is not in the request at all', async () => {
    const request = await build({
      image: 'registry.example.com/etl:1',
      image_registry: { username: 'robot', password: 'hunter2-canary', registry_url: 'registry.example.com' },
    });
    assert.deepEqual(request.pull.auth, {
      serveraddress: 'registry.example.com',
      username: 'robot',
      reauth: true,
    });
    assert.equal(JSON.stringify(request).includes('hunter2-canary'), false);
  });

  it('env: null removes a block variable; the flow-run id cannot be overridden', async () => {
    const { create } = await build(
      { env: { KEEP: 'x', DROP: 'y' } },
      { infra_overrides: { 'env.DROP': null, 'env.PREFECT__FLOW_RUN_ID': 'spoofed' } },
    );
    assert.deepEqual(create.body.Env, ['KEEP=x', 'PREFECT__FLOW_RUN_ID=0b3b3c3e00004000800000000000abcd']);
  });

  it('watch defaults: poll every 2 s, 300 s to start', async () => {
    const { block } = await targetOf('docker-container');
    assert.deepEqual(dockerContainerSpec.watchDefaults(block), { pollSeconds: 2, startTimeoutSeconds: 300 });
  });

  it('the sample previews with the real CLI; the API key in env and the registry password never appear', async () => {
    const { code, stdout, stderr } = await previewCli(join(SAMPLES, 'docker-container.json'));
    assert.equal(code, 0, stderr);
    assert.doesNotMatch(stdout, /canary/);
    const shown = JSON.parse(stdout);
    assert.equal(shown.provider, 'docker-container');
    assert.match(shown.request.create.name, DOCKER_NAME);
    assert.ok(shown.request.create.body.Env.includes('PREFECT_API_KEY=**********'));
    assert.ok(
      shown.request.create.body.Env.includes('EXTRA_PIP_PACKAGES=s3fs'),
      'the sample override applied',
    );
    assert.equal(shown.request.pull.auth.username, 'robot');
  });
});
