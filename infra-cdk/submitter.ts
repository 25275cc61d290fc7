// FlowRunSubmitter: the whole submitter as one construct. The block store bucket, one
// function per handler (and per enabled provider), the workflow from the same ASL file the
// local runner runs, and the triggers: an EventBridge rule, cron schedules and a Pub/Sub
// push endpoint, each with its failures kept in a dead-letter queue that raises an alarm.
import { fileURLToPath } from 'node:url';
import { Duration, RemovalPolicy, Stack, TimeZone } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as cwActions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as events from 'aws-cdk-lib/aws-events';
import * as eventTargets from 'aws-cdk-lib/aws-events-targets';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as destinations from 'aws-cdk-lib/aws-lambda-destinations';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as scheduler from 'aws-cdk-lib/aws-scheduler';
import * as schedulerTargets from 'aws-cdk-lib/aws-scheduler-targets';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { PUSH_AUTH_ENV } from '../functions/lib/push-auth.js';
import { REPORT_SOURCE } from '../functions/lib/report-sink.js';
import { WORKFLOW_FILE, type WorkflowSubstitutions, workflowText } from '../functions/workflow.js';
import type { BlockType } from '../providers/blocks.js';
import {
  providerEnvironment,
  providerStatements,
  providersEnvironment,
  secretStatement,
  storeStatements,
} from './access.js';
import { FUNCTIONS, providerFunction } from './bundling.js';
import {
  parseConfig,
  prefectFlowRunSecretEnv,
  type SubmitterConfig,
  type SubmitterConfigInput,
} from './config.js';
import { SubmitterFunction } from './functions.js';

export type FlowRunSubmitterProps = SubmitterConfigInput;

/** Retries before a delivery is given up on and kept in the dead-letter queue. */
const DELIVERY_RETRIES = 8;
const DELIVERY_MAX_AGE = Duration.hours(24);

export class FlowRunSubmitter extends Construct {
  readonly config: SubmitterConfig;
  /** Blocks, parked events (`runs/…`), cancel markers, rejected deliveries (`rejected/…`). */
  readonly bucket: s3.Bucket;
  /** `s3://bucket[/prefix]`: what `submitter blocks put --blocks` and `cancel` use. */
  readonly storeLocation: string;
  readonly stateMachine: sfn.StateMachine;
  readonly eventBus: events.IEventBus;
  readonly triggerFunction: lambda.IFunction;
  readonly prepareFunction: lambda.IFunction;
  readonly reportFunction: lambda.IFunction;
  readonly providerFunctions: ReadonlyMap<BlockType, lambda.IFunction>;
  /** Failed or rejected deliveries of every trigger. */
  readonly deadLetterQueue: sqs.Queue;
  readonly alarms: readonly cloudwatch.Alarm[];
  readonly eventRule: events.Rule;
  readonly schedules: readonly scheduler.Schedule[];
  /** The Pub/Sub push endpoint, when `pubsub` is configured. */
  readonly pushUrl?: lambda.FunctionUrl;

