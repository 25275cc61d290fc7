// What a failed call means for the caller: try again (transient), give up (permanent),
// the thing already exists (conflict), or it is gone (not-found). One verdict per error,
// from classifiers each provider family plugs in: AWS SDK errors, plain HTTP answers
// (status, Retry-After, Google/gRPC `status`, ARM error codes), and network errors.

export type Kind = 'transient' | 'permanent' | 'conflict' | 'not-found';

export interface Verdict {
  kind: Kind;
  /** One line a person can read: the service's error name and message. */
  reason: string;
  /** The server asked to wait this long (Retry-After, RetryInfo). */
  retryAfterMs?: number;
}

/** Returns a verdict for errors it recognises, undefined for the rest. */
export type Classifier = (error: unknown) => Verdict | undefined;

function record(value: unknown): Record<string, unknown> | undefined {
  return typeof value === 'object' && value !== null ? (value as Record<string, unknown>) : undefined;
}

function str(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined;
}

function num(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isFinite(value) ? value : undefined;
}

/** The first line of an error's message; an HTML or unparseable body says only its status. */
export function errorText(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  if (text.startsWith('Unexpected token') || text.includes('Deserialization error')) {
    const status = httpStatusOf(error);
    return `unparseable response (HTTP ${status ?? '?'})`;
  }
  return (text.split('\n')[0] ?? text).slice(0, 500);
}

export function errorName(error: unknown): string {
  return str(record(error)?.name) ?? 'Error';
}

/** The HTTP status an error carries: AWS `$metadata`, `status`/`statusCode`, a `response.status`. */
export function httpStatusOf(error: unknown): number | undefined {
  const shape = record(error);
  if (!shape) return undefined;
  const metadata = record(shape.$metadata);
  const response = record(shape.response) ?? record(shape.$response);
  return (
    num(metadata?.httpStatusCode) ??
    num(shape.statusCode) ??
    num(shape.status) ??
    num(response?.status) ??
    num(response?.statusCode)
  );
}

// ---- network -------------------------------------------------------------------------

const NETWORK_CODES = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'ETIMEDOUT',
  'EPIPE',
  'EAI_AGAIN',
  'ECONNABORTED',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'UND_ERR_SOCKET',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
  'UND_ERR_CLOSED',
]);

/** Dropped connections and timeouts, also when wrapped (fetch's `TypeError: fetch failed` has the cause). */
export const classifyNetwork: Classifier = (error) => {
  for (let current: unknown = error, depth = 0; current && depth < 5; depth++) {
    const shape = record(current);
    const code = str(shape?.code);
    const name = errorName(current);
    if ((code && NETWORK_CODES.has(code)) || name === 'TimeoutError' || name === 'AbortError') {
      const label = name !== 'Error' ? name : (code ?? name);
      return { kind: 'transient', reason: `${label}: ${errorText(current)}` };
    }
    current = shape?.cause;
  }
  return undefined;
};

// ---- AWS -----------------------------------------------------------------------------

const AWS_TRANSIENT = new Set([
  'ThrottlingException',
  'Throttling',
  'ThrottledException',
  'TooManyRequestsException',
  'RequestLimitExceeded',
  'RequestThrottled',
  'RequestThrottledException',
  'ProvisionedThroughputExceededException',
  'SlowDown',
  'EC2ThrottledException',
  'ServerException',
  'ServiceUnavailable',
  'ServiceUnavailableException',
  'InternalError',
  'InternalFailure',
  'InternalServerError',
  'RequestTimeout',
  'RequestTimeoutException',
  'TimeoutError',
  'PriorRequestNotComplete',
]);
const AWS_NOT_FOUND = new Set(['NoSuchKey', 'NotFound', 'ResourceNotFoundException']);
const AWS_CONFLICT = new Set(['ConflictException', 'ResourceInUseException', 'PreconditionFailed']);

/** An AWS SDK v3 error: it has `$metadata` (or `$fault`). */
export const classifyAws: Classifier = (error) => {
  const shape = record(error);
  if (!shape || !('$metadata' in shape || '$fault' in shape)) return undefined;
  const name = errorName(error);
  const reason = `${name}: ${errorText(error)}`;
  const status = httpStatusOf(error);
  if (AWS_TRANSIENT.has(name)) return { kind: 'transient', reason };
  if (AWS_NOT_FOUND.has(name)) return { kind: 'not-found', reason };
  if (AWS_CONFLICT.has(name)) return { kind: 'conflict', reason };
  if (status !== undefined && (status >= 500 || status === 429)) return { kind: 'transient', reason };
  if (shape.$fault === 'server') return { kind: 'transient', reason };
  return { kind: 'permanent', reason };
};

// ---- plain HTTP (Docker Engine, Kubernetes, Google REST, Azure ARM) ----------------------

