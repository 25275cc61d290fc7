// The one port every infrastructure type implements. `build` is pure (what `preview`
// prints); the rest talk to the provider. A provider is made from a driver by the shared
// runtime (providers/runtime/), which owns retries, claims, create-or-adopt and log tails.
// Submit returns a typed handle (zod schema per provider) that later steps get back.
import type * as z from 'zod';
import type { DocumentStore } from '../core/store.js';
import type { FlowRun } from '../events/schema.js';
import type { Block } from './blocks.js';

export type Phase = 'pending' | 'running' | 'succeeded' | 'failed' | 'missing';

export interface InfraStatus {
  phase: Phase;
  /** The flow run's exit code. With phase `failed`, null means it never ran (a crash, not a failure). */
  exit_code?: number | null;
  /** What a person should read: why it failed, what it waits for. */
  reason?: string;
  /** The last lines of output, when the provider can get them. */
  logs_tail?: string;
  /** Where to look for more: a log stream, a file, a console URL. */
  links?: Record<string, string>;
}

/** What Submit saves: the provider's typed handle (no secrets) and how people refer to it. */
export interface Submission<H = unknown> {
  handle: H;
  /** For people and reports: a task ARN, a container name, a process run key. */
  identifier: string;
  /** True when an existing run for this flow run was found and adopted instead of starting another. */
  adopted: boolean;
}

/** What Submit needs besides the target: where claims are kept, and who is asking. */
export interface SubmitContext {
  /** The document store holding `runs/<flow-run id>/claim`. */
  store: DocumentStore;
  /** Identifies this submit to the claim (default: a new random owner per call). */
  owner?: string;
  /** Epoch ms after which no retry starts (e.g. the function's remaining time). */
  deadline?: number;
}

/** Kill is a request: the watch loop sees the infrastructure stop. */
export interface StopRequest {
  /** What the infrastructure is told; also the reason reported. */
  reason: string;
  /** Seconds the flow run gets between the polite signal and the forced one. */
  graceSeconds: number;
  /** Force it now (the grace period is over). */
  force: boolean;
}

export interface Target<B extends Block = Block> {
  block: B;
  flowRun: FlowRun;
}

export interface WatchDefaults {
  /** First poll interval (the block's poll interval field, where it has one). */
  pollSeconds: number;
  /** How long the infrastructure may stay pending before the run is Crashed. */
  startTimeoutSeconds: number;
}

/** The pure half of a provider: no SDK, no I/O. `preview` and Prepare use only this. */
export interface ProviderSpec<B extends Block = Block, R = unknown> {
  readonly type: B['type'];
  /** Pure: block + flow run → the exact provider request. */
  build(target: Target<B>): R;
  watchDefaults(block: B): WatchDefaults;
}

export interface Provider<B extends Block = Block, R = unknown, H = unknown> extends ProviderSpec<B, R> {
  /** The handle Submit saves in the workflow state, parsed back on every later step. */
  readonly handleSchema: z.ZodType<H>;
  /** Starts the infrastructure, or adopts the one already started for this flow run. */
  submit(target: Target<B>, context: SubmitContext): Promise<Submission<H>>;
  status(target: Target<B>, handle: H): Promise<InfraStatus>;
  /** Asks it to stop (politely, or by force) and returns; status shows when it has. */
  stop(target: Target<B>, handle: H, request: StopRequest): Promise<void>;
  /** Makes sure nothing is left running or lingering. Without a handle (submit failed half-way), finds it by flow run. */
  cleanup(target: Target<B>, handle: H | undefined): Promise<void>;
}
