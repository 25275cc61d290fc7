// The workflow definition's shape: what makes it cheap (one transition per poll) and safe
// (every task caught; the catch path reports and cleans up).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  floorBucket,
  nextPollSeconds,
  POLL_BUCKETS,
  PollAgain,
  pollErrorName,
} from '../functions/lib/poll.js';
import { placeholders, substitute, workflowDefinition, workflowText } from '../functions/workflow.js';

type State = {
  Type: string;
  Next?: string;
  End?: boolean;
  Retry?: { ErrorEquals: string[]; IntervalSeconds?: number; BackoffRate?: number; MaxAttempts?: number }[];
  Catch?: { ErrorEquals: string[]; Next: string; ResultPath?: string }[];
};
const definition = workflowDefinition({ PrepareFunction: 'p', ReportFunction: 'r' }) as {
  States: Record<string, State>;
  StartAt: string;
};

describe('workflow definition', () => {
  it('has exactly the placeholders the CDK app and the local runner fill', () => {
    assert.deepEqual(placeholders(), ['PrepareFunction', 'ReportFunction']);
    assert.throws(() => substitute(workflowText(), { PrepareFunction: 'p' }), /ReportFunction/);
  });

  it('has one Watch retrier per poll bucket, each waiting exactly its bucket with no backoff', () => {
    const retriers = definition.States.Watch?.Retry ?? [];
    for (const seconds of POLL_BUCKETS) {
      const retrier = retriers.find((r) => r.ErrorEquals.includes(pollErrorName(seconds)));
      assert.ok(retrier, `no retrier for ${seconds} s`);
      assert.equal(retrier.IntervalSeconds, seconds);
      assert.equal(retrier.BackoffRate, 1);
      assert.ok((retrier.MaxAttempts ?? 0) >= 1_000_000);
    }
  });

  it('catches every task: Prepare → ReportRejected; Submit/Watch → Report → Cleanup', () => {
    const { States } = definition;
    for (const [name, state] of Object.entries(States)) {
      if (state.Type !== 'Task' || name === 'ReportRejected') continue;
      assert.ok(
        state.Catch?.some((c) => c.ErrorEquals.includes('States.ALL')),
        `${name} has no catch-all`,
      );
    }
    assert.equal(States.Prepare?.Catch?.[0]?.Next, 'ReportRejected');
    assert.equal(States.Submit?.Catch?.[0]?.Next, 'Report');
    assert.equal(States.Watch?.Catch?.[0]?.Next, 'Report');
    assert.equal(States.Report?.Next, 'Cleanup');
    assert.equal(States.Report?.Catch?.[0]?.Next, 'Cleanup');
    assert.equal(States.Cleanup?.End, true);
    // the happy path enters five states: each poll adds one retry, nothing else
    const path: string[] = [];
    for (let name: string | undefined = definition.StartAt; name; name = States[name]?.Next) path.push(name);
    assert.deepEqual(path, ['Prepare', 'Submit', 'Watch', 'Report', 'Cleanup']);
  });
});

describe('poll schedule', () => {
  const schedule = { first_seconds: 5, cap_seconds: 120, growth: 2 };

  it('starts at the block interval, grows with the run age, stops at the cap, and lands on a bucket', () => {
    assert.equal(nextPollSeconds(0, schedule), 5);
    assert.equal(nextPollSeconds(5, schedule), 10);
    assert.equal(nextPollSeconds(14, schedule), 20); // 28 → bucket 20
    assert.equal(nextPollSeconds(3600, schedule), 120);
    assert.equal(nextPollSeconds(10, { ...schedule, cap_seconds: 7 }), 5); // the cap is respected, rounded down
    for (let t = 0; t < 100_000; t += 37)
      assert.ok((POLL_BUCKETS as readonly number[]).includes(nextPollSeconds(t, schedule)));
  });

  it('a one-hour run costs at most 40 transitions with at most 2 minutes of detection lag', () => {
    let t = 0;
    let polls = 0;
    let lag = 0;
    while (t < 3600) {
      polls++;
      const wait = nextPollSeconds(t, schedule);
      if (t + wait >= 3600) lag = t + wait - 3600;
      t += wait;
    }
    polls++; // the poll that sees it ended
    const transitions = 4 + polls; // Prepare, Submit, Report, Cleanup + Watch entered once and retried per poll
    assert.ok(transitions <= 40, `transitions ${transitions}`);
    assert.ok(lag <= 120, `lag ${lag}`);
  });

  it('names poll errors after their wait', () => {
    const error = new PollAgain(30, 'running');
    assert.equal(error.name, 'PollAgainIn30s');
    assert.equal(floorBucket(0.5), 1);
    assert.equal(floorBucket(10_000), 600);
  });
});
