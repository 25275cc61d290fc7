// The document store as every workflow step uses it: each read and write under the one
// retry loop, so one S3 `SlowDown`, 503 or timeout is tried again instead of ending a
// healthy run; what is still failing after that is a ProviderTransientError (the workflow
// retries the step). Permanent errors (a missing bucket, a denied read, a bad key) pass
// through unchanged, with their own names and advice.
import { ProviderPermanentError } from '../../core/errors.js';
import type { DocumentStore } from '../../core/store.js';
import { causeOf, type RetryOptions, retrying } from './retry.js';

export class RetryingStore implements DocumentStore {
  constructor(
    readonly inner: DocumentStore,
    private readonly options: RetryOptions = {},
  ) {}

  get location(): string {
    return this.inner.location;
  }

  private async run<T>(what: string, call: () => Promise<T>): Promise<T> {
    try {
      return await retrying(`${what} (store ${this.inner.location})`, call, this.options);
    } catch (error) {
      if (error instanceof ProviderPermanentError && causeOf(error) !== undefined) throw causeOf(error);
      throw error;
    }
  }

  get(key: string): Promise<string | undefined> {
    return this.run(`reading ${key}`, () => this.inner.get(key));
  }

  put(key: string, body: string): Promise<void> {
    return this.run(`writing ${key}`, () => this.inner.put(key, body));
  }

  /**
   * A retried conditional write whose first answer was lost reports `false` (the key is
   * there: our own write). Callers that must know who wrote it put an owner in the body
   * and read it back (claims do).
   */
  putIfAbsent(key: string, body: string): Promise<boolean> {
    return this.run(`writing ${key} if absent`, () => this.inner.putIfAbsent(key, body));
  }

  list(prefix: string): Promise<string[]> {
    return this.run(`listing ${prefix}`, () => this.inner.list(prefix));
  }
}

/** The store wrapped once: wrapping a RetryingStore again would multiply attempts. */
export function retryingStore(store: DocumentStore, options?: RetryOptions): DocumentStore {
  return store instanceof RetryingStore ? store : new RetryingStore(store, options);
}