  constructor(scope: Construct, id: string, props: FlowRunSubmitterProps) {
    super(scope, id);
    const config = parseConfig(props);
    this.config = config;
    const stack = Stack.of(this);
    const retention = config.logRetentionDays as logs.RetentionDays;
    const common = {
      logRetention: retention,
      memoryMb: config.memoryMb,
      tracing: config.stateMachine.tracing,
    };

    this.bucket = new s3.Bucket(this, 'Store', {
      encryption: s3.BucketEncryption.S3_MANAGED,
      versioned: true,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      enforceSSL: true,
      minimumTLSVersion: 1.2,
      removalPolicy: config.retainBucket ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY,
      lifecycleRules: [
        { id: 'old-versions', noncurrentVersionExpiration: Duration.days(30) },
        {
          id: 'parked-events',
          prefix: `${config.storePrefix ? `${config.storePrefix}/` : ''}runs/`,
          // outlives the longest execution the workflow allows, with a week to look back
          expiration: Duration.days(Math.ceil(workflowTimeoutSeconds() / 86_400) + 7),
        },
        {
          id: 'rejected-deliveries',
          prefix: `${config.storePrefix ? `${config.storePrefix}/` : ''}rejected/`,
          expiration: Duration.days(90),
        },
      ],
    });
    this.storeLocation = `s3://${this.bucket.bucketName}${config.storePrefix ? `/${config.storePrefix}` : ''}`;
    const store = { SUBMITTER_STORE: this.storeLocation };
    // Every step talks to Prefect like a worker (docs/prefect.md): the URL, and the credential by reference only
    const prefectEnv: Record<string, string> = config.prefect
      ? {
          PREFECT_API_URL: config.prefect.apiUrl,
          ...(config.prefect.apiKeySecretArn
            ? { PREFECT_API_KEY_SECRET_ARN: config.prefect.apiKeySecretArn }
            : {}),
          ...(config.prefect.apiAuthStringSecretArn
            ? { PREFECT_API_AUTH_STRING_SECRET_ARN: config.prefect.apiAuthStringSecretArn }
            : {}),
          ...prefectFlowRunSecretEnv(config.prefect),
        }
      : {};
    const prefectSecret = config.prefect?.apiKeySecretArn ?? config.prefect?.apiAuthStringSecretArn;
    const grantPrefect = (fn: lambda.IFunction) => {
      if (prefectSecret) fn.addToRolePolicy(secretStatement(prefectSecret));
    };

    this.eventBus = config.eventBus.create
      ? new events.EventBus(this, 'Bus', { eventBusName: config.eventBus.name })
      : events.EventBus.fromEventBusName(this, 'Bus', config.eventBus.name);

    // Provider functions: one per enabled provider, each bundling only its provider.
    const providers = new Map<BlockType, lambda.IFunction>();
    for (const type of config.providers) {
      const { fn } = new SubmitterFunction(this, `Infra-${type}`, {
        ...common,
        spec: providerFunction(type),
        environment: { ...store, ...prefectEnv, ...providerEnvironment(stack, type, config) },
      });
      grantPrefect(fn);
      for (const statement of [
        // writes under runs/: the submit claim, stop records, the Prefect watch counter
        ...storeStatements(this.bucket, config.storePrefix, { read: ['blocks', 'runs'], write: ['runs'] }),
        ...providerStatements(stack, type, config),
      ])
        fn.addToRolePolicy(statement);
      providers.set(type, fn);
    }
    this.providerFunctions = providers;

    // type → function: Prepare routes runs with it; the trigger refuses types not in it
    const providerFunctions = stack.toJsonString(
      Object.fromEntries([...providers].map(([type, fn]) => [type, fn.functionName])),
    );
    const prepare = new SubmitterFunction(this, 'Prepare', {
      ...common,
      spec: FUNCTIONS.prepare,
      environment: {
        // Prepare runs each type's build: it sees the deployment settings Submit will see
        ...providersEnvironment(stack, config),
        ...store,
        ...prefectEnv,
        PROVIDER_FUNCTIONS: providerFunctions,
        POLL_CAP_SECONDS: String(config.pollCapSeconds),
        ...(config.runTimeoutSeconds ? { RUN_TIMEOUT_SECONDS: String(config.runTimeoutSeconds) } : {}),
        ...(config.killGraceSeconds !== undefined
          ? { KILL_GRACE_SECONDS: String(config.killGraceSeconds) }
          : {}),
      },
    }).fn;
    // writes under runs/: the record of the Pending proposed to Prefect
    for (const statement of storeStatements(this.bucket, config.storePrefix, {
      read: ['blocks', 'runs'],
      write: ['runs'],
    }))
      prepare.addToRolePolicy(statement);
    grantPrefect(prepare);
    this.prepareFunction = prepare;

    const report = new SubmitterFunction(this, 'Report', {
      ...common,
      spec: FUNCTIONS.report,
      environment: {
        ...store,
        EVENT_BUS_NAME: this.eventBus.eventBusName,
        ...prefectEnv,
      },
    }).fn;
    for (const statement of storeStatements(this.bucket, config.storePrefix, { read: ['runs'] }))
      report.addToRolePolicy(statement);
    this.eventBus.grantPutEventsTo(report);
    grantPrefect(report);
    this.reportFunction = report;

    this.stateMachine = this.workflow({ prepare, report }, [prepare, report, ...providers.values()]);

    const trigger = new SubmitterFunction(this, 'Trigger', {
      ...common,
      spec: FUNCTIONS.trigger,
      environment: {
        ...store,
        STATE_MACHINE_ARN: this.stateMachine.stateMachineArn,
        PROVIDER_FUNCTIONS: providerFunctions,
        ...prefectEnv,
        ...(config.pubsub
          ? {
              [PUSH_AUTH_ENV.serviceAccounts]: config.pubsub.serviceAccountEmails.join(','),
              [PUSH_AUTH_ENV.jwksUrl]: config.pubsub.jwksUrl,
              [PUSH_AUTH_ENV.issuers]: config.pubsub.issuers.join(','),
              ...(config.pubsub.audience ? { [PUSH_AUTH_ENV.audience]: config.pubsub.audience } : {}),
            }
          : {}),
      },
    }).fn;
    // the trigger resolves and pins every run's block: Prefect 3 pools and variables are read here only
    for (const statement of storeStatements(this.bucket, config.storePrefix, {
      read: ['blocks', 'workPools', 'variables', 'runs'],
      write: ['runs', 'rejected'],
    }))
      trigger.addToRolePolicy(statement);
    this.stateMachine.grantStartExecution(trigger);
    grantPrefect(trigger);
    this.triggerFunction = trigger;

    // Every trigger's failures end here: Lambda's async retries, EventBridge and Scheduler deliveries.
    this.deadLetterQueue = new sqs.Queue(this, 'DeadLetters', {
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
    });
    trigger.configureAsyncInvoke({
      retryAttempts: 2,
      maxEventAge: Duration.hours(6),
      onFailure: new destinations.SqsDestination(this.deadLetterQueue),
    });

    const sources = config.eventBus.sources ?? [];
    this.eventRule = new events.Rule(this, 'FlowRunEvents', {
      description: 'Flow-run events -> the submitter trigger',
      eventBus: this.eventBus,
      eventPattern: {
        detailType: config.eventBus.detailTypes,
        // never the submitter's own reports, which go to the same bus
        source: sources.length ? sources : events.Match.anythingBut(REPORT_SOURCE),
      },
      targets: [
        new eventTargets.LambdaFunction(trigger, {
          deadLetterQueue: this.deadLetterQueue,
          retryAttempts: DELIVERY_RETRIES,
          maxEventAge: DELIVERY_MAX_AGE,
        }),
      ],
    });

    const schedules: scheduler.Schedule[] = [];
    if (config.schedules.length) {
      const group = new scheduler.ScheduleGroup(this, 'Schedules', {
        removalPolicy: RemovalPolicy.DESTROY,
      });
      for (const entry of config.schedules) {
        schedules.push(
          new scheduler.Schedule(this, `Schedule-${entry.name}`, {
            scheduleGroup: group,
            description: entry.description ?? `Flow runs of deployment ${entry.input.deployment.id}`,
            schedule: scheduler.ScheduleExpression.expression(entry.expression, TimeZone.of(entry.timezone)),
            enabled: entry.enabled,
            target: new schedulerTargets.LambdaInvoke(trigger, {
              // the scheduled time names the flow run: a redelivered tick is the same run
              input: scheduler.ScheduleTargetInput.fromObject({
                ...entry.input,
                scheduled_time: scheduler.ContextAttribute.scheduledTime,
              }),
              deadLetterQueue: this.deadLetterQueue,
              retryAttempts: DELIVERY_RETRIES,
              maxEventAge: DELIVERY_MAX_AGE,
            }),
          }),
        );
      }
    }
    this.schedules = schedules;

    if (config.pubsub) {
      // Google cannot sign AWS requests: the handler verifies the push's Google OIDC token instead.
      this.pushUrl = trigger.addFunctionUrl({ authType: lambda.FunctionUrlAuthType.NONE });
    }

    this.alarms = this.createAlarms(config);
  }

