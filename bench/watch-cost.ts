// Section 3: the cost of watching a run. The real workflow definition runs in the ASL
// interpreter against a simulated provider whose job lasts 1 min, 1 h or 24 h of simulated
// time. Retry waits are cut to 0 ms; a simulated clock (deps.now) advances instead by the
// interval of the retrier that fired, i.e. by what Step Functions would have waited.

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import * as z from 'zod';
import { NotImplementedError } from '../core/errors.js';
import { unwrap } from '../events/envelopes.js';
import { accept } from '../functions/lib/intake.js';
import { POLL_BUCKETS, type PollSchedule } from '../functions/lib/poll.js';
import { settingsFromEnv } from '../functions/lib/settings.js';
import { runDefinition, type WorkflowEvent } from '../functions/local/runner.js';
import type { EcsTaskBlock } from '../providers/ecs-task/block.js';
import type { InfraStatus, Provider, ProviderSpec } from '../providers/port.js';
import { loadSpec } from '../providers/registry.js';
import { benchUuid, sampleEvent } from './fixtures.js';
import { benchDeps } from './lib/deps.js';
import { dollars, int, type SectionResult, seconds, type Table, type Target } from './lib/report.js';
import {
  adaptiveWatch,
  costOf,
  fixedWatch,
  TRANSITIONS_PER_FIXED_POLL,
  type WatchFigures,
} from './lib/schedule.js';

export const DURATIONS = [60, 3600, 86_400] as const;
export const FIXED_POLL_SECONDS = 5;
export const HOUR_TRANSITIONS_TARGET = 40;
export const HOUR_LAG_TARGET_SECONDS = 120;
const SIM_START = Date.parse('2026-01-05T00:00:00.000Z');

/** Simulated time: moves only when a Watch retry fires, by that retrier's interval. */
class SimClock {
  ms = SIM_START;
  retries = 0;
  intervals: number[] = [];
  private waiters: { count: number; resolve: () => void }[] = [];

  advance(secondsWaited: number): void {
    this.ms += secondsWaited * 1000;
    this.retries++;
    this.intervals.push(secondsWaited);
    for (const waiter of this.waiters.filter((w) => w.count <= this.retries)) waiter.resolve();
    this.waiters = this.waiters.filter((w) => w.count > this.retries);
  }

  /** Resolves once `count` retries have moved the clock (the interpreter reports them as events). */
  async retriesSeen(count: number): Promise<void> {
    if (this.retries >= count) return;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      new Promise<void>((resolve) => this.waiters.push({ count, resolve })),
      new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`simulated clock: retry ${count} was never reported by the interpreter`)),
          10_000,
        );
      }),
    ]).finally(() => clearTimeout(timer));
  }
}

/** A provider whose job runs from submission for `durationSeconds` of simulated time, then succeeds. */
function simulatedProvider(spec: ProviderSpec, clock: SimClock, durationSeconds: number) {
  const sim = {
    submittedAt: Number.NaN,
    statusCalls: 0,
    /** Status answers that were not final: each makes Watch throw PollAgain, i.e. one retry. */
    notFinal: 0,
    detectedAt: undefined as number | undefined,
    cleanups: 0,
  };
  const provider: Provider = {
    ...spec,
    handleSchema: z.object({ job: z.string() }),
    async submit() {
      sim.submittedAt = clock.ms;
      return { handle: { job: 'job-1' }, identifier: 'sim::job-1', adopted: false };
    },
    async status(): Promise<InfraStatus> {
      sim.statusCalls++;
      if (clock.ms >= sim.submittedAt + durationSeconds * 1000) {
        sim.detectedAt ??= clock.ms;
        return { phase: 'succeeded', exit_code: 0 };
      }
      sim.notFinal++;
      return { phase: 'running' };
    },
    async stop() {},
    async cleanup() {
      sim.cleanups++;
    },
  };
  return { sim, provider };
}

