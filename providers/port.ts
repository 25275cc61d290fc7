// The one port every infrastructure type implements. `build` is pure (what `preview`
// prints); the rest talk to the provider. Identifiers are opaque strings each provider
// parses back (e.g. ECS `cluster::taskArn`).
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

export interface Submission {
  identifier: string;
  /** True when an existing run for this flow run was found and adopted instead of starting another. */
  adopted: boolean;
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

export interface Provider<B extends Block = Block, R = unknown> extends ProviderSpec<B, R> {
  /** Starts the infrastructure, or adopts the one already started for this flow run. */
  submit(target: Target<B>): Promise<Submission>;
  status(target: Target<B>, identifier: string): Promise<InfraStatus>;
  /** Asks it to stop, then forces it after `graceSeconds`. */
  kill(target: Target<B>, identifier: string, graceSeconds: number): Promise<void>;
  /** Makes sure nothing is left running or lingering. Without an identifier (submit failed half-way), finds it by flow run. */
  cleanup(target: Target<B>, identifier: string | undefined): Promise<void>;
}
