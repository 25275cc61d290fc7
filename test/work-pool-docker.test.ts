// The Prefect 3 `docker` work pool: prefect3/templates/docker.json rendered with job variables →
// workPool.toBlock → parseBlock → the docker-container build. Expected create bodies are what
// Prefect's docker worker sends for the same job configuration: worker.py
// (_build_container_settings → docker_client.containers.create) at PrefectHQ/prefect ce79dd3,
// through docker-py's models/containers.py (_create_container_args), types/containers.py
// (ContainerConfig, HostConfig) and utils/utils.py (parse_bytes, split_command,
// format_extra_hosts) at docker/docker-py afc6d1e.
//
// What the worker adds that has no job-configuration source is left out of the comparison:
// its attribution env (PREFECT__WORKER_NAME, PREFECT__FLOW_ID…) and the version, work-pool,
// worker and deployment labels; the submitter has no worker, and the flow run's own env and
// labels (id, name) are compared.
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, it } from 'node:test';
import { InvalidInputError, ProviderPermanentError } from '../core/errors.js';
import { maskRequest, REDACTED, redact } from '../core/secrets.js';
import { FolderStore } from '../core/store.js';
import { FlowRunSchema } from '../events/schema.js';
import { renderJobConfiguration } from '../prefect3/render.js';
import { defaultTemplate } from '../prefect3/work-pool.js';
import { BlockStore } from '../providers/block-store.js';
import { parseBlock } from '../providers/blocks.js';
import type { DockerContainerBlock } from '../providers/docker-container/block.js';
import { buildDockerRequest, type DockerCreateBody } from '../providers/docker-container/build.js';
import { createDockerContainerProvider } from '../providers/docker-container/index.js';
import { dockerPyBytes, workPool } from '../providers/docker-container/work-pool.js';
import { runSuffix } from '../providers/naming.js';
import { invalidInput, problemMap, tempDir } from './helpers.js';
import { FLOW_RUN_ID } from './support/build.js';
import { poolBlock } from './support/pools.js';

const POOL = 'work_pool(docker)';
const CONFIG_PATH = `${POOL}.job_configuration`;
const flowRun = FlowRunSchema.parse({ id: FLOW_RUN_ID, name: 'nightly-etl' });

async function emptyBlocks(): Promise<BlockStore> {
  return new BlockStore(new FolderStore(await tempDir()));
}

async function dockerTemplate(): Promise<Record<string, unknown>> {
  return defaultTemplate('docker', 'work_pool');
}

/** Render → adapter → parseBlock, as the Prefect 3 path runs them. */
async function blockFor(
  jobVariables: Record<string, unknown>,
  options: { blocks?: BlockStore; template?: Record<string, unknown> } = {},
): Promise<DockerContainerBlock> {
  const pool = {
    name: 'docker',
    type: 'docker',
    base_job_template: options.template ?? (await dockerTemplate()),
  };
  const block = await poolBlock(options.blocks ?? (await emptyBlocks()), pool, jobVariables, flowRun);
  assert.ok(block.type === 'docker-container');
  return block;
}

const build = (block: DockerContainerBlock) => buildDockerRequest({ block, flowRun });

/** A template whose job configuration also reads `container_create_kwargs` (a field of the worker's configuration). */
async function templateWithKwargs(): Promise<Record<string, unknown>> {
  const template = await dockerTemplate();
  const config = template.job_configuration as Record<string, unknown>;
  config.container_create_kwargs = '{{ container_create_kwargs }}';
  return template;
}

/**
 * A template whose job configuration takes the credentials from a stored block, as a pool's base
 * job template names a DockerRegistryCredentials block.
 */
async function templateWithRegistry(slug: string): Promise<Record<string, unknown>> {
  const template = await dockerTemplate();
  const config = template.job_configuration as Record<string, unknown>;
  config.registry_credentials = `{{ prefect.blocks.docker-registry-credentials.${slug} }}`;
  return template;
}

