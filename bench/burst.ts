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
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { NotImplementedError } from '../core/errors.js';
import { S3Store } from '../core/s3-store.js';
import type { DocumentStore } from '../core/store.js';
import { parseFlowRunEvent } from '../events/schema.js';
import type { Provider, Target } from '../providers/port.js';
import { loadProvider } from '../providers/registry.js';
import { resolveTarget } from '../providers/resolve.js';
import { type Moto, startMoto } from '../test/support/moto.js';
import { type TriggerPhase, throughTrigger } from './burst-trigger.js';
import { benchUuid } from './fixtures.js';
import { type Target as BenchTarget, int, ms, type SectionResult } from './lib/report.js';
import { median } from './lib/stats.js';

export const DISTINCT_RUNS = 1000;
export const DUPLICATE_DELIVERIES = 100;
export const CONCURRENCY = 25;
/** Keeps the whole bench within a few minutes even if moto is slow: later submits are not attempted. */
const PHASE_DEADLINE_MS = 150_000;

const BURST_CLUSTER = 'bench-burst';
const SEQUENTIAL_CLUSTER = 'bench-duplicates-sequential';
const CONCURRENT_CLUSTER = 'bench-duplicates-concurrent';
const TRIGGER_CLUSTER = 'bench-duplicates-trigger';