/** The ECS spec if one is registered, else a stand-in with the ECS block's watch defaults. */
async function ecsSpec(): Promise<{ spec: ProviderSpec; real: boolean }> {
  try {
    return { spec: await loadSpec('ecs-task'), real: true };
  } catch (error) {
    if (!(error instanceof NotImplementedError)) throw error;
    const standIn: ProviderSpec<EcsTaskBlock, Record<string, never>> = {
      type: 'ecs-task',
      build: () => ({}),
      watchDefaults: (block) => ({
        pollSeconds: block.task_watch_poll_interval,
        startTimeoutSeconds: block.task_start_timeout_seconds,
      }),
    };
    return { spec: standIn as ProviderSpec, real: false };
  }
}

interface SimulatedRun extends WatchFigures {
  durationSeconds: number;
  state: string | undefined;
  /** Why the run ended as it did, when it did not complete. */
  reason: string | null;
  otherRetries: number;
  mismatches: string[];
  cleanups: number;
  wallMs: number;
  schedule: PollSchedule | undefined;
  model: WatchFigures;
}

async function simulate(durationSeconds: number, spec: ProviderSpec, index: number): Promise<SimulatedRun> {
  const home = await mkdtemp(join(tmpdir(), 'submitter-bench-watch-'));
  try {
    const clock = new SimClock();
    const { sim, provider } = simulatedProvider(spec, clock, durationSeconds);
    const { deps, reports } = benchDeps(join(home, 'store'), {
      loadSpec: async () => spec,
      loadProvider: async () => {
        // Watch computes the run's age before asking for status: let the clock catch up first.
        await clock.retriesSeen(sim.notFinal);
        return provider;
      },
      now: () => new Date(clock.ms),
    });
    let otherRetries = 0;
    /** Poll retriers whose IntervalSeconds is not the bucket their name says. */
    const mismatches: string[] = [];
    const onEvent = (event: WorkflowEvent) => {
      if (event.type !== 'StateRetried') return;
      const retrier = event.retry.retrier;
      const name = retrier.ErrorEquals[0] ?? '';
      const match = /^PollAgainIn(\d+)s$/.exec(name);
      if (event.state.name === 'Watch' && match) {
        if (Number(match[1]) !== retrier.IntervalSeconds) mismatches.push(name);
        clock.advance(retrier.IntervalSeconds ?? 1);
      } else otherRetries++;
    };
    const accepted = await accept(deps, unwrap(sampleEvent('ecs-task', benchUuid(index, 'c0000000'))));
    const start = performance.now();
    const { state, transitions } = await runDefinition(accepted.input, {
      deps,
      onEvent,
      retryIntervalOverrides: { Watch: 0 },
    });
    const wallMs = performance.now() - start;
    const schedule = state.run?.poll;
    const detectedAt = sim.detectedAt ?? Number.NaN;
    const endedAt = sim.submittedAt + durationSeconds * 1000;
    return {
      durationSeconds,
      transitions,
      statusCalls: sim.statusCalls,
      lagSeconds: (detectedAt - endedAt) / 1000,
      worstLagSeconds: clock.intervals.at(-1) ?? 0,
      state: reports[0]?.state ?? state.result?.state,
      reason: reports[0]?.state === 'Completed' ? null : (reports[0]?.reason ?? state.error?.Error ?? null),
      otherRetries,
      mismatches,
      cleanups: sim.cleanups,
      wallMs,
      schedule,
      model: schedule
        ? adaptiveWatch(durationSeconds, schedule)
        : adaptiveWatch(durationSeconds, DEFAULT_ECS),
    };
  } finally {
    await rm(home, { recursive: true, force: true });
  }
}

const DEFAULT_ECS: PollSchedule = { first_seconds: 5, cap_seconds: 120, growth: 2 };

function agrees(run: SimulatedRun): boolean {
  return (
    run.transitions === run.model.transitions &&
    run.statusCalls === run.model.statusCalls &&
    run.lagSeconds === run.model.lagSeconds &&
    run.otherRetries === 0 &&
    run.mismatches.length === 0
  );
}

