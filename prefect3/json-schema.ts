// A small JSON Schema checker for the subset Prefect's work-pool `variables` schemas use
// (every keyword in prefect3/templates/*.json): type (integer, number, string, boolean,
// object, array, null), enum, const, properties, required, additionalProperties, items,
// anyOf, allOf, oneOf, `#/definitions/…` and `#/$defs/…` $ref, minimum, maximum,
// exclusiveMinimum, exclusiveMaximum, minLength, maxLength, pattern, minItems, maxItems.
// Keywords it does not know (title, description, format, default…) are annotations: ignored,
// as JSON Schema ignores `format` by default. Bounded: recursion stops at MAX_DEPTH.
import type { Problem } from '../core/errors.js';
import { MAX_DEPTH } from '../core/input-guard.js';
import { formatPath, shownValue } from '../core/zod-problems.js';

type Schema = Record<string, unknown>;

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function typeOf(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  if (typeof value === 'number') return Number.isInteger(value) ? 'integer' : 'number';
  return typeof value;
}

function hasType(value: unknown, type: string): boolean {
  const actual = typeOf(value);
  return actual === type || (type === 'number' && actual === 'integer');
}

function equal(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

class Checker {
  constructor(private readonly root: Schema) {}

  resolve(ref: string): Schema | undefined {
    const match = /^#\/(definitions|\$defs)\/([^/]+)$/.exec(ref);
    if (!match) return undefined;
    const group = this.root[match[1] ?? ''];
    if (!isObject(group)) return undefined;
    const found = group[match[2] ?? ''];
    return isObject(found) ? found : undefined;
  }

  check(value: unknown, schema: unknown, path: PropertyKey[], prefix: string, depth: number): Problem[] {
    const at = (message: string): Problem[] => [{ path: formatPath(path, prefix), message }];
    if (schema === true || schema === undefined) return [];
    if (schema === false) return at('is not allowed here: remove it');
    if (!isObject(schema)) return [];
    if (depth > MAX_DEPTH) return at(`is nested more than ${MAX_DEPTH} levels deep in the schema`);
    const problems: Problem[] = [];
    if (typeof schema.$ref === 'string') {
      const target = this.resolve(schema.$ref);
      if (!target) return at(`the work pool's schema refers to ${schema.$ref}, which it does not define`);
      problems.push(...this.check(value, target, path, prefix, depth + 1));
    }
    if (schema.type !== undefined) {
      const types = Array.isArray(schema.type) ? schema.type : [schema.type];
      if (!types.some((t) => typeof t === 'string' && hasType(value, t))) {
        return at(`expected ${types.join(' or ')}, got ${typeOf(value)} ${shownValue(value)}`);
      }
    }
    if (Array.isArray(schema.enum) && !schema.enum.some((option) => equal(option, value))) {
      problems.push(
        ...at(`must be one of ${schema.enum.map((o) => shownValue(o)).join(', ')}; got ${shownValue(value)}`),
      );
    }
    if ('const' in schema && !equal(schema.const, value)) {
      problems.push(...at(`must be ${shownValue(schema.const)}`));
    }
    if (typeof value === 'number') problems.push(...this.numeric(value, schema, at));
    if (typeof value === 'string') problems.push(...this.text(value, schema, at));
    if (Array.isArray(value)) {
      if (typeof schema.minItems === 'number' && value.length < schema.minItems) {
        problems.push(...at(`needs at least ${schema.minItems} items`));
      }
      if (typeof schema.maxItems === 'number' && value.length > schema.maxItems) {
        problems.push(...at(`takes at most ${schema.maxItems} items`));
      }
      if (schema.items !== undefined) {
        value.forEach((item, index) => {
          problems.push(...this.check(item, schema.items, [...path, index], prefix, depth + 1));
        });
      }
    }
    if (isObject(value)) problems.push(...this.object(value, schema, path, prefix, depth));
    if (Array.isArray(schema.allOf)) {
      for (const part of schema.allOf) problems.push(...this.check(value, part, path, prefix, depth + 1));
    }
    for (const keyword of ['anyOf', 'oneOf'] as const) {
      const options = schema[keyword];
      if (!Array.isArray(options) || options.length === 0) continue;
      const results = options.map((option) => this.check(value, option, path, prefix, depth + 1));
      const passing = results.filter((r) => r.length === 0).length;
      if (keyword === 'anyOf' ? passing === 0 : passing !== 1) {
        // one option: its own problems say more than "matches none of 1"
        if (results.length === 1) problems.push(...(results[0] ?? []));
        else {
          const shown = results.map((r) => r[0]?.message ?? 'matches').join('; or ');
          problems.push(
            ...at(`matches ${passing === 0 ? 'none' : 'more than one'} of the allowed forms (${shown})`),
          );
        }
      }
    }
    return problems;
  }

  private numeric(value: number, schema: Schema, at: (m: string) => Problem[]): Problem[] {
    if (typeof schema.minimum === 'number' && value < schema.minimum)
      return at(`must be at least ${schema.minimum}`);
    if (typeof schema.maximum === 'number' && value > schema.maximum)
      return at(`must be at most ${schema.maximum}`);
    if (typeof schema.exclusiveMinimum === 'number' && value <= schema.exclusiveMinimum) {
      return at(`must be more than ${schema.exclusiveMinimum}`);
    }
    if (typeof schema.exclusiveMaximum === 'number' && value >= schema.exclusiveMaximum) {
      return at(`must be less than ${schema.exclusiveMaximum}`);
    }
    return [];
  }

  private text(value: string, schema: Schema, at: (m: string) => Problem[]): Problem[] {
    if (typeof schema.minLength === 'number' && value.length < schema.minLength) {
      return at(`must be at least ${schema.minLength} characters`);
    }
    if (typeof schema.maxLength === 'number' && value.length > schema.maxLength) {
      return at(`must be at most ${schema.maxLength} characters`);
    }
    if (typeof schema.pattern === 'string') {
      let pattern: RegExp | undefined;
      try {
        pattern = new RegExp(schema.pattern, 'u');
      } catch {
        return at(
          `the work pool's schema has a pattern this checker cannot read (${shownValue(schema.pattern)})`,
        );
      }
      const risk = backtrackingRisk(schema.pattern);
      if (risk) {
        return at(
          `the work pool's schema has a pattern ${shownValue(schema.pattern)} that can take exponential time to match (${risk}): simplify it`,
        );
      }
      if (!pattern.test(value))
        return at(`must match ${shownValue(schema.pattern)}; got ${shownValue(value)}`);
    }
    return [];
  }

  private object(
    value: Record<string, unknown>,
    schema: Schema,
    path: PropertyKey[],
    prefix: string,
    depth: number,
  ): Problem[] {
    const problems: Problem[] = [];
    const properties = isObject(schema.properties) ? schema.properties : {};
    if (Array.isArray(schema.required)) {
      for (const name of schema.required) {
        if (typeof name === 'string' && !(name in value)) {
          problems.push({ path: formatPath([...path, name], prefix), message: 'is required' });
        }
      }
    }
    for (const [key, item] of Object.entries(value)) {
      if (Object.hasOwn(properties, key)) {
        problems.push(...this.check(item, properties[key], [...path, key], prefix, depth + 1));
      } else if (schema.additionalProperties !== undefined) {
        problems.push(...this.check(item, schema.additionalProperties, [...path, key], prefix, depth + 1));
      }
    }
    return problems;
  }
}

/** Every problem of `value` against `schema` (whose root holds the definitions), paths under `prefix`. */
export function checkSchema(
  value: unknown,
  schema: Schema,
  prefix: string,
  root: Schema = schema,
): Problem[] {
  return new Checker(root).check(value, schema, [], prefix, 0);
}

/**
 * Why a pattern may backtrack exponentially, or undefined: a repeated group (`*`, `+`, `{n,}`,
 * `{n,m}` with m > 1) that itself holds a quantifier or an alternation — `(a+)+`, `(a|a)*` — or a
 * back reference. A schema in a work pool is input, and JavaScript regular expressions have no
 * time limit, so such patterns are refused instead of run (the default templates use none).
 */
export function backtrackingRisk(source: string): string | undefined {
  const groups: { inner: boolean }[] = [];
  let inClass = false;
  for (let i = 0; i < source.length; i++) {
    const char = source[i];
    if (char === '\\') {
      const next = source[i + 1] ?? '';
      if (!inClass && /[1-9k]/.test(next)) return 'a back reference';
      i++;
      continue;
    }
    if (inClass) {
      if (char === ']') inClass = false;
      continue;
    }
    if (char === '[') inClass = true;
    else if (char === '(') groups.push({ inner: false });
    else if (char === '|') {
      const top = groups.at(-1);
      if (top) top.inner = true;
    } else if (char === ')') {
      const group = groups.pop();
      const repeated = repetitionAt(source, i + 1);
      if (group?.inner && repeated) return 'a repeated group that holds a quantifier or an alternation';
      const parent = groups.at(-1);
      if (parent && (group?.inner || repeated)) parent.inner = true;
    } else if (repetitionAt(source, i) || char === '?') {
      const top = groups.at(-1);
      if (top && char !== '?') top.inner = true;
    }
  }
  return undefined;
}

/** True when `source[at]` starts a quantifier that repeats (not `?`, `{0,1}` or `{1}`). */
function repetitionAt(source: string, at: number): boolean {
  const char = source[at];
  if (char === '*' || char === '+') return true;
  if (char !== '{') return false;
  const match = /^\{(\d+)(,(\d*))?\}/.exec(source.slice(at));
  if (!match) return false;
  if (match[2] === undefined) return Number(match[1]) > 1;
  return match[3] === '' || Number(match[3]) > 1;
}