interface Phase {
  label: string;
  cluster: string;
  concurrency: number;
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
  store: DocumentStore,
): Promise<Phase> {
  const phase: Phase = {
    label,
    cluster,
    concurrency,
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
      const submission = await provider.submit(prepared[i] as Target, { store });
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
  `Burst: ${int(DISTINCT_RUNS)} distinct flow-run events (validated and resolved beforehand) submitted ${CONCURRENCY} at a time. Duplicates: ${DUPLICATE_DELIVERIES} submits of one flow run, first one after another (what Step Functions retries and redrives of the one execution produce), then all at once (the worst case). Tasks counted afterwards with ListTasks (RUNNING + STOPPED); task definitions registered = ListTaskDefinitions after − before.`,
  'Who deduplicates what: the trigger parks the event put-if-absent and starts the execution named fr-<flow-run id>; Step Functions keeps one execution per name, so redeliveries stop there. A submit that still runs again, or concurrently (a Retry after a timeout, a redrive, direct calls), is caught by the provider runtime: it looks for a task already started for the flow run (ListTasks by startedBy = the idempotency key), then takes the in-store claim (an S3 conditional put of runs/<flow-run id>/claim, here in a moto bucket) so only one submit sends RunTask; the others wait to find its task and adopt it. RunTask also carries clientToken = the key (AWS makes it idempotent; moto ignores it, so here the claim is what counts).',
  `Through the trigger: ${DUPLICATE_DELIVERIES} EventBridge deliveries of one event, all at once, to the real trigger handler (createTriggerHandler + stepFunctionsStarter on a state machine of the real definition in moto). moto stores executions without running them, so the bench does each listed execution's Submit: one provider.submit with its parked event.`,
  'moto is one Python process: runs/s is bounded by it, not by ECS; compare it between runs of this bench, not with AWS.',
];

/** What the figures mean, when they say something is wrong. */
function findings(
  burstPhase: Phase,
  sequential: Phase,
  concurrent: Phase,
  viaTrigger: TriggerPhase,
): string[] {
  const out: string[] = [];
  if (viaTrigger.executions === 1 && viaTrigger.started > 1) {
    out.push(
      `The trigger answered "started" ${viaTrigger.started} times for one execution: StartExecution with the same name and the same input returns the existing execution instead of failing, so the trigger cannot tell those duplicates apart (only a different input raises ExecutionAlreadyExists). One execution, so no harm; its log line just says "execution started" each time.`,
    );
  }
  if (concurrent.tasks > 1 && sequential.tasks === 1) {
    out.push(
      `All-at-once deliveries started ${concurrent.tasks} tasks while one-after-another ones started 1: the in-store claim did not hold them to one RunTask; look at the claim keys (runs/<id>/claim*) in the bench bucket and at the errors above.`,
    );
  }
  if (burstPhase.taskDefinitions > 1) {
    out.push(
      `${burstPhase.taskDefinitions} task-definition revisions were registered for ${int(DISTINCT_RUNS)} runs of one identical block: concurrent first submits all miss the find (DescribeTaskDefinition) and each registers. Revisions stop at one per container once found, but a burst right after a block change registers about one per concurrent submit.`,
    );
  }
  return out;
}

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
    // claims live where they do in AWS: an S3 bucket, written with conditional puts
    const s3 = new S3Client({ ...moto.clientConfig(), forcePathStyle: true });
    await s3.send(new CreateBucketCommand({ Bucket: 'bench-claims' }));
    const store = new S3Store(s3, 'bench-claims');
    for (const clusterName of [BURST_CLUSTER, SEQUENTIAL_CLUSTER, CONCURRENT_CLUSTER, TRIGGER_CLUSTER])
      await ecs.send(new CreateClusterCommand({ clusterName }));

    const definitionsBefore = await countTaskDefinitions(ecs);
    const burstPhase = await runPhase(
      'distinct runs',
      BURST_CLUSTER,
      provider,
      (i) => targetFor(ecsEvent(benchUuid(i, 'd0000000'), BURST_CLUSTER)),
      DISTINCT_RUNS,
      CONCURRENCY,
      ecs,
      store,
    );
    burstPhase.taskDefinitions = (await countTaskDefinitions(ecs)) - definitionsBefore;
    const duplicates = async (label: string, cluster: string, concurrency: number, n: number) => {
      const one = ecsEvent(benchUuid(n, 'e0000000'), cluster);
      const before = await countTaskDefinitions(ecs);
      const phase = await runPhase(
        label,
        cluster,
        provider,
        () => targetFor(structuredClone(one)),
        DUPLICATE_DELIVERIES,
        concurrency,
        ecs,
        store,
      );
      phase.taskDefinitions = (await countTaskDefinitions(ecs)) - before;
      return phase;
    };
    const sequential = await duplicates('one run, deliveries one after another', SEQUENTIAL_CLUSTER, 1, 1);
    const concurrent = await duplicates(
      'one run, deliveries all at once',
      CONCURRENT_CLUSTER,
      DUPLICATE_DELIVERIES,
      2,
    );
    const viaTrigger = await throughTrigger(
      moto,
      provider,
      ecsEvent(benchUuid(3, 'e0000000'), TRIGGER_CLUSTER),
      DUPLICATE_DELIVERIES,
    );
    const triggerTasks = await countTasks(ecs, TRIGGER_CLUSTER);
    ecs.destroy();
    s3.destroy();

    const phases = [burstPhase, sequential, concurrent];
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
        what: `${DUPLICATE_DELIVERIES} deliveries of one run at once through the trigger → executions, tasks`,
        target: '1, 1',
        measured: `${int(viaTrigger.executions)}, ${int(triggerTasks)}`,
        met: viaTrigger.executions === 1 && triggerTasks === 1 && viaTrigger.errors === 0,
      },
      ...[sequential, concurrent].flatMap((p): BenchTarget[] => [
        {
          what: `${DUPLICATE_DELIVERIES} deliveries of one run, ${p.concurrency === 1 ? 'one after another' : 'all at once'} → tasks created`,
          target: '1',
          measured: `${int(p.tasks)} (${int(p.adopted)} adopted)`,
          met: p.tasks === 1,
        },
        {
          what: `${DUPLICATE_DELIVERIES} deliveries of one run, ${p.concurrency === 1 ? 'one after another' : 'all at once'} → errors`,
          target: '0',
          measured: int(p.errors),
          met: p.errors === 0,
        },
      ]),
    ];
    return {
      id: 'burst',
      title: '4. Burst and duplicates against moto',
      notes: [
        ...HOW,
        ...phases.flatMap((p) => p.firstErrors.map((e) => `${p.label}: error seen: ${e.slice(0, 300)}`)),
        ...viaTrigger.firstErrors.map((e) => `through the trigger: error seen: ${e.slice(0, 300)}`),
        ...findings(burstPhase, sequential, concurrent, viaTrigger),
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
            'task definitions registered',
            'wall time',
          ],
          rows: phases.map((p) => [
            p.label,
            int(p.attempted),
            p.concurrency,
            perSecond(p).toFixed(1),
            ms(median(p.latencies)),
            int(p.tasks),
            int(p.adopted),
            int(p.errors),
            int(p.taskDefinitions),
            ms(p.wallMs),
          ]),
        },
        {
          caption:
            'The whole chain: deliveries at once → trigger handler → StartExecution (moto) → one Submit per execution',
          headers: [
            'deliveries',
            'trigger answered',
            'executions',
            'submits',
            'tasks created',
            'errors',
            'wall time',
          ],
          rows: [
            [
              int(viaTrigger.deliveries),
              `${viaTrigger.started} started, ${viaTrigger.duplicate} duplicate`,
              int(viaTrigger.executions),
              int(viaTrigger.submits),
              int(triggerTasks),
              int(viaTrigger.errors),
              ms(viaTrigger.wallMs),
            ],
          ],
        },
      ],
      targets,
      data: {
        ran: true,
        through_trigger: { ...viaTrigger, tasks_created: triggerTasks },
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
          concurrency: p.concurrency,
          task_definitions_registered: p.taskDefinitions,
        })),
      },
    };
  } finally {
    restoreEnv();
    await moto.stop();
  }
}
