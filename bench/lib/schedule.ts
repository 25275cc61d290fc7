// The watch loop's cost, computed from the schedule alone (no interpreter): used for the
// cap/growth alternatives and the fixed-interval comparison, and checked against the
// interpreter run of the deployed definition.
import { nextPollSeconds, type PollSchedule } from '../../functions/lib/poll.js';

/** $ per state transition (Step Functions Standard: $0.025 per 1,000). */
export const PRICE_PER_TRANSITION = 0.025 / 1000;

/** States the deployed definition enters once per run: Prepare, Submit, Watch, Report, Cleanup. */
export const ONCE_PER_RUN = 5;
/** A Submit → Wait → GetStatus → Choice loop enters Prepare, Submit, Report, Cleanup once. */
export const ONCE_PER_RUN_FIXED = 4;
/** Wait + Task + Choice. */
export const TRANSITIONS_PER_FIXED_POLL = 3;

export interface WatchFigures {
  transitions: number;
  statusCalls: number;
  /** Seconds between the job ending and the status call that saw it end. */
  lagSeconds: number;
  /** The interval in effect when the job ended: the worst lag a job ending then could see. */
  worstLagSeconds: number;
}

/** The deployed definition: the first status call right after Submit, then one retry per poll. */
export function adaptiveWatch(durationSeconds: number, schedule: PollSchedule): WatchFigures {
  let t = 0;
  let calls = 1;
  let interval = nextPollSeconds(0, schedule);
  while (t < durationSeconds) {
    interval = nextPollSeconds(t, schedule);
    t += interval;
    calls++;
  }
  return {
    transitions: ONCE_PER_RUN + (calls - 1),
    statusCalls: calls,
    lagSeconds: t - durationSeconds,
    worstLagSeconds: interval,
  };
}

/** A fixed-interval loop (Wait first, then GetStatus, then Choice), as the anchors do. */
export function fixedWatch(durationSeconds: number, intervalSeconds: number): WatchFigures {
  const polls = Math.max(1, Math.ceil(durationSeconds / intervalSeconds));
  return {
    transitions: ONCE_PER_RUN_FIXED + TRANSITIONS_PER_FIXED_POLL * polls,
    statusCalls: polls,
    lagSeconds: polls * intervalSeconds - durationSeconds,
    worstLagSeconds: intervalSeconds,
  };
}

export function costOf(transitions: number): number {
  return transitions * PRICE_PER_TRANSITION;
}