function alternatives(first: number): Table {
  const schedules: [string, (d: number) => WatchFigures][] = [];
  const adaptive = (cap: number, growth: number): [string, (d: number) => WatchFigures] => [
    `first ${first} s, growth ${growth}, cap ${cap} s${cap === 120 && growth === 2 ? ' (deployed)' : ''}`,
    (d) => adaptiveWatch(d, { first_seconds: first, cap_seconds: cap, growth }),
  ];
  schedules.push(adaptive(120, 2), adaptive(60, 2), adaptive(300, 2), adaptive(600, 2));
  schedules.push(adaptive(120, 0.5), adaptive(120, 1), adaptive(120, 4));
  for (const fixed of [FIXED_POLL_SECONDS, 30, 60]) {
    schedules.push([`fixed ${fixed} s (Wait + Task + Choice)`, (d) => fixedWatch(d, fixed)]);
  }
  return {
    caption:
      'Schedule alternatives (computed from the schedule: transitions per run; lag for a job of exactly that length; worst lag = interval in effect when the job ends)',
    headers: [
      'schedule',
      '1 min: transitions',
      '1 min: lag / worst',
      '1 h: transitions',
      '1 h: worst lag',
      '1 h: cost',
      '24 h: transitions',
      '24 h: worst lag',
      '24 h: cost',
    ],
    rows: schedules.map(([name, figures]) => {
      const [m, h, d] = DURATIONS.map(figures) as [WatchFigures, WatchFigures, WatchFigures];
      return [
        name,
        int(m.transitions),
        `${seconds(m.lagSeconds)} / ${seconds(m.worstLagSeconds)}`,
        int(h.transitions),
        seconds(h.worstLagSeconds),
        dollars(costOf(h.transitions)),
        int(d.transitions),
        seconds(d.worstLagSeconds),
        dollars(costOf(d.transitions)),
      ];
    }),
  };
}

/** The lag/cost trade-off of the deployed schedule, in words, from the model. */
function tradeOff(deployed: PollSchedule): string {
  const at = (growth: number, d: number) => adaptiveWatch(d, { ...deployed, growth });
  const short = (growth: number) => {
    const m = at(growth, 60);
    return `growth ${growth}: ${seconds(m.lagSeconds)} late (worst ${seconds(m.worstLagSeconds)}), ${m.transitions} transitions for 1 min, ${at(growth, 3600).transitions} for 1 h`;
  };
  const perHour = Math.round(3600 / deployed.cap_seconds);
  return (
    `Trade-off: the cap sets the long-run cost and the worst lag (about ${perHour} polls per hour of run at cap ${deployed.cap_seconds} s; a job is seen at most ${seconds(deployed.cap_seconds)} after it ends); ` +
    `growth sets how soon the interval reaches the cap, i.e. how late short jobs are seen — ${[
      deployed.growth,
      1,
      0.5,
    ]
      .filter((g, i, all) => all.indexOf(g) === i)
      .map(short)
      .join('; ')}.`
  );
}

