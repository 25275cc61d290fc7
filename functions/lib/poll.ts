// The watch loop's schedule. Each poll is one Step Functions transition: the Watch
// task throws `PollAgainIn<N>s` and the state's Retry for that name waits N seconds,
// so a poll costs no Wait or Choice state. The interval starts at the block's poll
// interval and grows with the run's age (×growth of the elapsed time) up to a cap;
// it is rounded down to one of the buckets the workflow definition has a retrier for.

/** Every interval the workflow can wait, in seconds. workflow.asl.json has one retrier per bucket. */
export const POLL_BUCKETS = [1, 2, 3, 5, 10, 15, 20, 30, 45, 60, 90, 120, 180, 300, 600] as const;

export interface PollSchedule {
  first_seconds: number;
  cap_seconds: number;
  /** Interval as a multiple of the time since submission (1 = doubling). */
  growth: number;
}

export function floorBucket(seconds: number): number {
  let chosen: number = POLL_BUCKETS[0];
  for (const bucket of POLL_BUCKETS) if (bucket <= seconds) chosen = bucket;
  return chosen;
}

/** Seconds until the next poll, for a run submitted `elapsedSeconds` ago. */
export function nextPollSeconds(elapsedSeconds: number, schedule: PollSchedule): number {
  const cap = Math.max(schedule.cap_seconds, POLL_BUCKETS[0]);
  const wanted = Math.min(
    cap,
    Math.max(schedule.first_seconds, schedule.growth * Math.max(0, elapsedSeconds)),
  );
  return floorBucket(wanted);
}

export function pollErrorName(seconds: number): string {
  return `PollAgainIn${seconds}s`;
}

/** Not a failure: the workflow's Retry for this name is how it waits before the next poll. */
export class PollAgain extends Error {
  constructor(
    readonly seconds: number,
    message: string,
  ) {
    super(message);
    this.name = pollErrorName(seconds);
  }
}

/** Step Functions' limit: the events one Standard execution's history holds. */
export const EXECUTION_HISTORY_LIMIT = 25_000;
/** Events each Watch poll writes at least (its Lambda task scheduled, started, failed with PollAgainIn…). */
export const EVENTS_PER_POLL = 3;
/** Events kept for everything but the polls: the other states, their retries, start and end. */
export const HISTORY_RESERVE = 1_000;
/** The most polls one execution may make: (25,000 − 1,000) / 3 = 8,000. */
export const MAX_POLLS = Math.floor((EXECUTION_HISTORY_LIMIT - HISTORY_RESERVE) / EVENTS_PER_POLL);
/** After the forced stop, how long Watch waits to see the infrastructure gone before reporting anyway. */
export const STOP_WAIT_SECONDS = 60;

/**
 * The most Watch polls one execution makes for a run watched to its timeout and then
 * stopped, at worst: the schedule up to the cap, then one poll a second through the kill
 * grace and the wait after the kill. Counting stops past `limit`. `reached`: the run age the
 * polls before the stop covered.
 */
export function countWatchPolls(
  schedule: PollSchedule,
  runTimeoutSeconds: number,
  killGraceSeconds: number,
  limit = Number.POSITIVE_INFINITY,
): { polls: number; reached: number } {
  const stopping = killGraceSeconds + STOP_WAIT_SECONDS + 1;
  let polls = 0;
  let elapsed = 0;
  while (elapsed <= runTimeoutSeconds && polls + stopping <= limit) {
    elapsed += nextPollSeconds(elapsed, schedule);
    polls++;
  }
  return { polls: polls + stopping, reached: elapsed };
}