  private workflow(
    tasks: { prepare: lambda.IFunction; report: lambda.IFunction },
    invoked: lambda.IFunction[],
  ): sfn.StateMachine {
    const { stateMachine: options } = this.config;
    const substitutions: Record<keyof WorkflowSubstitutions, string> = {
      PrepareFunction: tasks.prepare.functionArn,
      ReportFunction: tasks.report.functionArn,
    };
    const logging =
      options.logLevel === 'OFF'
        ? undefined
        : {
            destination: new logs.LogGroup(this, 'WorkflowLogs', {
              retention: this.config.logRetentionDays as logs.RetentionDays,
              removalPolicy: RemovalPolicy.DESTROY,
            }),
            level: options.logLevel === 'ALL' ? sfn.LogLevel.ALL : sfn.LogLevel.ERROR,
            includeExecutionData: options.includeExecutionData,
          };
    const machine = new sfn.StateMachine(this, 'Workflow', {
      stateMachineType: sfn.StateMachineType.STANDARD,
      // the same file the local runner and the tests run; its TimeoutSeconds bounds an execution
      definitionBody: sfn.DefinitionBody.fromFile(fileURLToPath(WORKFLOW_FILE)),
      definitionSubstitutions: substitutions,
      tracingEnabled: options.tracing,
      ...(logging ? { logs: logging } : {}),
    });
    // Watch/Submit/Cleanup invoke the function named in $.run.function: allow exactly ours.
    for (const fn of invoked) fn.grantInvoke(machine);
    return machine;
  }

