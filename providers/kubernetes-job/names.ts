// Kubernetes naming rules: Prefect's `_slugify_name`, `_slugify_label_key` and
// `_slugify_label_value`, finished where Prefect left a TODO (labels must start and end
// with a letter or digit), and the API server's own checks so a bad name fails here.
import { slugify } from '../naming.js';

export { DNS_1123_LABEL } from '../naming.js';
/** A label key's prefix: an RFC 1123 subdomain. */
export const DNS_1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
/** A label key's name, or a non-empty label value. */
export const LABEL_TEXT = /^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;

/** Leaves room in a 63-character name for generateName's 5 characters (or our run suffix). */
export const NAME_SLUG_LENGTH = 45;

function trimToAlnum(text: string): string {
  return text.replace(/^[^A-Za-z0-9]+|[^A-Za-z0-9]+$/g, '');
}

/** Prefect's `_slugify_name`: letters, digits and `-`, lowercased, at most 45 characters. */
export function slugifyName(name: string): string {
  return slugify(name, { maxLength: NAME_SLUG_LENGTH, pattern: /[^a-zA-Z0-9-]+/ });
}

export interface LabelSlugOptions {
  /**
   * Default true: Prefect 2's KubernetesJob lowercases. Prefect 3's worker
   * (prefect_kubernetes/utilities.py at PrefectHQ/prefect ce79dd3) passes `lowercase=False`.
   */
  lowercase?: boolean;
}

/** Prefect's `_slugify_label_key`: `prefix/name`, prefix ≤ 253, name ≤ 63; the original when nothing is left. */
export function slugifyLabelKey(key: string, options: LabelSlugOptions = {}): string {
  const { lowercase } = options;
  const slash = key.indexOf('/');
  const prefix = slash >= 0 ? key.slice(0, slash) : null;
  const name = slash >= 0 ? key.slice(slash + 1) : key;
  const nameSlug =
    trimToAlnum(slugify(name, { maxLength: 63, pattern: /[^a-zA-Z0-9_.-]+/, lowercase })) || name;
  if (prefix === null) return nameSlug;
  const prefixSlug =
    trimToAlnum(slugify(prefix, { maxLength: 253, pattern: /[^a-zA-Z0-9.-]+/, lowercase })) || prefix;
  return `${prefixSlug}/${nameSlug}`;
}

/** Prefect's `_slugify_label_value`: ≤ 63 of letters, digits, `-`, `_`, `.`; the original when nothing is left. */
export function slugifyLabelValue(value: string, options: LabelSlugOptions = {}): string {
  const { lowercase } = options;
  return trimToAlnum(slugify(value, { maxLength: 63, pattern: /[^a-zA-Z0-9_.-]+/, lowercase })) || value;
}

/** Why the API server would refuse this label key, or undefined. */
export function labelKeyProblem(key: string): string | undefined {
  const slash = key.indexOf('/');
  const prefix = slash >= 0 ? key.slice(0, slash) : null;
  const name = slash >= 0 ? key.slice(slash + 1) : key;
  if (prefix !== null && (prefix.length > 253 || !DNS_1123_SUBDOMAIN.test(prefix))) {
    return `the prefix '${prefix}' must be a DNS subdomain (lowercase letters, digits, '-' and '.')`;
  }
  if (name.length > 63 || !LABEL_TEXT.test(name)) {
    return `the name '${name}' must be 1-63 letters, digits, '-', '_' or '.', starting and ending with a letter or digit`;
  }
  return undefined;
}

export function labelValueProblem(value: string): string | undefined {
  if (value === '') return undefined;
  if (value.length > 63 || !LABEL_TEXT.test(value)) {
    return `the value '${value}' must be at most 63 letters, digits, '-', '_' or '.', starting and ending with a letter or digit`;
  }
  return undefined;
}
