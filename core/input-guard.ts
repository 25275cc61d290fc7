// The first check on anything read from outside (an event, an envelope, a block document, a
// YAML or JSON file, a push body): before any schema, merge, redaction or JSON.stringify walks
// it recursively. Refuses, naming the path:
// - keys that reach an object's prototype when assigned (`__proto__`, `constructor`, `prototype`);
// - nesting deeper than MAX_DEPTH (a recursive walk of it would overflow the stack);
// - more than MAX_NODES values, keys longer than MAX_KEY_LENGTH, texts longer than MAX_TEXT_LENGTH;
// - values JSON cannot hold (NaN, ±Infinity, functions, bigints, class instances) and cycles
//   (a YAML alias inside its own anchor).
// The walk is iterative and O(size): it is on the hot path (every event) and must stay cheap.
import { parse as parseYaml, YAMLError, YAMLParseError } from 'yaml';
import { InvalidInputError, type Problem } from './errors.js';
import { formatPath, PROTOTYPE_KEYS } from './zod-problems.js';

/** Levels of objects and arrays from a document's root (an envelope counts as one). */
export const MAX_DEPTH = 64;
/** Values (objects, arrays, scalars) in one document. */
export const MAX_NODES = 100_000;
/** Characters in one key (an env name, a parameter name, an override dot key). */
export const MAX_KEY_LENGTH = 1024;
/** Characters of a whole document's text, and of any one string in it. */
export const MAX_TEXT_LENGTH = 1024 * 1024;

/** Keys that write through to a prototype when assigned to a plain object. */
export const FORBIDDEN_KEYS: ReadonlySet<string> = PROTOTYPE_KEYS;

export function isForbiddenKey(key: string): boolean {
  return FORBIDDEN_KEYS.has(key);
}

/** Input refused before it was read: too deep, too big, a prototype key, a value JSON cannot hold. */
export class UnsafeInputError extends InvalidInputError {}

export function forbiddenKeyMessage(key: string): string {
  return `'${key}' is not allowed as a key (it would write to the object prototype); rename or remove it`;
}

/**
 * Throws UnsafeInputError (an InvalidInputError: exit 2, a kept rejection) naming the first
 * unsafe place in `value`. `prefix` starts every path (e.g. the file or store key).
 * Recursive, but never deeper than MAX_DEPTH (checked before descending), so it cannot
 * overflow the stack; it allocates nothing per value (one shared path), since it runs on
 * every event.
 */
export function checkInput(value: unknown, what = 'Input refused', prefix = ''): void {
  const path: PropertyKey[] = [];
  const ancestors: object[] = [];
  let nodes = 0;
  const refuse = (message: string, extra?: PropertyKey): never => {
    const at = extra === undefined ? [...path] : [...path, extra];
    const problem: Problem = { path: formatPath(at, prefix) || prefix, message };
    throw new UnsafeInputError(what, [problem]);
  };
  const visit = (current: unknown): void => {
    if (++nodes > MAX_NODES) {
      path.length = 0;
      refuse(`holds more than ${MAX_NODES} values: make it smaller`);
    }
    switch (typeof current) {
      case 'string':
        if (current.length > MAX_TEXT_LENGTH) {
          refuse(`is ${current.length} characters long; at most ${MAX_TEXT_LENGTH} are accepted`);
        }
        return;
      case 'number':
        if (!Number.isFinite(current)) refuse(`is ${current}: only finite numbers are JSON`);
        return;
      case 'boolean':
      case 'undefined':
        return;
      case 'object':
        break;
      default:
        refuse(`is a ${typeof current}, not a JSON value`);
    }
    if (current === null) return;
    const object = current as object;
    if (ancestors.includes(object)) {
      refuse('refers to itself (a YAML alias inside its own anchor): write the value out instead');
    }
    if (ancestors.length >= MAX_DEPTH) refuse(`is nested more than ${MAX_DEPTH} levels deep: flatten it`);
    ancestors.push(object);
    if (Array.isArray(object)) {
      for (let index = 0; index < object.length; index++) {
        path.push(index);
        visit(object[index]);
        path.pop();
      }
    } else {
      const proto: unknown = Object.getPrototypeOf(object);
      if (proto !== Object.prototype && proto !== null) refuse('is not a plain JSON object');
      for (const key in object) {
        if (!Object.hasOwn(object, key)) continue;
        if (FORBIDDEN_KEYS.has(key)) refuse(forbiddenKeyMessage(key), key);
        if (key.length > MAX_KEY_LENGTH) {
          refuse(`has a key of ${key.length} characters; keys are at most ${MAX_KEY_LENGTH} characters`, key);
        }
        path.push(key);
        visit((object as Record<string, unknown>)[key]);
        path.pop();
      }
      // `__proto__` given as an own key (JSON.parse makes one) is not enumerated by for…in on every engine
      if (Object.hasOwn(object, '__proto__')) refuse(forbiddenKeyMessage('__proto__'), '__proto__');
    }
    ancestors.pop();
  };
  visit(value);
}

function checkLength(text: string, what: string, where: string): void {
  if (text.length > MAX_TEXT_LENGTH) {
    throw new UnsafeInputError(what, [
      { path: where, message: `is ${text.length} characters; at most ${MAX_TEXT_LENGTH} are accepted` },
    ]);
  }
}

/** Line and column (1-based) of a character offset. */
function lineColumn(text: string, offset: number): { line: number; column: number } {
  let line = 1;
  let start = 0;
  for (let index = text.indexOf('\n'); index >= 0 && index < offset; index = text.indexOf('\n', index + 1)) {
    line++;
    start = index + 1;
  }
  return { line, column: offset - start + 1 };
}

