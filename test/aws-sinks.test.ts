// The AWS ends of the foundation against moto server: the trigger's StartExecution
// (one execution per flow run, by name) and the report's EventBridge PutEvents.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import {
  CloudWatchLogsClient,
  CreateLogGroupCommand,
  FilterLogEventsCommand,
} from '@aws-sdk/client-cloudwatch-logs';
import {
  CreateEventBusCommand,
  EventBridgeClient,
  PutRuleCommand,
  PutTargetsCommand,
} from '@aws-sdk/client-eventbridge';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { CreateStateMachineCommand, ListExecutionsCommand, SFNClient } from '@aws-sdk/client-sfn';
import { main } from '../cli/main.js';
import { S3Store } from '../core/s3-store.js';
import { eventBridgeSink, REPORT_DETAIL_TYPE, REPORT_SOURCE } from '../functions/lib/report-sink.js';
import type { ExecutionInput, Report } from '../functions/lib/state.js';
import { cancelKey } from '../functions/lib/state.js';
import { stepFunctionsStarter } from '../functions/trigger.js';
import { substitute, workflowText } from '../functions/workflow.js';
import { type Moto, startMoto } from './support/moto.js';

describe('AWS ends against moto', () => {
  let moto: Moto;
  const saved = { ...process.env };
  before(async () => {
    moto = await startMoto();
    Object.assign(process.env, moto.env()); // the SDK's standard configuration finds moto
  });
  after(async () => {
    process.env = saved;
    await moto.stop();
  });

  it('StartExecution named from the flow-run id: redeliveries never make a second execution', async () => {
    const sfn = new SFNClient(moto.clientConfig());
    const { stateMachineArn } = await sfn.send(
      new CreateStateMachineCommand({
        name: 'flow-runs',
        roleArn: 'arn:aws:iam::123456789012:role/submitter-workflow',
        definition: substitute(workflowText(), { PrepareFunction: 'prepare', ReportFunction: 'report' }),
      }),
    );
    assert.ok(stateMachineArn);
    const starter = stepFunctionsStarter(stateMachineArn);
    const id = randomUUID();
    const input: ExecutionInput = { flow_run_id: id, event_ref: `runs/${id}/event.json` };
    const first = await starter.start(`fr-${id}`, input);
    const same = await starter.start(`fr-${id}`, input);
    const changed = await starter.start(`fr-${id}`, { ...input, summary: { flow_run_name: 'other' } });
    assert.equal(first.duplicate, false);
    assert.equal(same.id, first.id, 'same name and input: the same execution');
    assert.equal(changed.duplicate, true, 'same name, other input: ExecutionAlreadyExists is a duplicate');
    assert.equal(changed.id, first.id);
    const { executions } = await sfn.send(new ListExecutionsCommand({ stateMachineArn }));
    assert.equal(executions?.length, 1);
  });

  it('emits the report to an EventBridge bus, where a rule can route it', async () => {
    const events = new EventBridgeClient(moto.clientConfig());
    const logs = new CloudWatchLogsClient(moto.clientConfig());
    await events.send(new CreateEventBusCommand({ Name: 'flow-runs' }));
    await logs.send(new CreateLogGroupCommand({ logGroupName: '/flow-runs/reports' }));
    await events.send(
      new PutRuleCommand({
        Name: 'reports',
        EventBusName: 'flow-runs',
        EventPattern: JSON.stringify({ source: [REPORT_SOURCE], 'detail-type': [REPORT_DETAIL_TYPE] }),
      }),
    );
    await events.send(
      new PutTargetsCommand({
        Rule: 'reports',
        EventBusName: 'flow-runs',
        Targets: [
          { Id: 'log', Arn: `arn:aws:logs:${moto.region}:123456789012:log-group:/flow-runs/reports` },
        ],
      }),
    );
    const report: Report = {
      flow_run_id: randomUUID(),
      flow_run_name: 'nightly',
      provider: 'ecs-task',
      identifier: 'cluster::arn:aws:ecs:us-east-1:123456789012:task/cluster/abc',
      state: 'Failed',
      status_code: 2,
      reason: 'the container exited with status code 2',
      logs_tail: 'Traceback…',
    };
    await eventBridgeSink('flow-runs').emit(report);
    const found = await logs.send(new FilterLogEventsCommand({ logGroupName: '/flow-runs/reports' }));
    const delivered = (found.events ?? []).map((e) => JSON.parse(e.message ?? '{}'));
    assert.equal(delivered.length, 1);
    assert.equal(delivered[0].source, REPORT_SOURCE);
    assert.deepEqual(delivered[0].detail, report);
  });

  it('`submitter cancel --store s3://…` leaves the cancel request where the deployed workflow looks', async () => {
    const s3 = new S3Client(moto.s3Config());
    await s3.send(new CreateBucketCommand({ Bucket: 'submitter-store' }));
    const id = randomUUID();
    const out: string[] = [];
    const code = await main(['cancel', id, '--store', 's3://submitter-store/prod'], {
      out: (t) => out.push(t),
      err: (t) => out.push(t),
    });
    assert.equal(code, 0, out.join('\n'));
    const store = S3Store.fromUrl('s3://submitter-store/prod', s3);
    assert.ok(await store.get(cancelKey(id)), 'runs/<id>/cancel.json is in the bucket');
    assert.equal(
      await main(['cancel', 'not-a-uuid', '--store', 's3://submitter-store/prod'], {
        out: () => {},
        err: () => {},
      }),
      2,
    );
  });
});
