// Named error classes. Step Functions Retry/Catch match on `name`, the CLI maps them
// to exit codes, and every message says what to fix.

export interface Problem {
  /** Where the problem is, e.g. `infrastructure.cpu` or `flow_run.id`. */
  path: string;
  /** What is wrong and what is expected. */
  message: string;
}

export class SubmitterError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** Input that can never succeed as given: a bad event, block, override or file. Not retried. */
export class InvalidInputError extends SubmitterError {
  readonly problems: Problem[];
  constructor(what: string, problems: Problem[], options?: { cause?: unknown }) {
    super(`${what}:\n${problems.map((p) => `  - ${p.path || '(root)'}: ${p.message}`).join('\n')}`, options);
    this.problems = problems;
  }
}

/** A trigger's wrapper (EventBridge, Pub/Sub push, cron) could not be unwrapped. */
export class EnvelopeError extends InvalidInputError {}

/** `infrastructure_block` names a block the store does not hold. */
export class BlockNotFoundError extends SubmitterError {
  constructor(
    readonly slug: string,
    where: string,
  ) {
    super(
      `infrastructure block '${slug}' was not found in ${where}; save it there first ` +
        `(e.g. 'submitter blocks put FILE --name ${slug.split('/')[1] ?? 'NAME'}') or fix the slug`,
    );
  }
}

/**
 * A call failed in a way that may pass on retry (throttling, 5xx, timeouts, dropped
 * connections): provider calls and store, secret and token reads alike. The one name the
 * workflow's Retry matches.
 */
export class ProviderTransientError extends SubmitterError {}

/** How a permanent failure reads to the code that called: refused, already exists, or gone. */
export type PermanentKind = 'permanent' | 'conflict' | 'not-found';

/** A provider call failed in a way that will not pass on retry (bad role, missing cluster…). */
export class ProviderPermanentError extends SubmitterError {
  readonly kind: PermanentKind;
  constructor(message: string, options?: { cause?: unknown; kind?: PermanentKind }) {
    super(message, options);
    this.kind = options?.kind ?? 'permanent';
  }
}

/** A provider type whose implementation has not landed yet. */
export class NotImplementedError extends SubmitterError {}

/** Lets a message name the error's class even when it was not one of ours. */
export function describeError(error: unknown): string {
  if (error instanceof Error) return error.message;
  return String(error);
}
