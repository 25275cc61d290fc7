// Turns zod issues into problems that name the field and say what is expected.
import type { z } from 'zod';
import type { Problem } from './errors.js';

/** Keys longer than this are cut in messages (a path must not echo a megabyte key). */
export const SHOWN_KEY_LENGTH = 64;

/** A key as a message shows it: cut to SHOWN_KEY_LENGTH characters, saying how long it was. */
export function shownKey(key: string): string {
  return key.length > SHOWN_KEY_LENGTH ? `${key.slice(0, SHOWN_KEY_LENGTH)}…(${key.length} characters)` : key;
}

/** Shown quoted (`["__proto__"]`), so a refusal of one reads as the key it is. */
export const PROTOTYPE_KEYS: ReadonlySet<string> = new Set(['__proto__', 'constructor', 'prototype']);

export function formatPath(path: readonly PropertyKey[], prefix = ''): string {
  let out = prefix;
  for (const part of path) {
    if (typeof part === 'number') out += `[${part}]`;
    else {
      const key = String(part);
      const plain =
        key.length <= SHOWN_KEY_LENGTH && /^[A-Za-z_][A-Za-z0-9_]*$/.test(key) && !PROTOTYPE_KEYS.has(key);
      out += plain ? (out ? `.${key}` : key) : `[${JSON.stringify(shownKey(key))}]`;
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

/** Past these, no "did you mean" is looked for: the edit distance is O(name × candidate). */
const HINT_MAX_NAME = 64;
const HINT_MAX_CANDIDATES = 200;

/** The known name closest to a typo, if it is close enough to be the one meant. */
export function closest(name: string, known: readonly string[]): string | undefined {
  if (name.length > HINT_MAX_NAME || known.length > HINT_MAX_CANDIDATES) return undefined;
  const limit = Math.max(2, Math.floor(name.length / 3));
  let best: string | undefined;
  let bestDistance = Number.POSITIVE_INFINITY;
  for (const candidate of known) {
    // lengths this far apart cannot be within the limit (and long candidates cost the most)
    if (Math.abs(candidate.length - name.length) > limit) continue;
    const d = distance(name.toLowerCase(), candidate.toLowerCase());
    if (d < bestDistance) {
      best = candidate;
      bestDistance = d;
    }
  }
  return best !== undefined && bestDistance <= limit ? best : undefined;
}

const MAX_KEY_PROBLEMS = 20;

/** A value as a message quotes it: JSON, cut to a readable length. */
export function shownValue(value: unknown): string {
  const text = JSON.stringify(value) ?? String(value);
  return text.length > SHOWN_KEY_LENGTH
    ? `${text.slice(0, SHOWN_KEY_LENGTH)}…(${text.length} characters)`
    : text;
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
      // one problem per unknown key, each with its own path (the first few: a message stays readable)
      if (issue.keys.length > MAX_KEY_PROBLEMS) {
        problems.push({
          path: formatPath(issue.path, prefix),
          message: `${issue.keys.length} unknown fields (the first ${MAX_KEY_PROBLEMS} are listed): remove them`,
        });
      }
      for (const key of issue.keys.slice(0, MAX_KEY_PROBLEMS)) {
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
