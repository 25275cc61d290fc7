// A provider from a driver: the driver speaks one API (find by idempotency key, create,
// start, status, stop, remove, logs); the runtime owns what every provider shares —
// create-or-adopt under the in-store claim, the log-tail policy, and cleanup by key.
import type * as z from 'zod';
import { ProviderPermanentError, ProviderTransientError } from '../../core/errors.js';
import type { Block } from '../blocks.js';
import type {
  InfraStatus,
  Provider,
  ProviderSpec,
  StopRequest,
  Submission,
  SubmitContext,
  Target,
} from '../port.js';
import { type ClaimOutcome, Claims } from './claim.js';
import { boundedTail, DEFAULT_TAIL, type TailPolicy } from './logs.js';
import { backoffMs, DEFAULT_RETRY, type RetryPolicy } from './retry.js';
import { retryingStore } from './store.js';

/** What a driver found of a flow run's infrastructure. */
export interface Found<H> {
  handle: H;
  /** False when it was created but not started (a submit that died in between): the runtime starts it. */
  started: boolean;
}

export interface Driver<B extends Block, R, H> {
  readonly handleSchema: z.ZodType<H>;
  /** The handle for people: an ARN, a name. */
  identify(handle: H): string;
  /** What exists for this flow run, found by its idempotency key and owned by it (its flow-run label). */
  find(target: Target<B>, request: R): Promise<Found<H> | undefined>;
  /**
   * What must exist before create and is safe to repeat (a task definition, a looked-up
   * network): retried inside by the driver's own calls, done once per submit, never
   * repeated by the runtime's create attempts. Returns the request create sends.
   */
  prepare?(target: Target<B>, request: R): Promise<R>;
  /**
   * Creates it, in one try: the runtime looks for it before trying again. A ProviderPermanentError of kind `conflict` means it exists already: the
   * runtime finds and adopts it. Any other failure after the request may have reached the
   * provider is looked for before it is rethrown.
   */
  create(target: Target<B>, request: R): Promise<Found<H>>;
  /** Starts what `create` made, for APIs where those are two calls (Docker, Cloud Run). */
  start?(target: Target<B>, request: R, handle: H): Promise<H>;
  status(target: Target<B>, handle: H): Promise<InfraStatus>;
  /** Sends the stop and returns; a handle that is gone already is not an error. */
  stop(target: Target<B>, handle: H, request: StopRequest): Promise<void>;
  /** After the run: removes what is left (the handle may be undefined: nothing was found). */
  remove?(target: Target<B>, request: R, handle: H | undefined): Promise<void>;
  /** The last lines of output, read only once the run has ended. */
  logs?(target: Target<B>, handle: H, lines: number): Promise<string | undefined>;
}

export interface RuntimeOptions {
  /** A claim older than this is taken to belong to a submit that died (ms). */
  claimLeaseMs?: number;
  /** How long a submit that lost the claim waits for the holder's infrastructure to appear (ms). */
  claimWaitMs?: number;
  /** Pause between looks while waiting (ms). */
  claimPollMs?: number;
  tail?: Partial<TailPolicy>;
  /** Attempts and backoff of create (each create is one try; the runtime looks before the next). */
  retry?: Partial<RetryPolicy>;
  now?: () => number;
  sleep?: (ms: number) => Promise<void>;
}

export const DEFAULT_CLAIM_LEASE_MS = 120_000;
const DEFAULT_CLAIM_WAIT_MS = 30_000;
const DEFAULT_CLAIM_POLL_MS = 250;

const FINAL = new Set(['succeeded', 'failed', 'missing']);

export function isFinal(status: InfraStatus): boolean {
  return FINAL.has(status.phase);
}

