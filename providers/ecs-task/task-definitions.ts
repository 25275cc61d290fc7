// Find-or-register: an identical definition (same content hash, so same family) is
// reused across runs and cold starts; registration happens once per content, retried
// with backoff when ECS throttles it. Deregistration touches only what we registered.
// Concurrent first submits: in one process they share one find-or-register; across
// processes (Lambda containers) each may register, and each then keeps the family's lowest
// ACTIVE revision and deregisters its own duplicate, so the family converges on one.
import {
  DeregisterTaskDefinitionCommand,
  DescribeTaskDefinitionCommand,
  type ECSClient,
  ListTaskDefinitionsCommand,
  RegisterTaskDefinitionCommand,
  type RegisterTaskDefinitionCommandInput,
  type TaskDefinition,
} from '@aws-sdk/client-ecs';
import { ProviderPermanentError } from '../../core/errors.js';
import { awsErrorName, causeOf, type RetryPolicy, withRetry } from './aws.js';
import { MANAGED_BY_TAG, MANAGED_BY_VALUE } from './definition.js';

export interface EnsuredDefinition {
  arn: string;
  /**
   * False when an identical ACTIVE definition was found (or another submit in this process
   * found or registered it, or the one registered here was a duplicate given up for it).
   */
  registered: boolean;
}

function isNotFound(error: unknown): boolean {
  const cause = causeOf(error);
  return (
    error instanceof ProviderPermanentError &&
    awsErrorName(cause) === 'ClientException' &&
    /unable to describe task definition/i.test((cause as Error).message)
  );
}

const explainRegister = (error: unknown): string | undefined => {
  const text = error instanceof Error ? error.message : String(error);
  if (/role/i.test(text)) {
    return `ECS refused the task definition (${text}): check task_role_arn and execution_role_arn (they must exist and trust ecs-tasks.amazonaws.com)`;
  }
  return `ECS refused the task definition (${text}): check image, cpu, memory, task_definition and the other fields named there`;
};

/** `arn:…:task-definition/family:7` → `{ family, revision: 7 }` */
function revisionOf(arn: string): { family: string; revision: number } | undefined {
  const name = arn.split('/').at(-1) ?? '';
  const at = name.lastIndexOf(':');
  const revision = Number(name.slice(at + 1));
  return at > 0 && Number.isInteger(revision) ? { family: name.slice(0, at), revision } : undefined;
}

export class TaskDefinitions {
  /** family → ARN of an ACTIVE revision, for the container's life (warm starts make no call). */
  private readonly known = new Map<string, string>();
  /** family → the find-or-register under way: concurrent submits in one process share it. */
  private readonly pending = new Map<string, Promise<EnsuredDefinition>>();

  constructor(private readonly retry: RetryPolicy) {}

  /** The definition (a family: its latest ACTIVE revision), or undefined when it is not ACTIVE. */
  async describe(ecs: ECSClient, taskDefinition: string): Promise<TaskDefinition | undefined> {
    const found = await this.describeAny(ecs, taskDefinition);
    return found?.status === 'ACTIVE' ? found : undefined;
  }

  private async describeAny(ecs: ECSClient, taskDefinition: string): Promise<TaskDefinition | undefined> {
    try {
      const out = await withRetry(
        'DescribeTaskDefinition',
        () => ecs.send(new DescribeTaskDefinitionCommand({ taskDefinition })),
        this.retry,
      );
      return out.taskDefinition;
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw error;
    }
  }

  async ensure(ecs: ECSClient, input: RegisterTaskDefinitionCommandInput): Promise<EnsuredDefinition> {
    const family = input.family ?? '';
    const cached = this.known.get(family);
    if (cached) return { arn: cached, registered: false };
    const pending = this.pending.get(family);
    if (pending) return { arn: (await pending).arn, registered: false };
    const started = this.findOrRegister(ecs, input).finally(() => this.pending.delete(family));
    this.pending.set(family, started);
    return started;
  }

