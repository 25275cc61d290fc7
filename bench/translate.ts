// Section 2: translation throughput — validate the event, apply overrides and validate
// the block, build the provider request — for every block type with a registered spec.
import { performance } from 'node:perf_hooks';
import { NotImplementedError } from '../core/errors.js';
import { type FlowRunEvent, parseFlowRunEvent } from '../events/schema.js';
import { BLOCK_TYPES, type BlockType } from '../providers/blocks.js';
import type { ProviderSpec, Target } from '../providers/port.js';
import { loadSpec } from '../providers/registry.js';
import { resolveTarget } from '../providers/resolve.js';
import { benchUuid, sampleEvent } from './fixtures.js';
import { type Target as BenchTarget, bytes, int, type SectionResult } from './lib/report.js';
import { median } from './lib/stats.js';

export const ECS_TARGET_PER_SECOND = 20_000;
const DISTINCT_EVENTS = 1024;

interface Rate {
  /** Best trial: what one core does when the machine leaves it alone. */
  perSecond: number;
  /** Median trial. */
  medianPerSecond: number;
  trials: number[];
}

const TRIALS = 5;

/** Runs `step` over and over in TRIALS trials of about `seconds / TRIALS` each (after a warm-up). */
async function rate(step: (i: number) => unknown | Promise<unknown>, seconds: number): Promise<Rate> {
  const warmUntil = performance.now() + Math.min(300, seconds * 200);
  for (let i = 0; performance.now() < warmUntil; i++) await step(i);
  const trials: number[] = [];
  let iterations = 0;
  for (let trial = 0; trial < TRIALS; trial++) {
    const start = performance.now();
    const until = start + (seconds * 1000) / TRIALS;
    let count = 0;
    while (performance.now() < until) {
      for (let k = 0; k < 64; k++, count++) await step(iterations++);
    }
    trials.push(count / ((performance.now() - start) / 1000));
  }
  return { perSecond: Math.max(...trials), medianPerSecond: median(trials), trials };
}

interface TypeResult {
  type: BlockType;
  implemented: boolean;
  error?: string;
  full?: Rate;
  parse?: Rate;
  resolve?: Rate;
  build?: Rate;
  requestBytes?: number;
}

async function measureType(type: BlockType, seconds: number): Promise<TypeResult> {
  let spec: ProviderSpec;
  try {
    spec = await loadSpec(type);
  } catch (error) {
    if (error instanceof NotImplementedError) return { type, implemented: false };
    throw error;
  }
  const raws = Array.from({ length: DISTINCT_EVENTS }, (_, i) => sampleEvent(type, benchUuid(i)));
  const pick = <T>(list: T[], i: number): T => list[i % list.length] as T;
  try {
    const parsed: FlowRunEvent[] = raws.map((raw) => parseFlowRunEvent(raw));
    const targets: Target[] = await Promise.all(parsed.map((event) => resolveTarget(event, undefined)));
    const request = spec.build(targets[0] as Target);
    const full = await rate(async (i) => {
      const event = parseFlowRunEvent(pick(raws, i));
      return spec.build(await resolveTarget(event, undefined));
    }, seconds);
    const parse = await rate((i) => parseFlowRunEvent(pick(raws, i)), seconds / 2);
    const resolve = await rate((i) => resolveTarget(pick(parsed, i), undefined), seconds / 2);
    const build = await rate((i) => spec.build(pick(targets, i)), seconds / 2);
    return {
      type,
      implemented: true,
      full,
      parse,
      resolve,
      build,
      requestBytes: Buffer.byteLength(JSON.stringify(request)),
    };
  } catch (error) {
    return { type, implemented: true, error: error instanceof Error ? error.message : String(error) };
  }
}

export async function translation(seconds = 1.5): Promise<SectionResult> {
  const results: TypeResult[] = [];
  for (const type of BLOCK_TYPES) results.push(await measureType(type, seconds));
  const perSecond = (r: Rate | undefined) => (r ? `${int(r.perSecond)}/s` : '—');
  const both = (r: Rate | undefined) =>
    r ? `${int(r.perSecond)}/s (median ${int(r.medianPerSecond)}/s)` : '—';
  const ecs = results.find((r) => r.type === 'ecs-task');
  const targets: BenchTarget[] = [
    {
      what: 'ecs-task: validate + overrides + build',
      target: `≥ ${int(ECS_TARGET_PER_SECOND)} events/s`,
      measured: ecs?.full
        ? `${int(ecs.full.perSecond)}/s (median trial ${int(ecs.full.medianPerSecond)}/s)`
        : ecs?.error
          ? `failed: ${ecs.error}`
          : 'not implemented (no spec registered)',
      met: (ecs?.full?.perSecond ?? 0) >= ECS_TARGET_PER_SECOND,
    },
  ];
  return {
    id: 'translation',
    title: '2. Translation throughput (one core)',
    notes: [
      `Per event: parseFlowRunEvent (zod) → resolveTarget (infra_overrides merged, block validated) → spec.build; the spec is whatever providers/registry.ts has registered at run time.`,
      `${DISTINCT_EVENTS} distinct events per type (bench/fixtures.ts: a realistic block, 4 overrides incl. a null removal), cycled, in this one Node process (one core: JS runs on one thread). ${TRIALS} trials per figure (${seconds} s in all) after a warm-up; the figure is the best trial — other work on this machine only ever slows a trial down — with the median trial beside it.`,
      'The three stage columns time each stage alone over precomputed inputs; they show where the time goes.',
    ],
    tables: [
      {
        headers: [
          'block type',
          'events/s, all stages',
          'parse event',
          'overrides + block',
          'build',
          'request size',
        ],
        rows: results.map((r) =>
          !r.implemented
            ? [r.type, 'not implemented', '—', '—', '—', '—']
            : r.error
              ? [r.type, `failed: ${r.error}`, '—', '—', '—', '—']
              : [
                  r.type,
                  both(r.full),
                  perSecond(r.parse),
                  perSecond(r.resolve),
                  perSecond(r.build),
                  bytes(r.requestBytes ?? 0),
                ],
        ),
      },
    ],
    targets,
    data: results.map((r) => ({
      type: r.type,
      implemented: r.implemented,
      error: r.error ?? null,
      events_per_second: r.full?.perSecond ?? null,
      events_per_second_median_trial: r.full?.medianPerSecond ?? null,
      trials: r.full?.trials ?? null,
      parse_per_second: r.parse?.perSecond ?? null,
      resolve_per_second: r.resolve?.perSecond ?? null,
      build_per_second: r.build?.perSecond ?? null,
      request_bytes: r.requestBytes ?? null,
    })),
  };
}