export function defineProvider<B extends Block, R, H>(
  spec: ProviderSpec<B, R>,
  driver: Driver<B, R, H>,
  options: RuntimeOptions = {},
): Provider<B, R, H> {
  const leaseMs = options.claimLeaseMs ?? DEFAULT_CLAIM_LEASE_MS;
  const waitMs = options.claimWaitMs ?? DEFAULT_CLAIM_WAIT_MS;
  const pollMs = options.claimPollMs ?? DEFAULT_CLAIM_POLL_MS;
  const now = options.now ?? Date.now;
  const retry: RetryPolicy = { ...DEFAULT_RETRY, ...options.retry };
  const tailPolicy: TailPolicy = { ...DEFAULT_TAIL, ...options.tail };
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((done) => setTimeout(done, ms)));

  const submission = (handle: H, adopted: boolean): Submission<H> => ({
    handle,
    identifier: driver.identify(handle),
    adopted,
  });

  /** Adopts what was found, starting it first when it was only created. */
  async function adopt(target: Target<B>, request: R, found: Found<H>): Promise<Submission<H>> {
    const handle =
      found.started || !driver.start ? found.handle : await driver.start(target, request, found.handle);
    return submission(handle, true);
  }

  /** Lost the claim: wait for the holder's infrastructure, or for its lease to end. */
  async function waitForHolder(
    target: Target<B>,
    request: R,
    lost: Extract<ClaimOutcome, { won: false }>,
    context: SubmitContext,
    claims: Claims,
  ): Promise<Submission<H> | Extract<ClaimOutcome, { won: true }>> {
    const until = Math.min(now() + waitMs, context.deadline ?? Number.POSITIVE_INFINITY);
    let holder = lost.holder;
    for (;;) {
      const found = await driver.find(target, request);
      if (found?.started) return submission(found.handle, true);
      const expired = now() - Date.parse(holder.claimed_at) > leaseMs;
      if (expired || holder.released) {
        const again = await claims.acquire(target.flowRun.id, { leaseMs, now, ...owner(context) });
        if (again.won) return again;
        holder = again.holder;
      }
      if (now() + pollMs > until) {
        throw new ProviderTransientError(
          `another submit for flow run ${target.flowRun.id} holds its claim (since ${holder.claimed_at}) and has not started anything yet; looking again later (a claim expires ${Math.round(leaseMs / 1000)} s after it was taken)`,
        );
      }
      await sleep(pollMs);
    }
  }

  /**
   * Create, never blindly repeated: after a transient failure (the answer may have been
   * lost after the provider acted) the runtime looks for what it made before trying again.
   */
  async function createUnderClaim(target: Target<B>, request: R): Promise<Submission<H>> {
    for (let attempt = 1; ; attempt++) {
      let created: Found<H>;
      try {
        created = await driver.create(target, request);
      } catch (error) {
        const conflict = error instanceof ProviderPermanentError && error.kind === 'conflict';
        const transient = error instanceof ProviderTransientError;
        if (transient && attempt < retry.attempts) await retry.sleep(backoffMs(attempt, retry));
        // a conflict means it exists; any other failure may have happened after the provider acted
        const found = await driver.find(target, request).catch(() => undefined);
        if (found) return adopt(target, request, found);
        if (conflict) {
          throw new ProviderPermanentError(
            `${error.message}; and nothing owned by flow run ${target.flowRun.id} was found under that name: the name is taken by something else`,
            { cause: error },
          );
        }
        if (!transient) throw error;
        if (attempt >= retry.attempts) {
          throw new ProviderTransientError(
            attempt === 1
              ? error.message
              : `create failed ${attempt} times (looked for it after each), last: ${error.message}`,
            { cause: error },
          );
        }
        continue;
      }
      if (created.started || !driver.start) return submission(created.handle, false);
      return submission(await driver.start(target, request, created.handle), false);
    }
  }

  return {
    ...spec,
    handleSchema: driver.handleSchema,

    async submit(target, context) {
      const request = spec.build(target);
      const found = await driver.find(target, request);
      // started: adopt it; created but not started: only the claim's holder may start it
      if (found?.started) return submission(found.handle, true);
      const claims = new Claims(retryingStore(context.store));
      let claim = await claims.acquire(target.flowRun.id, { leaseMs, now, ...owner(context) });
      if (!claim.won) {
        const waited = await waitForHolder(target, request, claim, context, claims);
        if (!('won' in waited)) return waited;
        claim = waited;
      }
      // Holding the claim: what a holder before us made (and maybe did not start) is ours to adopt.
      const again = await driver.find(target, request);
      if (again) return adopt(target, request, again);
      try {
        const prepared = driver.prepare ? await driver.prepare(target, request) : request;
        return await createUnderClaim(target, prepared);
      } catch (error) {
        // Refused before anything was made: give the claim up so a retry need not wait for the lease.
        if (error instanceof ProviderPermanentError) await claims.release(claim).catch(() => undefined);
        throw error;
      }
    },

    async status(target, handle) {
      const status = await driver.status(target, handle);
      if (!isFinal(status) || status.logs_tail !== undefined || !driver.logs) return status;
      const logs = driver.logs;
      const tail = await boundedTail(() => logs(target, handle, tailPolicy.lines), tailPolicy);
      return tail === undefined ? status : { ...status, logs_tail: tail };
    },

    stop: (target, handle, request) => driver.stop(target, handle, request),

    async cleanup(target, given) {
      const request = spec.build(target);
      let handle = given;
      if (handle === undefined) {
        try {
          handle = (await driver.find(target, request))?.handle;
        } catch (error) {
          // nothing can be running where the place it would run does not exist
          if (!(error instanceof ProviderPermanentError && error.kind === 'not-found')) throw error;
        }
      }
      if (handle !== undefined) {
        const status = await driver.status(target, handle);
        if (!isFinal(status)) {
          await driver.stop(target, handle, {
            reason: `Cleaned up by the flow-run submitter for flow run ${target.flowRun.id}`,
            graceSeconds: 0,
            force: true,
          });
        }
      }
      await driver.remove?.(target, request, handle);
    },
  };

  function owner(context: SubmitContext): { owner?: string } {
    return context.owner ? { owner: context.owner } : {};
  }
}