/** The worker's env and labels for this flow run: `_base_flow_run_environment` and `_base_flow_run_labels`. */
const WORKER_FLOW_RUN_LABELS = {
  // Prefect's _convert_labels_to_docker_format of prefect.io/flow-run-id and prefect.io/flow-run-name
  'io.prefect.flow-run-id': FLOW_RUN_ID,
  'io.prefect.flow-run-name': 'nightly-etl',
};

/**
 * A create body as the Engine reads it, for comparing ours with docker-py's: docker-py's
 * `containers.create` always sends its attach flags (AttachStdout/AttachStderr true for a run
 * that is not detached: they matter only to a client attaching, which neither does), false
 * booleans and `NetworkMode: "default"` (the Engine's defaults when absent), and Env in the order
 * of its dict; the Engine reads Env as a set of assignments. PREFECT__FLOW_RUN_ID is set apart:
 * the worker writes the id with dashes, the submitter (as Prefect 2) as hex; both parse to the
 * same UUID.
 */
function asEngineReads(body: Record<string, unknown>): Record<string, unknown> {
  const drop = new Set(['AttachStdin', 'AttachStdout', 'AttachStderr', 'StdinOnce']);
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(body)) {
    if (drop.has(key) || value === false || value === null) continue;
    if (key === 'Env' && Array.isArray(value)) {
      out.Env = value.filter((e) => !String(e).startsWith('PREFECT__FLOW_RUN_ID=')).sort();
      const id = value.find((e) => String(e).startsWith('PREFECT__FLOW_RUN_ID='));
      out.flowRunId = String(id).split('=')[1]?.replaceAll('-', '');
    } else if (key === 'HostConfig' && typeof value === 'object') {
      const host: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
        if (v === false || v === null || (k === 'NetworkMode' && v === 'default')) continue;
        host[k] = v;
      }
      out.HostConfig = host;
    } else out[key] = value;
  }
  return out;
}

const asSent = (body: DockerCreateBody) => asEngineReads({ ...body });

function problemsOf(fn: () => unknown): Map<string, string> {
  try {
    fn();
  } catch (error) {
    assert.ok(error instanceof InvalidInputError, String(error));
    return new Map(error.problems.map((p) => [p.path, p.message]));
  }
  assert.fail('expected an InvalidInputError');
}

async function rejects(promise: Promise<unknown>): Promise<Map<string, string>> {
  return problemMap(await invalidInput(promise));
}

