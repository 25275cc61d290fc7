// Find-or-register: an identical definition (same content hash, so same family) is
// reused across runs and cold starts; registration happens once per content, retried
// with backoff when ECS throttles it. Deregistration touches only what we registered.
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
  /** False when an identical ACTIVE definition was found. */
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

export class TaskDefinitions {
  /** family → ARN of an ACTIVE revision, for the container's life (warm starts make no call). */
  private readonly known = new Map<string, string>();

  constructor(private readonly retry: RetryPolicy) {}

  async describe(ecs: ECSClient, family: string): Promise<TaskDefinition | undefined> {
    try {
      const out = await withRetry(
        'DescribeTaskDefinition',
        () => ecs.send(new DescribeTaskDefinitionCommand({ taskDefinition: family })),
        this.retry,
      );
      return out.taskDefinition?.status === 'ACTIVE' ? out.taskDefinition : undefined;
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw error;
    }
  }

  async ensure(ecs: ECSClient, input: RegisterTaskDefinitionCommandInput): Promise<EnsuredDefinition> {
    const family = input.family ?? '';
    const cached = this.known.get(family);
    if (cached) return { arn: cached, registered: false };
    const found = await this.describe(ecs, family);
    if (found?.taskDefinitionArn) {
      this.known.set(family, found.taskDefinitionArn);
      return { arn: found.taskDefinitionArn, registered: false };
    }
    const out = await withRetry(
      'RegisterTaskDefinition',
      () => ecs.send(new RegisterTaskDefinitionCommand(input)),
      this.retry,
      explainRegister,
    );
    const arn = out.taskDefinition?.taskDefinitionArn;
    if (!arn) throw new ProviderPermanentError(`RegisterTaskDefinition for '${family}' returned no ARN`);
    this.known.set(family, arn);
    return { arn, registered: true };
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
