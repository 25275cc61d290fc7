// The log-tail policy, one for every provider: the last lines of a finished run, read
// once, bounded in lines, bytes and time, and never able to change a run's outcome.

export interface TailPolicy {
  lines: number;
  /** At most this many bytes of the end are kept (a line may be cut at its start). */
  bytes: number;
  timeoutMs: number;
}

export const DEFAULT_TAIL: TailPolicy = { lines: 20, bytes: 8192, timeoutMs: 5000 };

/** The last `lines` lines of text, no more than `bytes` of them. */
export function lastLines(text: string, policy: Pick<TailPolicy, 'lines' | 'bytes'> = DEFAULT_TAIL): string {
  const lines = text.split('\n');
  if (lines.at(-1) === '') lines.pop();
  let out = lines.slice(-policy.lines).join('\n');
  const encoded = Buffer.from(out, 'utf8');
  if (encoded.length > policy.bytes) out = encoded.subarray(encoded.length - policy.bytes).toString('utf8');
  return out;
}

/** Reads a tail under the policy; any failure or a slow read gives undefined. */
export async function boundedTail(
  read: () => Promise<string | undefined>,
  policy: TailPolicy = DEFAULT_TAIL,
): Promise<string | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<undefined>((done) => {
    timer = setTimeout(() => done(undefined), policy.timeoutMs);
  });
  try {
    const text = await Promise.race([read().catch(() => undefined), timeout]);
    return text ? lastLines(text, policy) : undefined;
  } finally {
    clearTimeout(timer);
  }
}