describe('Prefect 3 docker work pool → docker-container', () => {
  it('typical job variables: the create body docker-py sends for the worker, the pull it makes', async () => {
    const blocks = await emptyBlocks();
    await blocks.put('docker-registry-credentials/prod', {
      type: 'docker-registry-credentials',
      username: 'robot',
      password: 'hunter2-canary-pw',
      registry_url: 'registry.example.com',
      reauth: false,
    });
    const block = await blockFor(
      {
        image: 'registry.example.com/team/etl:1.4',
        command: `python -m etl --since '2024-01-01 00:00' --dry-run`,
        env: { PREFECT_API_URL: 'https://api.prefect.cloud/api/accounts/a/workspaces/w', TEAM: 'data' },
        labels: { 'example.com/team': 'data', plain: 'yes' },
        name: 'ETL run #1',
        image_pull_policy: 'Always',
        network_mode: 'bridge',
        auto_remove: true,
        volumes: ['/srv/data:/data:ro', 'cache:/cache', ' /scratch '],
        mem_limit: '1.5g',
        memswap_limit: '3g',
        privileged: true,
        stream_output: false,
      },
      { blocks, template: await templateWithRegistry('prod') },
    );
    const request = build(block);
    // docker-py: ContainerConfig + HostConfig for containers.create(image=…, command=…, …)
    const dockerPy = {
      Hostname: null,
      Domainname: null,
      User: null,
      Tty: false,
      OpenStdin: false,
      StdinOnce: false,
      AttachStdin: false,
      AttachStdout: true,
      AttachStderr: true,
      // format_environment of {**flow-run env, **job env}
      Env: [
        `PREFECT__FLOW_RUN_ID=${FLOW_RUN_ID}`,
        'PREFECT_API_URL=https://api.prefect.cloud/api/accounts/a/workspaces/w',
        'TEAM=data',
      ],
      // split_command = shlex.split
      Cmd: ['python', '-m', 'etl', '--since', '2024-01-01 00:00', '--dry-run'],
      Image: 'registry.example.com/team/etl:1.4',
      // _host_volume_from_bind of each entry (VolumeStr strips ' /scratch ')
      Volumes: { '/data': {}, '/cache': {}, '/scratch': {} },
      NetworkDisabled: false,
      Labels: { ...WORKER_FLOW_RUN_LABELS, 'com.example.team': 'data', plain: 'yes' },
      HostConfig: {
        // parse_bytes('1.5g') = int(1.5 * 1024**3), parse_bytes('3g')
        Memory: 1_610_612_736,
        MemorySwap: 3_221_225_472,
        Privileged: true,
        ReadonlyRootfs: null,
        NetworkMode: 'bridge',
        Binds: ['/srv/data:/data:ro', 'cache:/cache', '/scratch'],
        AutoRemove: true,
        // get_extra_hosts: PREFECT_API_URL is set and not local → None → no ExtraHosts
      },
    };
    assert.deepEqual(asSent(request.create.body), asEngineReads(dockerPy));
    // the container name: _slugify_container_name('ETL run #1') = 'ETL-run-1', + the run suffix
    assert.equal(request.create.name, `ETL-run-1-${runSuffix(FLOW_RUN_ID)}`);
    // Always: login with the credentials, then api.pull(image, tag) (parse_image_tag)
    assert.deepEqual(request.pull, {
      policy: 'ALWAYS',
      fromImage: 'registry.example.com/team/etl',
      tag: '1.4',
      auth: { serveraddress: 'registry.example.com', username: 'robot', reauth: false },
    });
    assert.equal(block.stream_output, false);
    assert.deepEqual(request.connect_networks, []);
  });

  it('the default template with no job variables renders and builds: the Prefect 3 image and command', async () => {
    const block = await blockFor({});
    const request = build(block);
    // DockerWorkerJobConfiguration defaults: get_prefect_image_name() (here the moving 3 tag),
    // command "prefect flow-run execute", no volumes, auto_remove / privileged False, no memory
    const dockerPy = {
      Image: 'prefecthq/prefect:3-latest',
      Cmd: ['prefect', 'flow-run', 'execute'],
      Env: [`PREFECT__FLOW_RUN_ID=${FLOW_RUN_ID}`],
      Labels: WORKER_FLOW_RUN_LABELS,
      Tty: false,
      AttachStdout: true,
      AttachStderr: true,
      HostConfig: {
        NetworkMode: 'default',
        AutoRemove: false,
        Privileged: false,
        // get_extra_hosts on Linux with no PREFECT_API_URL in env: format_extra_hosts({...})
        ExtraHosts: ['host.docker.internal:host-gateway'],
      },
    };
    assert.deepEqual(asSent(request.create.body), asEngineReads(dockerPy));
    // the worker's name: flow_run.name when the configuration has none
    assert.equal(request.create.name, `nightly-etl-${runSuffix(FLOW_RUN_ID)}`);
    // _determine_image_pull_policy: a tag other than latest → IfNotPresent
    assert.equal(request.pull.policy, 'IF_NOT_PRESENT');
    assert.equal(block.stream_output, true);
  });

  it('memswap_limit "-1": unlimited swap, MemorySwap -1 (parse_bytes("-1")), with or without mem_limit', async () => {
    const withMemory = build(await blockFor({ mem_limit: '512m', memswap_limit: '-1' }));
    assert.equal(withMemory.create.body.HostConfig.Memory, 536_870_912);
    assert.equal(withMemory.create.body.HostConfig.MemorySwap, -1);
    const alone = build(await blockFor({ memswap_limit: '-1' }));
    assert.equal(alone.create.body.HostConfig.Memory, undefined);
    assert.equal(alone.create.body.HostConfig.MemorySwap, -1);
  });

  it("mem_limit is read as docker-py's parse_bytes reads it; what it refuses is named", async () => {
    // parse_bytes: '100kb' → 102400, '2G' → 2147483648, '4096' → 4096, '1.5m' → 1572864
    assert.equal(dockerPyBytes('100kb'), 102_400);
    assert.equal(dockerPyBytes('2G'), 2_147_483_648);
    assert.equal(dockerPyBytes('4096'), 4096);
    assert.equal(dockerPyBytes('1.5m'), 1_572_864);
    assert.equal(dockerPyBytes('12x'), undefined);
    assert.equal(build(await blockFor({ mem_limit: '100kb' })).create.body.HostConfig.Memory, 102_400);
    const config = await renderJobConfiguration(
      await dockerTemplate(),
      { mem_limit: 'lots' },
      { blocks: await emptyBlocks(), path: POOL },
    );
    const problems = problemsOf(() => workPool.toBlock(config, { flowRun, path: CONFIG_PATH }));
    assert.match(problems.get(`${CONFIG_PATH}.mem_limit`) ?? '', /cannot read "lots" as a size/);
  });

  it('anonymous volume: a container path alone is in Binds and Volumes, as docker-py sends it', async () => {
    const request = build(await blockFor({ volumes: ['/srv:/srv', '/cache'] }));
    // _create_container_args: binds = volumes; volumes = [_host_volume_from_bind(v)] → '/cache'
    assert.deepEqual(request.create.body.HostConfig.Binds, ['/srv:/srv', '/cache']);
    assert.deepEqual(request.create.body.Volumes, { '/srv': {}, '/cache': {} });
    // a Prefect 2 block still refuses it in `volumes` (its own field is anonymous_volumes)
    assert.throws(() => parseBlock({ type: 'docker-container', volumes: ['/cache'] }), InvalidInputError);
  });

  it("volumes Prefect's VolumeStr refuses are refused, each by index", async () => {
    const config = await renderJobConfiguration(
      await dockerTemplate(),
      { volumes: ['/ok:/ok', '/a:/b:z', 'named/bad:/x', '/host:relative', 'nocolon'] },
      { blocks: await emptyBlocks(), path: POOL },
    );
    const problems = problemsOf(() => workPool.toBlock(config, { flowRun, path: CONFIG_PATH }));
    assert.equal(problems.has(`${CONFIG_PATH}.volumes[0]`), false);
    assert.match(problems.get(`${CONFIG_PATH}.volumes[1]`) ?? '', /'z' must be 'ro' or 'rw'/);
    assert.match(problems.get(`${CONFIG_PATH}.volumes[2]`) ?? '', /not a volume name/);
    assert.match(problems.get(`${CONFIG_PATH}.volumes[3]`) ?? '', /must be absolute/);
    assert.match(problems.get(`${CONFIG_PATH}.volumes[4]`) ?? '', /is not a volume/);
  });

  it('image_pull_policy: each Prefect 3 policy; IfPossible pulls first (_should_pull_image → True)', async () => {
    const cases: [string, string][] = [
      ['IfNotPresent', 'IF_NOT_PRESENT'],
      ['Always', 'ALWAYS'],
      ['Never', 'NEVER'],
      ['IfPossible', 'IF_POSSIBLE'],
    ];
    for (const [prefect, ours] of cases) {
      const request = build(await blockFor({ image: 'python:3.12', image_pull_policy: prefect }));
      assert.equal(request.pull.policy, ours, prefect);
    }
    // none given: _determine_image_pull_policy → 'latest' or no tag: Always
    assert.equal(build(await blockFor({ image: 'python' })).pull.policy, 'ALWAYS');
    assert.equal(build(await blockFor({ image: 'python:latest' })).pull.policy, 'ALWAYS');
  });

  it('a bad job variable is refused naming job_variables.<var>', async () => {
    const problems = await rejects(
      blockFor({ image_pull_policy: 'Sometimes', privileged: 'yes', volumes: '/a:/b', memswap_limit: -1 }),
    );
    assert.match(problems.get('job_variables.image_pull_policy') ?? '', /IfNotPresent/);
    assert.match(problems.get('job_variables.privileged') ?? '', /boolean/);
    assert.match(problems.get('job_variables.volumes') ?? '', /array/);
    assert.match(problems.get('job_variables.memswap_limit') ?? '', /string/);
  });

  it('a job configuration field the worker has no use for is refused by name', async () => {
    const template = await dockerTemplate();
    (template.job_configuration as Record<string, unknown>).ports = { '8080/tcp': 8080 };
    const problems = await rejects(blockFor({}, { template }));
    assert.match(problems.get(`${CONFIG_PATH}.ports`) ?? '', /does not act on 'ports'/);
  });

  it('networks: the first is the network mode and the one endpoint at create, the rest connected after', async () => {
    const request = build(await blockFor({ networks: ['flows', 'db'] }));
    // _create_container_args(network='flows'): host_config network_mode = 'flows'; the worker
    // then calls networks.get('db').connect(container)
    assert.equal(request.create.body.HostConfig.NetworkMode, 'flows');
    assert.deepEqual(request.connect_networks, ['db']);
    const both = await rejects(blockFor({ networks: ['flows'], network_mode: 'host' }));
    assert.match(both.get(`${CONFIG_PATH}.network_mode`) ?? '', /one or the other/);
  });

  it('container_create_kwargs: the mapped docker-py arguments land where docker-py puts them', async () => {
    const block = await blockFor(
      {
        env: { PREFECT_API_URL: 'http://localhost:4200/api' },
        network_mode: 'bridge',
        container_create_kwargs: {
          user: 1000,
          working_dir: '/work',
          entrypoint: '/bin/sh -c',
          hostname: 'etl',
          stop_signal: 'SIGINT',
          cap_add: ['SYS_PTRACE'],
          cap_drop: [],
          nano_cpus: 1_500_000_000,
          cpu_shares: 512,
          shm_size: '1g',
          mem_reservation: '256m',
          dns: ['10.0.0.2'],
          group_add: [100, 'video'],
          init: true,
          read_only: true,
          security_opt: ['no-new-privileges'],
          sysctls: { 'net.core.somaxconn': 1024 },
          tmpfs: ['/run:size=64m', '/tmp'],
          ulimits: [{ name: 'nofile', soft: 1024, hard: 2048 }],
          devices: ['/dev/fuse', '/dev/sda:/dev/xvda:r'],
          device_requests: [{ count: -1, capabilities: [['gpu']] }],
          extra_hosts: { 'db.internal': '10.0.0.5' },
        },
      },
      { template: await templateWithKwargs() },
    );
    const { body } = build(block).create;
    // ContainerConfig: User str(user); Entrypoint split_command; WorkingDir, Hostname, StopSignal
    assert.equal(body.User, '1000');
    assert.equal(body.WorkingDir, '/work');
    assert.deepEqual(body.Entrypoint, ['/bin/sh', '-c']);
    assert.equal(body.Hostname, 'etl');
    assert.equal(body.StopSignal, 'SIGINT');
    const host = body.HostConfig;
    assert.deepEqual(host.CapAdd, ['SYS_PTRACE']);
    assert.equal(host.CapDrop, undefined, 'HostConfig sets CapDrop only when truthy');
    assert.equal(host.NanoCpus, 1_500_000_000);
    assert.equal(host.CpuShares, 512);
    assert.equal(host.ShmSize, 1_073_741_824);
    assert.equal(host.MemoryReservation, 268_435_456);
    assert.deepEqual(host.Dns, ['10.0.0.2']);
    assert.deepEqual(host.GroupAdd, ['100', 'video']);
    assert.equal(host.Init, true);
    assert.equal(host.ReadonlyRootfs, true);
    assert.deepEqual(host.SecurityOpt, ['no-new-privileges']);
    assert.deepEqual(host.Sysctls, { 'net.core.somaxconn': '1024' });
    // convert_tmpfs_mounts
    assert.deepEqual(host.Tmpfs, { '/run': 'size=64m', '/tmp': '' });
    assert.deepEqual(host.Ulimits, [{ Name: 'nofile', Soft: 1024, Hard: 2048 }]);
    // parse_devices
    assert.deepEqual(host.Devices, [
      { PathOnHost: '/dev/fuse', PathInContainer: '/dev/fuse', CgroupPermissions: 'rwm' },
      { PathOnHost: '/dev/sda', PathInContainer: '/dev/xvda', CgroupPermissions: 'r' },
    ]);
    // DeviceRequest: driver '', device_ids [], options {} filled in
    assert.deepEqual(host.DeviceRequests, [
      { Driver: '', Count: -1, DeviceIDs: [], Capabilities: [['gpu']], Options: {} },
    ]);
    // _build_container_settings: the user's hosts merged over get_extra_hosts' mapping (the API is
    // local), then format_extra_hosts sorts by host
    assert.deepEqual(host.ExtraHosts, ['db.internal:10.0.0.5', 'host.docker.internal:host-gateway']);
    assert.equal(host.NetworkMode, 'bridge');
  });

  it('container_create_kwargs: extra_hosts as given when the worker adds none (a remote API)', async () => {
    const block = await blockFor(
      {
        env: { PREFECT_API_URL: 'https://api.prefect.cloud/api' },
        container_create_kwargs: { extra_hosts: ['b.internal:10.0.0.2', 'a.internal:10.0.0.1'] },
      },
      { template: await templateWithKwargs() },
    );
    assert.deepEqual(build(block).create.body.HostConfig.ExtraHosts, [
      'b.internal:10.0.0.2',
      'a.internal:10.0.0.1',
    ]);
  });

  it('container_create_kwargs: worker fields, colliding and unmapped arguments are refused by name', async () => {
    const problems = await rejects(
      blockFor(
        {
          container_create_kwargs: {
            image: 'x',
            volumes: ['/a:/b'],
            environment: { A: '1' },
            network: 'flows',
            ports: { '8080/tcp': 8080 },
            restart_policy: { Name: 'always' },
            shm_size: 'huge',
          },
        },
        { template: await templateWithKwargs() },
      ),
    );
    const at = `${CONFIG_PATH}.container_create_kwargs`;
    assert.match(problems.get(`${at}.image`) ?? '', /ignores 'image' here.*job variable 'image'/);
    assert.match(problems.get(`${at}.volumes`) ?? '', /ignores 'volumes'/);
    assert.match(problems.get(`${at}.environment`) ?? '', /job variable 'env'/);
    assert.match(problems.get(`${at}.network`) ?? '', /job variable 'networks'/);
    assert.match(problems.get(`${at}.ports`) ?? '', /does not map the docker-py argument 'ports'/);
    assert.match(problems.get(`${at}.restart_policy`) ?? '', /does not map/);
    assert.match(problems.get(`${at}.shm_size`) ?? '', /cannot read "huge"/);
    // a mapped argument of the wrong type is named by the block schema, under the same path
    const typed = await rejects(
      blockFor(
        { container_create_kwargs: { cap_add: 'SYS_ADMIN' } },
        { template: await templateWithKwargs() },
      ),
    );
    assert.ok(
      [...typed.keys()].some((p) => p.startsWith(`${at}.cap_add`)),
      [...typed.keys()].join(),
    );
  });

  it('registry credentials: bad ones are named without showing the password', async () => {
    const template = await dockerTemplate();
    (template.job_configuration as Record<string, unknown>).registry_credentials = {
      username: 'robot',
      password: 'hunter2-canary-pw',
      registry: 'typo',
    };
    const config = await renderJobConfiguration(template, {}, { blocks: await emptyBlocks(), path: POOL });
    const problems = problemsOf(() => workPool.toBlock(config, { flowRun, path: CONFIG_PATH }));
    const at = `${CONFIG_PATH}.registry_credentials`;
    assert.match(problems.get(`${at}.registry`) ?? '', /not a DockerRegistryCredentials field/);
    assert.match(problems.get(`${at}.registry_url`) ?? '', /required/);
    assert.doesNotMatch(JSON.stringify([...problems]), /canary/);
  });

  it('a registry password is redacted in the preview (maskRequest, as `submitter preview` prints)', async () => {
    const blocks = await emptyBlocks();
    await blocks.put('docker-registry-credentials/prod', {
      type: 'docker-registry-credentials',
      username: 'robot',
      password: 'hunter2-canary-pw',
      registry_url: 'registry.example.com',
    });
    const block = await blockFor(
      {
        image: 'registry.example.com/etl:1',
        env: { PREFECT_API_KEY: 'pnu_canarykey123456' },
      },
      { blocks, template: await templateWithRegistry('prod') },
    );
    assert.equal(block.image_registry?.password, 'hunter2-canary-pw', 'the block keeps it for the pull');
    const preview = maskRequest(block, (b) => buildDockerRequest({ block: b, flowRun }));
    assert.doesNotMatch(JSON.stringify(preview), /canary/);
    assert.ok(preview.create.body.Env.includes(`PREFECT_API_KEY=${REDACTED}`));
    assert.equal(preview.pull.auth?.username, 'robot');
    // the block as `blocks show` prints it
    assert.equal(redact(block).image_registry?.password, REDACTED);
  });
});

