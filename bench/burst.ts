// Section 4: a burst of distinct flow runs, then one flow run delivered 100 times, straight
// into the ECS provider's `submit` (what a trigger delivery reaches once the execution name
// has deduplicated it), against a moto server this section starts and stops.
import { performance } from 'node:perf_hooks';
import {
  CreateClusterCommand,
  ECSClient,
  ListTaskDefinitionsCommand,
  ListTasksCommand,
} from '@aws-sdk/client-ecs';
import { NotImplementedError } from '../core/errors.js';
import { parseFlowRunEvent } from '../events/schema.js';
import type { Provider, Target } from '../providers/port.js';
import { loadProvider } from '../providers/registry.js';
import { resolveTarget } from '../providers/resolve.js';
import { type Moto, startMoto } from '../test/support/moto.js';
import { benchUuid } from './fixtures.js';
import { type Target as BenchTarget, int, ms, type SectionResult } from './lib/report.js';
import { median } from './lib/stats.js';

export const DISTINCT_RUNS = 1000;
export const DUPLICATE_DELIVERIES = 100;
export const CONCURRENCY = 25;
/** Keeps the whole bench within a few minutes even if moto is slow: later submits are not attempted. */
const PHASE_DEADLINE_MS = 150_000;

const BURST_CLUSTER = 'bench-burst';
const DUPLICATE_CLUSTER = 'bench-duplicates';

interface Phase {
  label: string;
  cluster: string;
  attempted: number;
  submitted: number;
  adopted: number;
  errors: number;
  firstErrors: string[];
  wallMs: number;
  latencies: number[];
  tasks: number;
  taskDefinitions: number;
}

/** A block the provider can run on moto: Fargate in the default VPC, with a container memory. */
function ecsEvent(flowRunId: string, cluster: string): Record<string, unknown> {
  return {
    flow_run: { id: flowRunId, name: `burst-${flowRunId.slice(-6)}`, parameters: { n: 1 } },
    infrastructure: {
      type: 'ecs-task',
      image: 'public.ecr.aws/docker/library/busybox:latest',
      cluster,
      cpu: 256,
      memory: 512,
      launch_type: 'FARGATE',
      env: { BENCH: 'burst' },
      labels: { bench: 'burst' },
    },
  };
}

async function targetFor(event: Record<string, unknown>): Promise<Target> {
  return resolveTarget(parseFlowRunEvent(event), undefined);
}