/** Google/gRPC canonical codes by name and number. */
const GRPC_TRANSIENT = new Set([
  'UNAVAILABLE',
  'RESOURCE_EXHAUSTED',
  'DEADLINE_EXCEEDED',
  'ABORTED',
  'INTERNAL',
]);
const GRPC_NUMBERS: Record<number, string> = {
  1: 'CANCELLED',
  2: 'UNKNOWN',
  3: 'INVALID_ARGUMENT',
  4: 'DEADLINE_EXCEEDED',
  5: 'NOT_FOUND',
  6: 'ALREADY_EXISTS',
  7: 'PERMISSION_DENIED',
  8: 'RESOURCE_EXHAUSTED',
  9: 'FAILED_PRECONDITION',
  10: 'ABORTED',
  11: 'OUT_OF_RANGE',
  12: 'UNIMPLEMENTED',
  13: 'INTERNAL',
  14: 'UNAVAILABLE',
  15: 'DATA_LOSS',
  16: 'UNAUTHENTICATED',
};
/** ARM error codes (Azure) that a retry can fix, and those that mean exists / gone. */
const ARM_TRANSIENT = new Set([
  'TooManyRequests',
  'ServerBusy',
  'ServiceUnavailable',
  'InternalServerError',
  'GatewayTimeout',
  'RetryableError',
  'OperationNotAllowed_Transient',
  'AnotherOperationInProgress',
  'ConflictingServerOperation',
]);
const ARM_NOT_FOUND = new Set(['ResourceNotFound', 'ResourceGroupNotFound', 'NotFound']);
const ARM_CONFLICT = new Set(['Conflict', 'ResourceExists', 'AlreadyExists']);
/** Kubernetes Status reasons. */
const K8S_CONFLICT = new Set(['AlreadyExists', 'Conflict']);
const K8S_TRANSIENT = new Set([
  'ServerTimeout',
  'Timeout',
  'TooManyRequests',
  'ServiceUnavailable',
  'InternalError',
]);

/** `Retry-After`: seconds or an HTTP date; capped at 10 minutes. */
export function retryAfterMs(value: string | null | undefined, now = Date.now()): number | undefined {
  if (!value) return undefined;
  const seconds = Number(value);
  const ms = Number.isFinite(seconds) ? seconds * 1000 : Date.parse(value) - now;
  return Number.isFinite(ms) && ms >= 0 ? Math.min(ms, 600_000) : undefined;
}

function headerOf(headers: unknown, name: string): string | undefined {
  if (!headers) return undefined;
  if (typeof (headers as Headers).get === 'function') return (headers as Headers).get(name) ?? undefined;
  const shape = record(headers);
  if (!shape) return undefined;
  for (const [key, value] of Object.entries(shape)) if (key.toLowerCase() === name) return str(value);
  return undefined;
}

/** The error body's code/status/reason, wherever the client put it. */
function bodyCodes(error: Record<string, unknown>): {
  grpc?: string;
  arm?: string;
  k8s?: string;
  message?: string;
} {
  let body: unknown = error.body ?? record(error.response)?.body ?? error.details;
  if (typeof body === 'string') {
    try {
      body = JSON.parse(body);
    } catch {
      body = undefined;
    }
  }
  const doc = record(body);
  const inner = record(doc?.error);
  const grpcNumber = num(error.code);
  return {
    grpc:
      str(inner?.status) ??
      str(doc?.status) ??
      (grpcNumber !== undefined &&
      grpcNumber < 17 &&
      error.$metadata === undefined &&
      httpStatusOf(error) === undefined
        ? GRPC_NUMBERS[grpcNumber]
        : undefined),
    arm: str(inner?.code) ?? str(error.code),
    k8s: doc?.kind === 'Status' ? str(doc.reason) : undefined,
    message: str(inner?.message) ?? str(doc?.message),
  };
}

/**
 * An HTTP answer described by an error (a client's error object, or our HttpError): status,
 * Retry-After, the Google `status` string or gRPC code, ARM `error.code`, the Kubernetes Status reason.
 */
export const classifyHttp: Classifier = (error) => {
  const shape = record(error);
  if (!shape) return undefined;
  const status = httpStatusOf(error);
  const { grpc, arm, k8s, message } = bodyCodes(shape);
  if (status === undefined && !grpc && !k8s) return undefined;
  const label = [
    status !== undefined ? `HTTP ${status}` : undefined,
    grpc,
    k8s,
    arm !== grpc ? arm : undefined,
  ]
    .filter(Boolean)
    .join(' ');
  const reason = `${label}: ${message ?? errorText(error)}`;
  const headers = shape.headers ?? record(shape.response)?.headers;
  const after = retryAfterMs(headerOf(headers, 'retry-after'));
  const withAfter = (kind: Kind): Verdict => ({
    kind,
    reason,
    ...(after !== undefined ? { retryAfterMs: after } : {}),
  });
  if (
    (grpc && GRPC_TRANSIENT.has(grpc)) ||
    (arm && ARM_TRANSIENT.has(arm)) ||
    (k8s && K8S_TRANSIENT.has(k8s))
  )
    return withAfter('transient');
  if (grpc === 'ALREADY_EXISTS' || (k8s && K8S_CONFLICT.has(k8s)) || (arm && ARM_CONFLICT.has(arm)))
    return withAfter('conflict');
  if (grpc === 'NOT_FOUND' || (arm && ARM_NOT_FOUND.has(arm)) || k8s === 'NotFound')
    return withAfter('not-found');
  if (status === undefined) return withAfter('permanent');
  if (status === 429 || status === 408 || status >= 500) return withAfter('transient');
  if (status === 409) return withAfter('conflict');
  if (status === 404 || status === 410) return withAfter('not-found');
  return withAfter('permanent');
};

/** The first verdict of the given classifiers; network errors are always transient; the rest permanent. */
export function classify(
  error: unknown,
  classifiers: readonly Classifier[] = [classifyAws, classifyHttp],
): Verdict {
  for (const classifier of [classifyNetwork, ...classifiers]) {
    const verdict = classifier(error);
    if (verdict) return verdict;
  }
  return { kind: 'permanent', reason: `${errorName(error)}: ${errorText(error)}` };
}