  private createAlarms(config: SubmitterConfig): cloudwatch.Alarm[] {
    const alarms = [
      new cloudwatch.Alarm(this, 'DeadLettersAlarm', {
        alarmDescription:
          'A flow-run delivery failed or was rejected: read the message in the dead-letter queue ' +
          '(and rejected/ in the store bucket for the problems found)',
        metric: this.deadLetterQueue.metricApproximateNumberOfMessagesVisible({
          period: Duration.minutes(1),
          statistic: cloudwatch.Stats.MAXIMUM,
        }),
        threshold: 0,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
        evaluationPeriods: 1,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      }),
      new cloudwatch.Alarm(this, 'WorkflowFailedAlarm', {
        alarmDescription:
          'A workflow execution failed or timed out (a flow run that fails still ends the execution ' +
          'normally): open the execution in the Step Functions console',
        metric: new cloudwatch.MathExpression({
          expression: 'failed + timedOut',
          usingMetrics: {
            failed: this.stateMachine.metricFailed({ statistic: cloudwatch.Stats.SUM }),
            timedOut: this.stateMachine.metricTimedOut({ statistic: cloudwatch.Stats.SUM }),
          },
          period: Duration.minutes(5),
        }),
        threshold: 0,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
        evaluationPeriods: 1,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      }),
    ];
    if (config.alarmTopicArn) {
      const topic = sns.Topic.fromTopicArn(this, 'AlarmTopic', config.alarmTopicArn);
      for (const alarm of alarms) alarm.addAlarmAction(new cwActions.SnsAction(topic));
    }
    return alarms;
  }
}

/** The workflow's own execution timeout (TimeoutSeconds in the ASL file). */
export function workflowTimeoutSeconds(): number {
  const seconds = (JSON.parse(workflowText()) as { TimeoutSeconds?: unknown }).TimeoutSeconds;
  return typeof seconds === 'number' ? seconds : 31_536_000;
}