/** Runs `work(i)` for i < count with at most `concurrency` at once, until the deadline. */
async function pool(
  count: number,
  concurrency: number,
  deadline: number,
  work: (i: number) => Promise<void>,
): Promise<number> {
  let next = 0;
  const worker = async () => {
    while (next < count && performance.now() < deadline) await work(next++);
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
  return next;
}

async function countAll(
  list: (token: string | undefined) => Promise<{ items: number; next: string | undefined }>,
): Promise<number> {
  let total = 0;
  let token: string | undefined;
  do {
    const page = await list(token);
    total += page.items;
    token = page.next;
  } while (token);
  return total;
}

async function countTasks(ecs: ECSClient, cluster: string): Promise<number> {
  let total = 0;
  for (const desiredStatus of ['RUNNING', 'STOPPED'] as const) {
    total += await countAll(async (nextToken) => {
      const page = await ecs.send(
        new ListTasksCommand({ cluster, desiredStatus, nextToken, maxResults: 100 }),
      );
      return { items: page.taskArns?.length ?? 0, next: page.nextToken };
    });
  }
  return total;
}

async function countTaskDefinitions(ecs: ECSClient): Promise<number> {
  return countAll(async (nextToken) => {
    const page = await ecs.send(new ListTaskDefinitionsCommand({ nextToken, maxResults: 100 }));
    return { items: page.taskDefinitionArns?.length ?? 0, next: page.nextToken };
  });
}

async function runPhase(
  label: string,
  cluster: string,
  provider: Provider,
  targets: (i: number) => Promise<Target>,
  count: number,
  concurrency: number,
  ecs: ECSClient,
): Promise<Phase> {
  const phase: Phase = {
    label,
    cluster,
    attempted: 0,
    submitted: 0,
    adopted: 0,
    errors: 0,
    firstErrors: [],
    wallMs: 0,
    latencies: [],
    tasks: 0,
    taskDefinitions: 0,
  };
  const prepared = await Promise.all(Array.from({ length: count }, (_, i) => targets(i)));
  const start = performance.now();
  phase.attempted = await pool(count, concurrency, start + PHASE_DEADLINE_MS, async (i) => {
    const t0 = performance.now();
    try {
      const submission = await provider.submit(prepared[i] as Target);
      phase.submitted++;
      if (submission.adopted) phase.adopted++;
    } catch (error) {
      phase.errors++;
      const message = `${error instanceof Error ? error.name : 'Error'}: ${error instanceof Error ? error.message : String(error)}`;
      if (phase.firstErrors.length < 3 && !phase.firstErrors.includes(message))
        phase.firstErrors.push(message);
    } finally {
      phase.latencies.push(performance.now() - t0);
    }
  });
  phase.wallMs = performance.now() - start;
  phase.tasks = await countTasks(ecs, cluster);
  return phase;
}

/** Sets the env the SDK's standard configuration reads (so the provider's clients reach moto); returns an undo. */
function pointSdkAt(moto: Moto): () => void {
  const saved = new Map<string, string | undefined>();
  for (const [key, value] of Object.entries(moto.env())) {
    saved.set(key, process.env[key]);
    process.env[key] = value;
  }
  return () => {
    for (const [key, value] of saved) {
      if (value === undefined) delete process.env[key];
      else process.env[key] = value;
    }
  };
}

function notRun(reason: string, notes: string[] = []): SectionResult {
  return {
    id: 'burst',
    title: '4. Burst and duplicates against moto',
    notes: [...notes, `Not run: ${reason}`],
    tables: [],
    targets: [
      {
        what: `${int(DISTINCT_RUNS)} distinct runs → tasks`,
        target: int(DISTINCT_RUNS),
        measured: 'not run',
        met: false,
      },
      {
        what: `${DUPLICATE_DELIVERIES} deliveries of one run → tasks`,
        target: '1',
        measured: 'not run',
        met: false,
      },
    ],
    data: { ran: false, reason },
  };
}

const HOW = [
  `Provider: loadProvider('ecs-task') from providers/registry.ts (ecsTaskProvider, providers/ecs-task/index.ts), its SDK clients pointed at a moto server this section starts (test/support/moto.ts) through AWS_ENDPOINT_URL; a cluster per phase, the default VPC's subnets looked up by the provider, Fargate 256/512.`,
  `Burst: ${int(DISTINCT_RUNS)} distinct flow-run events (validated and resolved beforehand) submitted with ${CONCURRENCY} at a time; duplicates: ${DUPLICATE_DELIVERIES} submits of one flow run, all at once. Tasks counted afterwards with ListTasks (RUNNING + STOPPED); task definitions with ListTaskDefinitions.`,
  'Who deduplicates what: the trigger parks the event put-if-absent and starts the execution named fr-<flow-run id> — Step Functions keeps one execution per name, so redeliveries stop there; a submit that still runs twice (a Retry after a timeout, a redrive) must be caught by the provider, which looks for a task already started for the flow run (startedBy = its idempotency key; moto ignores clientToken). The duplicate phase measures that last layer alone, in its worst case: all deliveries at once.',
  'moto is one Python process: runs/s is bounded by it, not by ECS; compare it between runs of this bench, not with AWS.',
];

export async function burst(_root: string): Promise<SectionResult> {
  let provider: Provider;
  try {
    provider = await loadProvider('ecs-task');
  } catch (error) {
    if (
      error instanceof NotImplementedError ||
      (error as NodeJS.ErrnoException).code === 'ERR_MODULE_NOT_FOUND'
    )
      return notRun(
        `the ECS provider is not registered in providers/registry.ts yet (${(error as Error).message})`,
        HOW,
      );
    throw error;
  }
  let moto: Moto;
  try {
    moto = await startMoto();
  } catch (error) {
    return notRun(
      `moto could not be started: ${error instanceof Error ? error.message : String(error)}`,
      HOW,
    );
  }
  const restoreEnv = pointSdkAt(moto);
  try {
    // Tasks stay where RunTask leaves them: counting must not depend on how far moto advanced them.
    await moto.setTransition('ecs::task', { progression: 'manual', times: 1_000_000 });
    const ecs = new ECSClient(moto.clientConfig());
    for (const clusterName of [BURST_CLUSTER, DUPLICATE_CLUSTER])
      await ecs.send(new CreateClusterCommand({ clusterName }));

    const burstPhase = await runPhase(
      'distinct runs',
      BURST_CLUSTER,
      provider,
      (i) => targetFor(ecsEvent(benchUuid(i, 'd0000000'), BURST_CLUSTER)),
      DISTINCT_RUNS,
      CONCURRENCY,
      ecs,
    );
    burstPhase.taskDefinitions = await countTaskDefinitions(ecs);
    const one = ecsEvent(benchUuid(1, 'e0000000'), DUPLICATE_CLUSTER);
    const dupPhase = await runPhase(
      'one run, duplicate deliveries',
      DUPLICATE_CLUSTER,
      provider,
      () => targetFor(structuredClone(one)),
      DUPLICATE_DELIVERIES,
      DUPLICATE_DELIVERIES,
      ecs,
    );
    dupPhase.taskDefinitions = await countTaskDefinitions(ecs);
    ecs.destroy();

    const phases = [burstPhase, dupPhase];
    const perSecond = (p: Phase) => (p.attempted / p.wallMs) * 1000;
    const targets: BenchTarget[] = [
      {
        what: `${int(DISTINCT_RUNS)} distinct runs → tasks created`,
        target: int(DISTINCT_RUNS),
        measured: `${int(burstPhase.tasks)}${burstPhase.attempted < DISTINCT_RUNS ? ` (only ${burstPhase.attempted} attempted before the deadline)` : ''}`,
        met: burstPhase.tasks === DISTINCT_RUNS,
      },
      {
        what: `${int(DISTINCT_RUNS)} distinct runs → errors`,
        target: '0',
        measured: int(burstPhase.errors),
        met: burstPhase.errors === 0,
      },
      {
        what: `${DUPLICATE_DELIVERIES} deliveries of one run → tasks created`,
        target: '1',
        measured: int(dupPhase.tasks),
        met: dupPhase.tasks === 1,
      },
      {
        what: `${DUPLICATE_DELIVERIES} deliveries of one run → errors`,
        target: '0',
        measured: int(dupPhase.errors),
        met: dupPhase.errors === 0,
      },
    ];
    return {
      id: 'burst',
      title: '4. Burst and duplicates against moto',
      notes: [
        ...HOW,
        ...phases.flatMap((p) => p.firstErrors.map((e) => `${p.label}: error seen: ${e.slice(0, 300)}`)),
      ],
      tables: [
        {
          headers: [
            'phase',
            'submits',
            'concurrency',
            'runs/s',
            'median submit',
            'tasks created',
            'adopted',
            'errors',
            'task definitions (cumulative)',
            'wall time',
          ],
          rows: phases.map((p) => [
            p.label,
            int(p.attempted),
            p === burstPhase ? CONCURRENCY : DUPLICATE_DELIVERIES,
            perSecond(p).toFixed(1),
            ms(median(p.latencies)),
            int(p.tasks),
            int(p.adopted),
            int(p.errors),
            int(p.taskDefinitions),
            ms(p.wallMs),
          ]),
        },
      ],
      targets,
      data: {
        ran: true,
        phases: phases.map((p) => ({
          label: p.label,
          cluster: p.cluster,
          attempted: p.attempted,
          submitted: p.submitted,
          adopted: p.adopted,
          errors: p.errors,
          first_errors: p.firstErrors,
          runs_per_second: perSecond(p),
          median_submit_ms: median(p.latencies),
          wall_ms: p.wallMs,
          tasks_created: p.tasks,
          task_definitions_cumulative: p.taskDefinitions,
        })),
      },
    };
  } finally {
    restoreEnv();
    await moto.stop();
  }
}
