// Names providers accept, derived from a block or flow-run name: Prefect's slug rules
// (python-slugify) and a per-flow-run suffix that makes a name deterministic, so a
// redelivered event targets what the first delivery created.
import { createHash } from 'node:crypto';
import { idempotencyKey } from './identity.js';

export interface SlugOptions {
  /** Cut to at most this many characters (then trailing separators dropped). */
  maxLength?: number;
  /** What to replace with `-`; global. Default: anything but letters, digits and `-`. */
  pattern?: RegExp;
  /** Default true, like python-slugify. */
  lowercase?: boolean;
}

const DEFAULT_PATTERN = /[^-a-zA-Z0-9]+/g;

/**
 * python-slugify's `slugify`, as Prefect calls it: apostrophes → `-`, accents folded to ASCII
 * (other non-ASCII dropped; python-slugify transliterates them), lowercased, `1,000` → `1000`,
 * runs of disallowed characters → `-`, repeated `-` collapsed, `-` trimmed, then truncated.
 */
export function slugify(text: string, options: SlugOptions = {}): string {
  const pattern = options.pattern ?? DEFAULT_PATTERN;
  let out = text.replace(/'+/g, '-');
  out = out
    .normalize('NFKD')
    .replace(/\p{M}/gu, '')
    .replace(/[^\p{ASCII}]/gu, '');
  if (options.lowercase ?? true) out = out.toLowerCase();
  out = out.replace(/(?<=\d),(?=\d)/g, '');
  out = out.replace(new RegExp(pattern.source, 'g'), '-');
  out = trimDashes(out.replace(/-{2,}/g, '-'));
  if (options.maxLength && out.length > options.maxLength) out = trimDashes(out.slice(0, options.maxLength));
  return out;
}

function trimDashes(text: string): string {
  return text.replace(/^-+|-+$/g, '');
}

export const RUN_SUFFIX_LENGTH = 12;

/**
 * 12 hex characters from the flow run's idempotency key. Hashed rather than cut from the id:
 * Prefect 3 flow-run ids are UUIDv7, whose leading characters are a timestamp shared by runs
 * created in the same millisecond.
 */
export function runSuffix(flowRunId: string): string {
  return createHash('sha256').update(idempotencyKey(flowRunId)).digest('hex').slice(0, RUN_SUFFIX_LENGTH);
}

/** `<slug>-<run suffix>`; `fallback-<run suffix>` when the name slugs to nothing. */
export function runName(slug: string, flowRunId: string, fallback = 'prefect'): string {
  return `${slug || fallback}-${runSuffix(flowRunId)}`;
}

/** RFC 1123 label: Kubernetes object names and namespaces, ACI group names, DNS names. */
export const DNS_1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
