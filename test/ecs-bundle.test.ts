// The deployed ECS function's bundle, built with the CDK app's esbuild settings, run from a
// folder without node_modules (as in Lambda) against moto: the deployment's network needs no
// EC2 SDK; without it, the lookup loads the SDK through NODE_PATH (where Lambda's runtime keeps
// its own AWS SDK) or, where there is none, fails saying what to configure.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { after, before, beforeEach, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { DescribeSecurityGroupsCommand, DescribeSubnetsCommand, EC2Client } from '@aws-sdk/client-ec2';
import { CreateClusterCommand, ECSClient, type RunTaskCommandInput } from '@aws-sdk/client-ecs';
import { build } from 'esbuild';
import { esbuildOptions, providerFunction } from '../infra-cdk/bundling.js';
import { ROOT, sample, tempDir } from './helpers.js';
import { type FaultProxy, startFaultProxy } from './support/fault-proxy.js';
import { type Moto, startMoto } from './support/moto.js';

const CLUSTER = 'submitter-bundle';
const EC2_LOOKUPS = /^Describe(Vpcs|Subnets|SecurityGroups)$/;
const spec = providerFunction('ecs-task');

let moto: Moto;
let proxy: FaultProxy;
let ecs: ECSClient;
let bundle: string;
let bundledInputs: string[];

before(async () => {
  const dir = await tempDir('submitter-ecs-bundle-');
  bundle = join(dir, 'index.mjs');
  const result = await build(esbuildOptions(ROOT, spec, bundle));
  const output = result.metafile.outputs[relative(ROOT, bundle).replace(/\\/g, '/')];
  bundledInputs = Object.keys(output?.inputs ?? {});
  moto = await startMoto();
  proxy = await startFaultProxy(moto.endpoint);
  ecs = new ECSClient(moto.clientConfig());
});
after(async () => {
  ecs.destroy();
  await proxy.close();
  await moto.stop();
});
beforeEach(async () => {
  await moto.reset();
  proxy.clear();
  await ecs.send(new CreateClusterCommand({ clusterName: CLUSTER }));
});

interface ProbeOutput {
  state?: { infra?: { identifier: string } };
  error?: { name: string; message: string };
}

/** Submits one flow run (a block naming no cluster and no network) with the bundled handler. */
async function submitWithBundle(env: Record<string, string>): Promise<ProbeOutput> {
  const dir = await tempDir();
  const event = await sample('ecs-task-moto.json');
  (event.flow_run as Record<string, unknown>).id = randomUUID();
  const block = event.infrastructure as Record<string, unknown>;
  block.cluster = null;
  const eventFile = join(dir, 'event.json');
  await writeFile(eventFile, JSON.stringify(event));
  const {
    NODE_PATH: _nodePath,
    ECS_CLUSTER: _c,
    ECS_SUBNETS: _s,
    ECS_SECURITY_GROUPS: _g,
    ...base
  } = process.env;
  const { stdout } = await promisify(execFile)(
    process.execPath,
    [join(ROOT, 'test', 'support', 'ecs-bundle-probe.mjs'), bundle, eventFile],
    {
      cwd: dir,
      env: {
        ...base,
        ...moto.env(),
        AWS_ENDPOINT_URL: proxy.endpoint,
        SUBMITTER_STORE: join(dir, 'store'),
        LOG_LEVEL: 'error',
        ...env,
      },
    },
  );
  return JSON.parse(stdout) as ProbeOutput;
}

const ec2Calls = () => proxy.calls.filter((call) => EC2_LOOKUPS.test(call.operation)).map((c) => c.operation);
const sentNetwork = () =>
  (proxy.callsOf('RunTask')[0]?.body as RunTaskCommandInput | undefined)?.networkConfiguration
    ?.awsvpcConfiguration;

describe('the ECS function bundle', () => {
  it('leaves the EC2 SDK out, and keeps the ECS and CloudWatch Logs SDKs in', () => {
    assert.deepEqual(spec.external, ['@aws-sdk/client-ec2']);
    assert.deepEqual(
      bundledInputs.filter((input) => input.includes('node_modules/@aws-sdk/client-ec2/')),
      [],
    );
    assert.ok(bundledInputs.some((input) => input.includes('node_modules/@aws-sdk/client-ecs/')));
    assert.ok(bundledInputs.some((input) => input.includes('node_modules/@aws-sdk/client-cloudwatch-logs/')));
  });

  it("runs a block without cluster or network on the deployment's ECS_* defaults, with no EC2 call", async () => {
    const clusterArn = `arn:aws:ecs:us-east-1:123456789012:cluster/${CLUSTER}`;
    // moto checks that subnets exist: take two of its default VPC's (the probe does not look them up)
    const ec2 = new EC2Client(moto.clientConfig());
    const subnets = ((await ec2.send(new DescribeSubnetsCommand({}))).Subnets ?? [])
      .map((subnet) => subnet.SubnetId ?? '')
      .slice(0, 2);
    const group = (await ec2.send(new DescribeSecurityGroupsCommand({}))).SecurityGroups?.[0]?.GroupId ?? '';
    ec2.destroy();
    assert.equal(subnets.length, 2);
    const out = await submitWithBundle({
      ECS_CLUSTER: clusterArn,
      ECS_SUBNETS: subnets.join(','),
      ECS_SECURITY_GROUPS: group,
    });
    assert.equal(out.error, undefined, out.error?.message);
    assert.match(out.state?.infra?.identifier ?? '', new RegExp(`^${clusterArn}::arn:aws:ecs:`));
    assert.deepEqual(ec2Calls(), []);
    assert.deepEqual(sentNetwork(), { subnets, securityGroups: [group], assignPublicIp: 'DISABLED' });
  });

  it("without them, looks the default VPC up with the EC2 SDK found through NODE_PATH (as Lambda's runtime SDK is)", async () => {
    const out = await submitWithBundle({
      ECS_CLUSTER: CLUSTER,
      NODE_PATH: join(ROOT, 'node_modules'),
    });
    assert.equal(out.error, undefined, out.error?.message);
    assert.deepEqual(ec2Calls(), ['DescribeVpcs', 'DescribeSubnets', 'DescribeSecurityGroups']);
    const network = sentNetwork();
    assert.ok(network?.subnets?.length, 'subnets of the default VPC');
    assert.equal(network?.securityGroups?.length, 1);
    assert.equal(network?.assignPublicIp, 'ENABLED');
  });

  it('without them and without an EC2 SDK to load, fails at once saying what to configure', async () => {
    const out = await submitWithBundle({ ECS_CLUSTER: CLUSTER });
    assert.equal(out.error?.name, 'ProviderPermanentError');
    assert.match(out.error?.message ?? '', /@aws-sdk\/client-ec2 cannot be loaded here/);
    assert.match(out.error?.message ?? '', /'network_configuration\.subnets'/);
    assert.match(out.error?.message ?? '', /ecs\.subnetIds and ecs\.securityGroupIds/);
    assert.deepEqual(ec2Calls(), []);
    assert.equal(proxy.callsOf('RunTask').length, 0);
  });
});
