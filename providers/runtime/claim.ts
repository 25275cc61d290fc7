// The in-store claim: before a provider's create, one submit per flow run wins the
// put-if-absent of `runs/<flow-run id>/claim` (an S3 conditional write in AWS, an
// exclusive create locally). Only the holder creates; the others wait to find what it
// made. A holder that died leaves a claim that expires after the lease, and the next
// generation (`claim.2`, `claim.3`, …) is won the same way, so exactly one submit acts
// at a time even then. A holder whose create failed before reaching the provider
// releases its claim, so the workflow's retry need not wait for the lease.
import { randomUUID } from 'node:crypto';
import * as z from 'zod';
import type { DocumentStore } from '../../core/store.js';

export const CLAIM_GENERATIONS = 20;

const ClaimSchema = z.object({
  owner: z.string(),
  claimed_at: z.iso.datetime(),
  generation: z.number().int().positive(),
  released: z.boolean().optional(),
});
export type ClaimRecord = z.infer<typeof ClaimSchema>;

export function claimKey(flowRunId: string, generation = 1): string {
  return generation === 1 ? `runs/${flowRunId}/claim` : `runs/${flowRunId}/claim.${generation}`;
}

export type ClaimOutcome =
  | { won: true; key: string; record: ClaimRecord }
  | { won: false; holder: ClaimRecord; key: string };

export interface ClaimOptions {
  /** Who is asking; a claim of the same owner is its own (a retried write whose answer was lost). */
  owner?: string;
  /** A claim older than this is taken to belong to a submit that died. */
  leaseMs: number;
  now: () => number;
}

function parse(body: string | undefined): ClaimRecord | undefined {
  if (body === undefined) return undefined;
  try {
    const parsed = ClaimSchema.safeParse(JSON.parse(body));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}

export class Claims {
  constructor(private readonly store: DocumentStore) {}

  /** Tries to become the one submit for this flow run. */
  async acquire(flowRunId: string, options: ClaimOptions): Promise<ClaimOutcome> {
    const owner = options.owner ?? randomUUID();
    for (let generation = 1; generation <= CLAIM_GENERATIONS; generation++) {
      const key = claimKey(flowRunId, generation);
      const record: ClaimRecord = { owner, claimed_at: new Date(options.now()).toISOString(), generation };
      if (await this.store.putIfAbsent(key, JSON.stringify(record))) return { won: true, key, record };
      const holder = parse(await this.store.get(key));
      if (!holder) continue; // unreadable: treat as spent, use the next generation
      if (holder.owner === owner && !holder.released) return { won: true, key, record: holder };
      const expired = options.now() - Date.parse(holder.claimed_at) > options.leaseMs;
      if (holder.released || expired) continue;
      return { won: false, holder, key };
    }
    // every generation spent: the flow run has been retried far more than any workflow does
    const key = claimKey(flowRunId, CLAIM_GENERATIONS);
    const holder = parse(await this.store.get(key)) ?? {
      owner: 'unknown',
      claimed_at: new Date(0).toISOString(),
      generation: CLAIM_GENERATIONS,
    };
    return { won: false, holder, key };
  }

  /** Gives a claim up (only its holder does): the next submit need not wait for the lease. */
  async release(won: { key: string; record: ClaimRecord }): Promise<void> {
    await this.store.put(won.key, JSON.stringify({ ...won.record, released: true }));
  }
}
