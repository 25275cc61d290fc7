// The deployable stack: the FlowRunSubmitter construct and the outputs users wire to it.
import { CfnOutput, Stack, type StackProps } from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import type { SubmitterConfigInput } from './config.js';
import { FlowRunSubmitter } from './submitter.js';

export interface SubmitterStackProps extends StackProps {
  config: SubmitterConfigInput;
}

export class SubmitterStack extends Stack {
  readonly submitter: FlowRunSubmitter;

  constructor(scope: Construct, id: string, props: SubmitterStackProps) {
    super(scope, id, props);
    const submitter = new FlowRunSubmitter(this, 'Submitter', props.config);
    this.submitter = submitter;
    new CfnOutput(this, 'EventBusName', {
      description: 'Send flow-run events (detail-type "Flow Run Requested") here; reports come back here too',
      value: submitter.eventBus.eventBusName,
    });
    new CfnOutput(this, 'StateMachineArn', {
      description: 'One execution per flow run, named fr-<flow run id>',
      value: submitter.stateMachine.stateMachineArn,
    });
    new CfnOutput(this, 'StoreBucketName', {
      description:
        'Blocks (blocks/), parked events and cancel markers (runs/), rejected deliveries (rejected/)',
      value: submitter.bucket.bucketName,
    });
    new CfnOutput(this, 'StoreLocation', {
      description: "For 'submitter blocks put --blocks' and 'submitter cancel'",
      value: submitter.storeLocation,
    });
    new CfnOutput(this, 'DeadLetterQueueUrl', {
      description: 'Deliveries that failed or were rejected',
      value: submitter.deadLetterQueue.queueUrl,
    });
    if (submitter.pushUrl) {
      new CfnOutput(this, 'PubSubPushUrl', {
        description: 'Push endpoint for the Pub/Sub subscription (with OIDC authentication)',
        value: submitter.pushUrl.url,
      });
    }
  }
}
