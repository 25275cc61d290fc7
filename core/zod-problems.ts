// Turns zod issues into problems that name the field and say what is expected.
import type { z } from 'zod';
import type { Problem } from './errors.js';

export function formatPath(path: readonly PropertyKey[], prefix = ''): string {
  let out = prefix;
  for (const part of path) {
    if (typeof part === 'number') out += `[${part}]`;
    else {
      const key = String(part);
      const plain = /^[A-Za-z_][A-Za-z0-9_]*$/.test(key);
      out += plain ? (out ? `.${key}` : key) : `[${JSON.stringify(key)}]`;
    }
  }
  return out;
}

function describe(issue: z.core.$ZodIssue): string {
  if (issue.code === 'invalid_type' && /received undefined$/.test(issue.message)) {
    return `required: expected ${issue.expected}`;
  }
  return issue.message.replace(/^Invalid input: /, '');
}

export interface ProblemOptions {
  /** Path prefix, e.g. `infrastructure`. */
  prefix?: string;
  /** Field names known at the level of an unknown key, for "did you mean" hints. */
  knownFields?: (path: readonly PropertyKey[]) => readonly string[];
  /** Extra words for a problem, from the full path (e.g. where the value came from). */
  annotate?: (path: readonly PropertyKey[]) => string | undefined;
}

function distance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0] ?? 0;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const here = row[j] ?? 0;
      row[j] = Math.min(here + 1, (row[j - 1] ?? 0) + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = here;
    }
  }
  return row[b.length] ?? 0;
}

/** The known name closest to a typo, if it is close enough to be the one meant. */
export function closest(name: string, known: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Number.POSITIVE_INFINITY;
  for (const candidate of known) {
    const d = distance(name.toLowerCase(), candidate.toLowerCase());
    if (d < bestDistance) {
      best = candidate;
      bestDistance = d;
    }
  }
  return best !== undefined && bestDistance <= Math.max(2, Math.floor(name.length / 3)) ? best : undefined;
}

export function problemsFrom(error: z.ZodError, options: ProblemOptions | string = {}): Problem[] {
  const opts = typeof options === 'string' ? { prefix: options } : options;
  const prefix = opts.prefix ?? '';
  const problems: Problem[] = [];
  const withNote = (path: readonly PropertyKey[], message: string) => {
    const note = opts.annotate?.(path);
    return note ? `${message} (${note})` : message;
  };
  for (const issue of error.issues) {
    if (issue.code === 'unrecognized_keys') {
      // one problem per unknown key, each with its own path
      for (const key of issue.keys) {
        const path = [...issue.path, key];
        const guess = opts.knownFields ? closest(key, opts.knownFields(issue.path)) : undefined;
        const hint = guess ? `did you mean '${guess}'?` : 'check the spelling';
        problems.push({
          path: formatPath(path, prefix),
          message: withNote(path, `unknown field: ${hint} (unknown fields are rejected, not ignored)`),
        });
      }
      continue;
    }
    problems.push({ path: formatPath(issue.path, prefix), message: withNote(issue.path, describe(issue)) });
  }
  return problems;
}