export async function watchCost(): Promise<SectionResult> {
  const { spec, real } = await ecsSpec();
  const runs: SimulatedRun[] = [];
  for (const [index, duration] of DURATIONS.entries()) runs.push(await simulate(duration, spec, index));
  const schedule = runs[0]?.schedule ?? DEFAULT_ECS;
  const hour = runs.find((r) => r.durationSeconds === 3600);
  const settings = settingsFromEnv({});
  const targets: Target[] = [
    {
      what: '1 h run: state transitions',
      target: `≤ ${HOUR_TRANSITIONS_TARGET}`,
      measured: String(hour?.transitions ?? 'n/a'),
      met: hour?.state === 'Completed' && hour.transitions <= HOUR_TRANSITIONS_TARGET,
    },
    {
      what: '1 h run: detection lag (this run / worst case at that age)',
      target: `≤ ${seconds(HOUR_LAG_TARGET_SECONDS)}`,
      measured: hour ? `${seconds(hour.lagSeconds)} / ${seconds(hour.worstLagSeconds)}` : 'n/a',
      met: hour?.state === 'Completed' && hour.worstLagSeconds <= HOUR_LAG_TARGET_SECONDS,
    },
    {
      what: 'every run ends Completed, cleaned up once',
      target: 'yes',
      measured: runs
        .map((r) => `${seconds(r.durationSeconds)}: ${r.state}, ${r.cleanups} cleanup`)
        .join('; '),
      met: runs.every((r) => r.state === 'Completed' && r.cleanups === 1),
    },
    {
      what: 'interpreter agrees with the schedule model',
      target: 'same transitions, status calls, lag',
      measured: runs.every(agrees) ? 'agrees' : 'differs (see JSON)',
      met: runs.every(agrees),
    },
  ];
  const fixedFor = (d: number) => fixedWatch(d, FIXED_POLL_SECONDS);
  return {
    id: 'watch_cost',
    title: '3. Cost of watching a run',
    notes: [
      'functions/workflow.asl.json run by runDefinition (aws-local-stepfunctions) with the real Prepare / infrastructure / Report handlers; only the provider is simulated (an ecs-task block whose job runs from submission for the given time, then exits 0).',
      `Provider spec: ${real ? 'the registered ecs-task spec' : 'ecs-task is not registered yet, so a stand-in spec with the ECS block defaults (poll 5 s, start timeout 120 s) is used'}. Settings: settingsFromEnv({}) = the deployed defaults (poll cap ${settings.pollCapSeconds} s, growth ${settings.pollGrowth}); the run's schedule came out as first ${schedule.first_seconds} s, cap ${schedule.cap_seconds} s, growth ${schedule.growth} (buckets ${POLL_BUCKETS.join(', ')} s).`,
      'Waits: retryIntervalOverrides {Watch: 0}; the simulated clock (deps.now) advances by the IntervalSeconds of the Watch retrier that fired (read from the StateRetried event), so each poll happens at the simulated time Step Functions would poll at.',
      'Transitions = states entered + retries, as runDefinition counts them (what Step Functions bills). Detection lag = simulated time between the job ending and the status call that saw it; "worst" = the interval in effect then (the lag a job ending just after a poll would see).',
      tradeOff(schedule),
      `Fixed ${FIXED_POLL_SECONDS} s poll (the anchors' loop: Submit → Wait → GetStatus → Choice) is computed: ${TRANSITIONS_PER_FIXED_POLL} transitions per poll + Prepare, Submit, Report, Cleanup. Cost at $0.025 per 1,000 transitions.`,
    ],
    tables: [
      {
        caption: 'Deployed schedule, run in the interpreter, vs a fixed 5 s poll',
        headers: [
          'job length',
          'transitions',
          'status calls',
          'lag (this run)',
          'worst lag',
          'cost / run',
          `fixed ${FIXED_POLL_SECONDS} s: transitions`,
          `fixed ${FIXED_POLL_SECONDS} s: cost / run`,
          'saving',
          'wall time',
        ],
        rows: runs.map((r) => {
          const fixed = fixedFor(r.durationSeconds);
          if (r.state !== 'Completed') {
            const why = `run ended ${r.state ?? 'without a report'}: ${r.reason ?? 'no reason given'}`;
            return [
              seconds(r.durationSeconds),
              why,
              '—',
              '—',
              '—',
              '—',
              int(fixed.transitions),
              dollars(costOf(fixed.transitions)),
              '—',
              `${Math.round(r.wallMs)} ms`,
            ];
          }
          return [
            seconds(r.durationSeconds),
            int(r.transitions),
            int(r.statusCalls),
            seconds(r.lagSeconds),
            seconds(r.worstLagSeconds),
            dollars(costOf(r.transitions)),
            int(fixed.transitions),
            dollars(costOf(fixed.transitions)),
            `${(fixed.transitions / r.transitions).toFixed(1)}× fewer`,
            `${Math.round(r.wallMs)} ms`,
          ];
        }),
      },
      alternatives(schedule.first_seconds),
    ],
    targets,
    data: {
      spec: real ? 'registered' : 'stand-in',
      schedule,
      runs: runs.map((r) => ({
        duration_seconds: r.durationSeconds,
        transitions: r.transitions,
        status_calls: r.statusCalls,
        lag_seconds: r.lagSeconds,
        worst_lag_seconds: r.worstLagSeconds,
        cost_usd: costOf(r.transitions),
        final_state: r.state,
        reason: r.reason,
        other_retries: r.otherRetries,
        retrier_mismatches: r.mismatches,
        wall_ms: r.wallMs,
        model: r.model,
        fixed_5s: fixedFor(r.durationSeconds),
        fixed_5s_cost_usd: costOf(fixedFor(r.durationSeconds).transitions),
      })),
    },
  };
}