  private async findOrRegister(
    ecs: ECSClient,
    input: RegisterTaskDefinitionCommandInput,
  ): Promise<EnsuredDefinition> {
    const family = input.family ?? '';
    const described = await this.describeAny(ecs, family);
    // ECS describes a family's latest ACTIVE revision; moto its latest, even INACTIVE: then look further
    const found =
      described?.status === 'ACTIVE'
        ? described.taskDefinitionArn
        : described
          ? await this.lowestActive(ecs, family)
          : undefined;
    if (found) {
      this.known.set(family, found);
      return { arn: found, registered: false };
    }
    const out = await withRetry(
      'RegisterTaskDefinition',
      () => ecs.send(new RegisterTaskDefinitionCommand(input)),
      this.retry,
      explainRegister,
    );
    const arn = out.taskDefinition?.taskDefinitionArn;
    if (!arn) throw new ProviderPermanentError(`RegisterTaskDefinition for '${family}' returned no ARN`);
    const kept = await this.converge(ecs, family, arn);
    this.known.set(family, kept);
    return { arn: kept, registered: kept === arn };
  }

  /**
   * The family's lowest ACTIVE revision (ECS lists in ascending order; the first page holds it).
   * Also finds a reusable revision when DescribeTaskDefinition(family) answered with an
   * INACTIVE latest one (moto does, where ECS would describe the latest ACTIVE).
   */
  private async lowestActive(ecs: ECSClient, family: string): Promise<string | undefined> {
    const page = await withRetry(
      'ListTaskDefinitions',
      () => ecs.send(new ListTaskDefinitionsCommand({ familyPrefix: family, status: 'ACTIVE', sort: 'ASC' })),
      this.retry,
    );
    let lowest: { arn: string; revision: number } | undefined;
    for (const arn of page.taskDefinitionArns ?? []) {
      const parsed = revisionOf(arn);
      // familyPrefix matches prefixes: this family's revisions only
      if (parsed?.family === family && (!lowest || parsed.revision < lowest.revision))
        lowest = { arn, revision: parsed.revision };
    }
    return lowest?.arn;
  }

  /**
   * After registering `arn`: concurrent cold starts may have registered the same content too.
   * Everyone keeps the lowest ACTIVE revision and deregisters their own if it is not that one,
   * so the family ends with one. Runs name the family, never a revision, so a deregistered
   * duplicate breaks no run. Best effort: a failure here keeps `arn` (one extra revision).
   */
  private async converge(ecs: ECSClient, family: string, arn: string): Promise<string> {
    try {
      const lowest = await this.lowestActive(ecs, family);
      const mine = revisionOf(arn)?.revision;
      const theirs = lowest ? revisionOf(lowest)?.revision : undefined;
      if (!lowest || mine === undefined || theirs === undefined || theirs >= mine) return arn;
      await withRetry(
        'DeregisterTaskDefinition',
        () => ecs.send(new DeregisterTaskDefinitionCommand({ taskDefinition: arn })),
        this.retry,
      );
      return lowest;
    } catch {
      return arn;
    }
  }

  /** Forget a family (e.g. RunTask found it inactive): the next ensure looks again. */
  forget(family: string): void {
    this.known.delete(family);
  }

  /** Deregisters the ACTIVE revisions of a family that carry our managed-by tag; returns their ARNs. */
  async deregister(ecs: ECSClient, family: string): Promise<string[]> {
    this.forget(family);
    const arns: string[] = [];
    let nextToken: string | undefined;
    do {
      const page = await withRetry(
        'ListTaskDefinitions',
        () =>
          ecs.send(
            new ListTaskDefinitionsCommand({
              familyPrefix: family,
              status: 'ACTIVE',
              ...(nextToken ? { nextToken } : {}),
            }),
          ),
        this.retry,
      );
      // familyPrefix matches prefixes: keep this family's revisions only
      arns.push(
        ...(page.taskDefinitionArns ?? []).filter((arn) => arn.split('/').at(-1)?.split(':')[0] === family),
      );
      nextToken = page.nextToken;
    } while (nextToken);
    const done: string[] = [];
    for (const arn of arns) {
      const out = await withRetry(
        'DescribeTaskDefinition',
        () => ecs.send(new DescribeTaskDefinitionCommand({ taskDefinition: arn, include: ['TAGS'] })),
        this.retry,
      );
      const ours = out.tags?.some((tag) => tag.key === MANAGED_BY_TAG && tag.value === MANAGED_BY_VALUE);
      if (!ours) continue;
      await withRetry(
        'DeregisterTaskDefinition',
        () => ecs.send(new DeregisterTaskDefinitionCommand({ taskDefinition: arn })),
        this.retry,
      );
      done.push(arn);
    }
    return done;
  }
}
