// The one retry loop: every provider call and every store, secret or token read goes
// through it. Transient failures are tried again with full-jitter backoff (or the
// server's Retry-After) while attempts and the deadline allow; the rest end at once.
// SDK-level retries stay off where this loop runs, so the attempts are bounded in one place.
import { ProviderPermanentError, ProviderTransientError } from '../../core/errors.js';
import { type Classifier, classify, type Verdict } from './classify.js';

export interface RetryPolicy {
  /** Tries per call, the first included. */
  attempts: number;
  baseMs: number;
  capMs: number;
  /** No retry starts after this moment (epoch ms); undefined: attempts alone bound it. */
  deadline?: number;
  sleep: (ms: number) => Promise<void>;
  random: () => number;
  now: () => number;
}

export const DEFAULT_RETRY: RetryPolicy = {
  attempts: 4,
  baseMs: 500,
  capMs: 8000,
  sleep: (ms) => new Promise((done) => setTimeout(done, ms)),
  random: Math.random,
  now: Date.now,
};

/** Full jitter: a random wait up to min(cap, base·2^(attempt-1)). */
export function backoffMs(attempt: number, policy: Pick<RetryPolicy, 'baseMs' | 'capMs' | 'random'>): number {
  return Math.round(policy.random() * Math.min(policy.capMs, policy.baseMs * 2 ** (attempt - 1)));
}

/** What to tell a person about a permanent failure: the field to fix. Undefined: the service's words. */
export type Explain = (error: unknown, verdict: Verdict) => string | undefined;

export interface RetryOptions {
  policy?: Partial<RetryPolicy>;
  classifiers?: readonly Classifier[];
  explain?: Explain;
}

/** The error the SDK or server gave, behind one of ours. */
export function causeOf(error: unknown): unknown {
  return error instanceof Error && 'cause' in error ? error.cause : undefined;
}

/** An error already classified by this loop passes through unchanged (nested retrying calls). */
function ours(error: unknown): error is ProviderTransientError | ProviderPermanentError {
  return error instanceof ProviderTransientError || error instanceof ProviderPermanentError;
}

/**
 * Runs `call` under the policy. Throws ProviderTransientError (attempts or deadline spent:
 * the workflow's Retry takes over) or ProviderPermanentError with `kind` permanent,
 * conflict or not-found, each with the original error as cause.
 */
export async function retrying<T>(
  what: string,
  call: () => Promise<T>,
  options: RetryOptions = {},
): Promise<T> {
  const policy: RetryPolicy = { ...DEFAULT_RETRY, ...options.policy };
  for (let attempt = 1; ; attempt++) {
    try {
      return await call();
    } catch (error) {
      if (ours(error)) throw error;
      const verdict = classify(error, options.classifiers);
      if (verdict.kind !== 'transient') {
        const hint = options.explain?.(error, verdict);
        throw new ProviderPermanentError(`${what} failed: ${hint ?? verdict.reason}`, {
          cause: error,
          kind: verdict.kind,
        });
      }
      const wait = Math.max(backoffMs(attempt, policy), verdict.retryAfterMs ?? 0);
      const pastDeadline = policy.deadline !== undefined && policy.now() + wait > policy.deadline;
      if (attempt >= policy.attempts || pastDeadline) {
        throw new ProviderTransientError(
          `${what} failed ${attempt} time${attempt === 1 ? '' : 's'}, last with ${verdict.reason}`,
          { cause: error },
        );
      }
      await policy.sleep(wait);
    }
  }
}
