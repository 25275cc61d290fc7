// A Prefect 3 `prefect.yaml` deployment on an ECS work pool, end to end against moto server:
// the pool's default base job template (Prefect ce79dd3) rendered with the deployment's job
// variables, translated by the ECS adapter, run by the real workflow (ASL interpreter) with
// real SDK clients; what went over the wire is what `preview` printed.
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { CreateClusterCommand, ECSClient, type RunTaskCommandInput } from '@aws-sdk/client-ecs';
import { parse as parseYaml } from 'yaml';
import { main } from '../cli/main.js';
import { projectDeploymentToEvent, readProject, selectDeployment } from '../events/prefect-yaml.js';
import { accept } from '../functions/lib/intake.js';
import { startExecution } from '../functions/local/runner.js';
import { WorkPoolStore } from '../prefect3/work-pool.js';
import type { EcsRequest } from '../providers/ecs-task/build.js';
import { createEcsTaskProvider } from '../providers/ecs-task/index.js';
import type { Provider } from '../providers/port.js';
import { tempDir, testDeps } from './helpers.js';
import { type FaultProxy, startFaultProxy } from './support/fault-proxy.js';
import { type Moto, startMoto } from './support/moto.js';

const CLUSTER = 'submitter-moto-p3';
const FLOW_RUN_ID = '6f1c2d3e-4b5a-4c6d-8e7f-0000000ec503';

const PREFECT_YAML = `
name: hello
prefect-version: 3.1.12
definitions:
  ecs: &ecs
    name: ecs-moto
    job_variables:
      image: prefecthq/prefect:3-python3.12
      cluster: ${CLUSTER}
      cpu: 512
      memory: null
      execution_role_arn: arn:aws:iam::123456789012:role/ecsTaskExecutionRole
      configure_cloudwatch_logs: true
      task_watch_poll_interval: 1
      env:
        GREETING: hi
deployments:
  - name: hello-ecs
    entrypoint: flows/hello.py:hello
    parameters: { name: world }
    schedules: [{ cron: "0 * * * *" }]
    work_pool: *ecs
`;

let moto: Moto;
let proxy: FaultProxy;
let ecs: ECSClient;

before(async () => {
  moto = await startMoto();
  Object.assign(process.env, moto.env());
  proxy = await startFaultProxy(moto.endpoint);
  ecs = new ECSClient(moto.clientConfig());
  await moto.setTransition('ecs::task', { progression: 'manual', times: 1 });
  await ecs.send(new CreateClusterCommand({ clusterName: CLUSTER }));
});
after(async () => {
  ecs.destroy();
  await proxy.close();
  await moto.stop();
});

describe('a prefect.yaml deployment on an ECS work pool, on moto', () => {
  it('previews, then runs to Completed sending exactly what preview printed', async () => {
    const dir = await tempDir();
    const file = join(dir, 'prefect.yaml');
    await writeFile(file, PREFECT_YAML);
    const blocks = join(dir, 'blocks');
    const { deps: base, reports } = await testDeps({
      blocks,
      loadProvider: async () =>
        createEcsTaskProvider({
          clientConfig: { endpoint: proxy.endpoint },
          retry: { baseMs: 1, capMs: 5 },
        }) as unknown as Provider,
    });
    await new WorkPoolStore(base.blocks.store).put('ecs-moto', { type: 'ecs' });

    let out = '';
    let err = '';
    const code = await main(
      ['preview', file, '--deployment', 'hello-ecs', '--flow-run-id', FLOW_RUN_ID, '--blocks', blocks],
      {
        out: (t) => (out += `${t}\n`),
        err: (t) => (err += `${t}\n`),
      },
    );
    assert.equal(code, 0, err);
    const { provider, request } = JSON.parse(out) as { provider: string; request: EcsRequest };
    assert.equal(provider, 'ecs-task');
    assert.ok(request.taskDefinition, 'the block names no task definition ARN: one is registered');
    const container = request.taskDefinition.containerDefinitions?.[0];
    assert.equal(container?.image, 'prefecthq/prefect:3-python3.12');
    assert.equal(request.taskDefinition.cpu, '512');
    // as Prefect's worker sends them: command and env in the run's container override
    const override = request.runTask.overrides?.containerOverrides?.[0];
    assert.equal(override?.name, container?.name);
    // Prefect 3's worker command, not Prefect 2's engine module
    assert.deepEqual(override?.command, ['prefect', 'flow-run', 'execute']);
    assert.ok(override?.environment?.some((e) => e.name === 'GREETING' && e.value === 'hi'));

    const project = readProject(parseYaml(PREFECT_YAML) as Record<string, unknown>);
    const { event } = projectDeploymentToEvent(selectDeployment(project, 'hello-ecs'), {
      id: FLOW_RUN_ID,
    });
    const accepted = await accept(base, { kind: 'flow-run-event', event });
    assert.equal(accepted.target.source, 'work-pool/ecs-moto');
    const outcome = await startExecution(accepted.input, {
      deps: base,
      retryIntervalOverrides: { Watch: 0, Submit: 0 },
    });
    assert.equal(outcome.status, 'SUCCEEDED', outcome.error);
    assert.equal(reports[0]?.state, 'Completed');

    const registered = proxy.callsOf('RegisterTaskDefinition');
    assert.equal(registered.length, 1);
    assert.deepEqual(registered[0]?.body, request.taskDefinition);
    const runs = proxy.callsOf('RunTask');
    assert.equal(runs.length, 1);
    const sent = runs[0]?.body as RunTaskCommandInput;
    assert.equal(sent.cluster, CLUSTER);
    assert.deepEqual(sent.overrides, request.runTask.overrides);
  });
});
