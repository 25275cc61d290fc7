// Where a task's container logs (awslogs driver) and the last lines written there.

import { type CloudWatchLogsClient, GetLogEventsCommand } from '@aws-sdk/client-cloudwatch-logs';
import type { ContainerDefinition } from '@aws-sdk/client-ecs';
import { taskId } from './identifier.js';
import type { LogLocation } from './status.js';

export const TAIL_LINES = 20;

/** The stream awslogs writes to: `prefix/container/taskId` (no prefix: no predictable stream). */
export function logLocation(
  container: ContainerDefinition | undefined,
  taskArn: string,
): LogLocation | undefined {
  const config = container?.logConfiguration;
  if (config?.logDriver !== 'awslogs' || !container?.name) return undefined;
  const options = config.options ?? {};
  const group = options['awslogs-group'];
  const prefix = options['awslogs-stream-prefix'];
  const region = options['awslogs-region'];
  if (!group || !prefix || !region) return undefined;
  return { group, stream: `${prefix}/${container.name}/${taskId(taskArn)}`, region };
}

/** The last lines of the stream, or undefined when there are none (yet) or they cannot be read. */
export async function tailLogs(
  client: CloudWatchLogsClient,
  location: LogLocation,
  lines = TAIL_LINES,
): Promise<string | undefined> {
  try {
    const out = await client.send(
      new GetLogEventsCommand({
        logGroupName: location.group,
        logStreamName: location.stream,
        startFromHead: false,
        limit: lines,
      }),
    );
    const text = (out.events ?? []).map((event) => (event.message ?? '').replace(/\n$/, '')).join('\n');
    return text || undefined;
  } catch {
    // Logs are a courtesy: a missing stream or a denied read must not change the run's outcome.
    return undefined;
  }
}
