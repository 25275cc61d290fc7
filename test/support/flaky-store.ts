// A document store that fails transiently (an S3 `SlowDown` as the SDK throws it) on the
// calls it is told to, for tests that every step survives one blip of its store.
import type { DocumentStore } from '../../core/store.js';

export type StoreOp = 'get' | 'put' | 'putIfAbsent' | 'list';

/** An error shaped as the AWS SDK v3 throws it. */
export function awsError(name: string, status: number, fault: 'client' | 'server' = 'client'): Error {
  return Object.assign(new Error(`${name} happened`), {
    name,
    $fault: fault,
    $metadata: { httpStatusCode: status },
  });
}

export interface FlakyStore extends DocumentStore {
  /** `op key` of each call that was failed. */
  readonly failed: string[];
  /** Every call, `op key`, in order. */
  readonly calls: string[];
  /** Fails the next call matching op (and key, when given) once, with a SlowDown or the error given. */
  failNext(op: StoreOp, key?: string | RegExp, error?: Error): void;
}

/** Fails the first `failures` calls of each operation, and whatever failNext asks for. */
export function flakyStore(inner: DocumentStore, failures = 0): FlakyStore {
  const left = new Map<StoreOp, number>();
  const once: { op: StoreOp; key?: string | RegExp; error?: Error }[] = [];
  const failed: string[] = [];
  const calls: string[] = [];
  const check = (op: StoreOp, key: string) => {
    calls.push(`${op} ${key}`);
    const n = left.get(op) ?? failures;
    const at = once.findIndex(
      (f) =>
        f.op === op && (f.key === undefined || (typeof f.key === 'string' ? f.key === key : f.key.test(key))),
    );
    if (n > 0 || at >= 0) {
      const error = at >= 0 ? once[at]?.error : undefined;
      if (at >= 0) once.splice(at, 1);
      else left.set(op, n - 1);
      failed.push(`${op} ${key}`);
      throw error ?? awsError('SlowDown', 503, 'server');
    }
  };
  return {
    failed,
    calls,
    location: inner.location,
    failNext: (op, key, error) => {
      once.push({ op, ...(key !== undefined ? { key } : {}), ...(error ? { error } : {}) });
    },
    async get(key) {
      check('get', key);
      return inner.get(key);
    },
    async put(key, body) {
      check('put', key);
      return inner.put(key, body);
    },
    async putIfAbsent(key, body) {
      check('putIfAbsent', key);
      return inner.putIfAbsent(key, body);
    },
    async list(prefix) {
      check('list', prefix);
      return inner.list(prefix);
    },
  };
}