/** True when `prefix` could still begin a JSON text (its only fault is that it ends). */
function viablePrefix(prefix: string): boolean {
  try {
    JSON.parse(prefix);
    return true;
  } catch (error) {
    const message = error instanceof Error ? error.message : '';
    if (/end of (JSON|data) input|Unterminated string/i.test(message)) return true;
    const position = /at position (\d+)/.exec(message)?.[1];
    return position !== undefined && Number(position) >= prefix.trimEnd().length;
  }
}

/**
 * Where a JSON syntax error is, found without quoting the text (V8's messages quote it): the
 * longest prefix that could still begin a JSON text ends there. Binary search, O(n log n).
 */
function jsonErrorOffset(text: string): number {
  let good = 0;
  let bad = text.length;
  if (viablePrefix(text)) return text.length;
  while (bad - good > 1) {
    const middle = (good + bad) >>> 1;
    if (viablePrefix(text.slice(0, middle))) good = middle;
    else bad = middle;
  }
  return good;
}

const NOT_SHOWN = 'the text is not shown: it may hold a secret';

/**
 * JSON text → a value, checked by checkInput. A syntax error gives the line and column and
 * never the text around it (a parse error quoting input would print a password).
 */
export function parseJsonText(text: string, what: string, where: string): unknown {
  checkLength(text, what, where);
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    const offset = jsonErrorOffset(text);
    const at = lineColumn(text, offset);
    const end = offset >= text.length ? ' (it ends too early)' : '';
    throw new InvalidInputError(
      what,
      [
        {
          path: where,
          message: `is not valid JSON${at ? ` at line ${at.line}, column ${at.column}` : ''}${end} (${NOT_SHOWN})`,
        },
      ],
      { cause: error },
    );
  }
  checkInput(value, what);
  return value;
}

/** The deepest `[`/`{` nesting in a YAML text (quotes ignored: an over-count only refuses sooner). */
function flowDepth(text: string): number {
  let depth = 0;
  let max = 0;
  for (let index = 0; index < text.length; index++) {
    const char = text.charCodeAt(index);
    if (char === 0x5b || char === 0x7b) {
      if (++depth > max) max = depth;
    } else if ((char === 0x5d || char === 0x7d) && depth > 0) depth--;
  }
  return max;
}

/**
 * YAML (or JSON) text → a value, checked by checkInput. Deep flow nesting is refused before
 * the parser sees it (the parser recurses, and past a few thousand levels exhausts memory); a
 * syntax error gives the line and column, never the text.
 */
export function parseYamlText(text: string, what: string, where: string): unknown {
  checkLength(text, what, where);
  if (flowDepth(text) > MAX_DEPTH) {
    throw new UnsafeInputError(what, [
      { path: where, message: `is nested more than ${MAX_DEPTH} levels deep: flatten it` },
    ]);
  }
  let value: unknown;
  try {
    value = parseYaml(text, { maxAliasCount: 100 });
  } catch (error) {
    const deep = error instanceof Error && /call stack/i.test(error.message);
    // the parser's resource-exhaustion guard (maxAliasCount): a "billion laughs" document
    const aliases = error instanceof Error && /excessive alias count/i.test(error.message);
    const pos = error instanceof YAMLParseError ? error.linePos?.[0] : undefined;
    const code = error instanceof YAMLError ? ` (${error.code})` : '';
    const message = deep
      ? `is nested more than ${MAX_DEPTH} levels deep: flatten it`
      : aliases
        ? 'expands its aliases (*name) into too much (a YAML anchor repeated inside anchors that are repeated): write the values out, or use fewer nested aliases'
        : `is not valid YAML${pos ? ` at line ${pos.line}, column ${pos.col}` : ''}${code} (${NOT_SHOWN})`;
    const ErrorClass = deep || aliases ? UnsafeInputError : InvalidInputError;
    throw new ErrorClass(what, [{ path: where, message }], { cause: error });
  }
  checkInput(value, what);
  return value;
}

const CUT_STRING = 4096;

/**
 * A copy of an unchecked value that is safe to walk recursively and to keep: nesting past
 * MAX_DEPTH, cycles, non-JSON values and the tail of long strings cut (each says so), prototype
 * keys kept as plain data under a marked name. For keeping a rejected delivery.
 */
export function boundedCopy(value: unknown): unknown {
  let budget = MAX_NODES;
  const copy = (current: unknown, depth: number, ancestors: object[]): unknown => {
    if (--budget < 0) return '[cut: too many values]';
    if (typeof current === 'string') {
      return current.length > CUT_STRING
        ? `${current.slice(0, CUT_STRING)}[cut: ${current.length - CUT_STRING} more characters]`
        : current;
    }
    if (typeof current === 'number') return Number.isFinite(current) ? current : String(current);
    if (current === null || typeof current === 'boolean' || current === undefined) return current;
    if (typeof current !== 'object') return `[cut: a ${typeof current}]`;
    if (ancestors.includes(current)) return '[cut: refers to itself]';
    if (depth >= MAX_DEPTH) return `[cut: nested more than ${MAX_DEPTH} levels]`;
    const inner = [...ancestors, current];
    if (Array.isArray(current)) return current.map((item) => copy(item, depth + 1, inner));
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(current)) {
      const name = FORBIDDEN_KEYS.has(key) ? `[refused key] ${key}` : key.slice(0, MAX_KEY_LENGTH);
      out[name] = copy((current as Record<string, unknown>)[key], depth + 1, inner);
    }
    return out;
  };
  return copy(value, 0, []);
}
