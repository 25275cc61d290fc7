// Trigger: an EventBridge event, a cron/schedule input, or a Pub/Sub push request (via
// a function URL) → one Step Functions execution per flow run, named from its id, so
// duplicate deliveries collapse into one execution.
import middy from '@middy/core';
import { describeError, InvalidInputError } from '../core/errors.js';
import { parseJsonText } from '../core/input-guard.js';
import { type Unwrapped, unwrap, unwrapPubSubPush } from '../events/envelopes.js';
import { type DepsSource, depsFromEnv, resolveDeps } from './lib/deps.js';
import { accept, isRejection, keepRejected } from './lib/intake.js';
import { ensureFlowRun } from './lib/prefect/lifecycle.js';
import { PushUnauthorizedError, type PushVerifier, pushVerifierFromEnv } from './lib/push-auth.js';
import { type ExecutionInput, executionName } from './lib/state.js';

export interface ExecutionStarter {
  /** Starts the named execution; `duplicate` when it already existed. */
  start(name: string, input: ExecutionInput): Promise<{ id: string; duplicate: boolean }>;
}

/** StartExecution on a state machine; ExecutionAlreadyExists means a duplicate delivery. */
export function stepFunctionsStarter(stateMachineArn: string): ExecutionStarter {
  let client: import('@aws-sdk/client-sfn').SFNClient | undefined;
  return {
    async start(name, input) {
      const sdk = await import('@aws-sdk/client-sfn');
      client ??= new sdk.SFNClient({});
      try {
        const out = await client.send(
          new sdk.StartExecutionCommand({ stateMachineArn, name, input: JSON.stringify(input) }),
        );
        return { id: out.executionArn ?? name, duplicate: false };
      } catch (error) {
        if (error instanceof sdk.ExecutionAlreadyExists) {
          const arn = `${stateMachineArn.replace(':stateMachine:', ':execution:')}:${name}`;
          return { id: arn, duplicate: true };
        }
        throw error;
      }
    },
  };
}

interface HttpRequest {
  requestContext: { http: { method: string; path?: string }; domainName?: string };
  rawPath?: string;
  body?: string;
  isBase64Encoded?: boolean;
  headers?: Record<string, string | undefined>;
}
interface HttpResponse {
  statusCode: number;
  headers: Record<string, string>;
  body: string;
}

function isHttp(event: unknown): event is HttpRequest {
  return (
    typeof event === 'object' &&
    event !== null &&
    'requestContext' in event &&
    'http' in (event as HttpRequest).requestContext
  );
}

function json(statusCode: number, body: unknown): HttpResponse {
  return { statusCode, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) };
}

export interface TriggerOutcome {
  status: 'started' | 'duplicate' | 'rejected';
  flow_run_id?: string;
  execution?: string;
  rejected_key?: string;
  problems?: unknown;
}

export interface TriggerOptions {
  /** Checks a Pub/Sub push request before it is read (the deployed handler always has one). */
  verifyPush?: () => PushVerifier;
}

export function createTriggerHandler(
  source: DepsSource,
  starter: () => ExecutionStarter,
  options: TriggerOptions = {},
) {
  async function handle(unwrapped: Unwrapped): Promise<TriggerOutcome> {
    const deps = await resolveDeps(source);
    // a tick or deployment run without a Prefect flow run: created here, once (idempotency key)
    // (and a Prefect 3 flow run's own job variables go over the deployment's, as a worker does)
    const accepted = await accept(deps, await ensureFlowRun(deps, unwrapped));
    const name = executionName(accepted.input.flow_run_id);
    // Always start: a first delivery may have parked the event and failed before starting.
    // StartExecution is idempotent by name, so a redelivery lands on the same execution.
    const started = await starter().start(name, accepted.input);
    const duplicate = started.duplicate || !accepted.firstDelivery;
    const id = started.id;
    deps.log.info(
      duplicate ? 'duplicate delivery: the execution for this flow run exists' : 'execution started',
      {
        flow_run_id: accepted.input.flow_run_id,
        execution: id,
        delivery_id: unwrapped.deliveryId,
        kind: unwrapped.kind,
      },
    );
    return {
      status: duplicate ? 'duplicate' : 'started',
      flow_run_id: accepted.input.flow_run_id,
      execution: id,
    };
  }

  return middy<unknown, TriggerOutcome | HttpResponse>().handler(async (raw) => {
    const deps = await resolveDeps(source);
    if (isHttp(raw)) {
      if (options.verifyPush) {
        try {
          const caller = await options.verifyPush()(raw);
          deps.log.debug('push request authenticated', { service_account: caller.email });
        } catch (error) {
          if (error instanceof PushUnauthorizedError) {
            deps.log.warn('push request refused', { reason: error.message });
            return json(401, { error: 'unauthorized' });
          }
          deps.log.error('push request could not be authenticated; Pub/Sub will redeliver', {
            error: describeError(error),
          });
          return json(500, { error: 'temporary failure; the message will be redelivered' });
        }
      }
      // Pub/Sub push: 2xx acks. A bad message is kept and acked (redelivery cannot fix it);
      // anything else answers 500 so Pub/Sub redelivers and nothing is lost.
      let body: unknown;
      const text = raw.isBase64Encoded
        ? Buffer.from(raw.body ?? '', 'base64').toString('utf8')
        : (raw.body ?? '');
      try {
        body = parseJsonText(text, 'Failed to parse Pub/Sub push request', 'body');
        return json(200, await handle(unwrapPubSubPush(body)));
      } catch (error) {
        if (!isRejection(error)) {
          deps.log.error('push delivery failed; Pub/Sub will redeliver', { error: describeError(error) });
          return json(500, { error: 'temporary failure; the message will be redelivered' });
        }
        const key = await keepRejected(deps, body ?? text, error, pushMessageId(body));
        deps.log.warn('rejected push delivery', { rejected_key: key, error: describeError(error) });
        return json(200, {
          status: 'rejected',
          rejected_key: key,
          problems: error instanceof InvalidInputError ? error.problems : describeError(error),
        });
      }
    }
    try {
      return await handle(unwrap(raw, deps.now));
    } catch (error) {
      if (isRejection(error)) {
        const key = await keepRejected(deps, raw, error);
        deps.log.warn('rejected delivery', { rejected_key: key, error: describeError(error) });
      }
      throw error; // async invocations: Lambda retries, then the dead-letter queue keeps it
    }
  });
}

/** The Pub/Sub `messageId` of a push body, when it has one (to name what is kept). */
function pushMessageId(body: unknown): string | undefined {
  if (typeof body !== 'object' || body === null || !('message' in body)) return undefined;
  const message: unknown = body.message;
  if (typeof message !== 'object' || message === null) return undefined;
  const id =
    'messageId' in message ? message.messageId : 'message_id' in message ? message.message_id : undefined;
  return typeof id === 'string' && id.length > 0 ? id.slice(0, 200) : undefined;
}

let pushVerifier: PushVerifier | undefined;

export const handler = createTriggerHandler(
  () => depsFromEnv(),
  () => {
    const arn = process.env.STATE_MACHINE_ARN;
    if (!arn)
      throw new Error(
        'STATE_MACHINE_ARN is not set: the trigger needs the state machine to start executions on',
      );
    return stepFunctionsStarter(arn);
  },
  { verifyPush: () => (pushVerifier ??= pushVerifierFromEnv()) },
);