/**
 * A Docker Engine that answers only what a submit asks before the container exists: no container
 * under the name, the pull (ok, or a failure in its progress stream), whether the image is there;
 * and refuses the create, which ends the submit. It records the calls.
 */
async function fakeEngine(answers: { pullFails: boolean; imagePresent: boolean }) {
  const calls: string[] = [];
  const server = createServer((req, res) => {
    const path = (req.url ?? '').replace(/^\/v[\d.]+/, '').split('?')[0] ?? '';
    const call = `${req.method} ${path}`;
    calls.push(call);
    const send = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(typeof body === 'string' ? body : JSON.stringify(body));
    };
    req.resume();
    req.on('end', () => {
      if (/^GET \/containers\/[^/]+\/json$/.test(call)) return send(404, { message: 'No such container' });
      if (call === 'POST /images/create')
        return send(
          200,
          answers.pullFails
            ? `${JSON.stringify({ status: 'Pulling' })}\n${JSON.stringify({ error: 'manifest unknown' })}\n`
            : `${JSON.stringify({ status: 'Downloaded newer image' })}\n`,
        );
      if (/^GET \/images\/.+\/json$/.test(call)) return answers.imagePresent ? send(200, {}) : send(404, {});
      if (call === 'POST /containers/create')
        return send(400, { message: 'fake engine: no containers here' });
      return send(501, { message: `fake engine: ${call}` });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    calls,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
    provider: createDockerContainerProvider({
      connection: async () => ({
        endpoint: { kind: 'tcp', host: '127.0.0.1', port, label: `tcp://127.0.0.1:${port}` },
      }),
      retry: { attempts: 1 },
    }),
  };
}

describe('IfPossible at submit (worker.py _create_and_start_container)', () => {
  async function submitWith(answers: { pullFails: boolean; imagePresent: boolean }) {
    const engine = await fakeEngine(answers);
    try {
      const block = await blockFor({ image: 'registry.example.com/etl:1', image_pull_policy: 'IfPossible' });
      const error = await engine.provider
        .submit({ block, flowRun }, { store: new FolderStore(await tempDir()) })
        .then(
          () => assert.fail('the fake engine refuses every create'),
          (e: unknown) => e,
        );
      assert.ok(error instanceof ProviderPermanentError, String(error));
      return { calls: engine.calls.filter((c) => !c.startsWith('GET /containers/')), error };
    } finally {
      await engine.close();
    }
  }

  it('pulls first even when the image is there (_should_pull_image: IF_POSSIBLE → True)', async () => {
    const { calls, error } = await submitWith({ pullFails: false, imagePresent: true });
    assert.deepEqual(calls, ['POST /images/create', 'POST /containers/create']);
    assert.match(error.message, /no containers here/);
  });

  it("a failed pull goes on with the engine's copy (docker_client.images.get)", async () => {
    const { calls } = await submitWith({ pullFails: true, imagePresent: true });
    assert.deepEqual(calls, [
      'POST /images/create',
      'GET /images/registry.example.com/etl:1/json',
      'POST /containers/create',
    ]);
  });

  it('a failed pull and no copy: refused naming both failures, nothing created', async () => {
    const { calls, error } = await submitWith({ pullFails: true, imagePresent: false });
    assert.deepEqual(calls, ['POST /images/create', 'GET /images/registry.example.com/etl:1/json']);
    assert.match(error.message, /could not be pulled .*manifest unknown.*not on the engine either/);
  });
});
