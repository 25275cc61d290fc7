// An HTTP proxy in front of an AWS fake (moto) that records every call and injects
// faults by operation: answer with throttling or a 5xx instead of forwarding ("before"),
// or forward and then lose the answer behind a 5xx ("after": the call took effect, the
// caller cannot know). The HTTP fake (http-fake.ts) in proxy mode, with AWS's error answers.
import { type FakeCall, type Fault as FakeFault, startHttpFake } from './http-fake.js';

export interface Fault {
  /** Operation name, e.g. `RunTask`, `DescribeTasks`, `DescribeSubnets`. */
  operation: string;
  /** How many matching calls to fail, from the next one on. */
  times: number;
  /** `throttle` = 400 ThrottlingException; `500` = 500 ServerException; `hang` = no answer until the caller gives up. */
  kind: 'throttle' | '500' | 'hang' | 'denied';
  /** `after` forwards the call first, then answers 500 (the effect happened, the answer is lost). */
  when?: 'before' | 'after';
}

export interface RecordedCall {
  operation: string;
  /** The JSON body for JSON-protocol services (ECS, Logs); the form for query ones (EC2). */
  body: unknown;
  /** What the caller got: `ok`, or the fault injected. */
  outcome: 'ok' | Fault['kind'];
}

export interface FaultProxy {
  readonly endpoint: string;
  readonly calls: RecordedCall[];
  inject(fault: Fault): void;
  /** Calls of one operation, in order. */
  callsOf(operation: string): RecordedCall[];
  clear(): void;
  close(): Promise<void>;
}

/** An AWS JSON-protocol error answer. */
function awsError(status: number, type: string, message: string) {
  return {
    status,
    headers: {
      'content-type': 'application/x-amz-json-1.1',
      'x-amzn-errortype': type,
      'x-amzn-requestid': 'injected-by-the-test-proxy',
    },
    body: { __type: type, message },
  };
}

const FAULT_ANSWERS = {
  throttle: awsError(400, 'ThrottlingException', 'Rate exceeded (injected by the test proxy)'),
  '500': awsError(500, 'ServerException', 'Service error (injected by the test proxy)'),
  denied: awsError(
    400,
    'AccessDeniedException',
    'not authorized to perform this action (injected by the test proxy)',
  ),
  hang: { kind: 'hang' },
} as const;

/** EC2 speaks the query protocol: its errors are XML, and it throttles with RequestLimitExceeded. */
const QUERY_OPERATIONS = new Set(['DescribeVpcs', 'DescribeSubnets', 'DescribeSecurityGroups']);

function queryError(status: number, code: string, message: string) {
  return {
    status,
    headers: { 'content-type': 'text/xml;charset=UTF-8' },
    body: `<?xml version="1.0" encoding="UTF-8"?>\n<Response><Errors><Error><Code>${code}</Code><Message>${message}</Message></Error></Errors><RequestID>injected-by-the-test-proxy</RequestID></Response>`,
  };
}

const QUERY_FAULT_ANSWERS = {
  throttle: queryError(503, 'RequestLimitExceeded', 'Request limit exceeded (injected by the test proxy)'),
  '500': queryError(500, 'InternalError', 'An internal error has occurred (injected by the test proxy)'),
  denied: queryError(
    403,
    'UnauthorizedOperation',
    'not authorized to perform this operation (injected by the test proxy)',
  ),
  hang: { kind: 'hang' },
} as const;

export async function startFaultProxy(upstream: string): Promise<FaultProxy> {
  const fake = await startHttpFake({ state: {}, upstream });
  /** The fake's fault → the kind it was injected as. */
  const kinds = new Map<FakeFault, Fault['kind']>();
  const recorded = (call: FakeCall): RecordedCall => ({
    operation: call.route,
    body: call.body,
    outcome: (call.fault && kinds.get(call.fault)) ?? 'ok',
  });
  return {
    endpoint: fake.url,
    get calls() {
      return fake.calls.map(recorded);
    },
    inject(fault) {
      const injected: FakeFault = {
        ...(QUERY_OPERATIONS.has(fault.operation) ? QUERY_FAULT_ANSWERS : FAULT_ANSWERS)[fault.kind],
        route: fault.operation,
        times: fault.times,
        ...(fault.when ? { when: fault.when } : {}),
      };
      kinds.set(injected, fault.kind);
      fake.inject(injected);
    },
    callsOf: (operation) => fake.callsOf(operation).map(recorded),
    clear() {
      fake.clear();
      kinds.clear();
    },
    close: () => fake.close(),
  };
}
