// What counts as a secret, and how secrets are kept out of previews, logs, workflow state,
// reports and kept rejected deliveries.
//
// What is secret is said by the block schemas (core/secret-marks.ts: `secret(...)`,
// `secretDocument(...)`, `envValues(...)`), and `redact` walks a block (or an event holding
// one) along its schema:
// - a field marked `secret` is masked whole (a string, or an object such as a service-account key);
// - inside a field marked `secretDocument` (a kubeconfig), values under secret-looking keys
//   (`isSecretDocumentKey`) and every env value are masked;
// - in an environment (a field marked `envValues`, or an `env`/`environment` map or list inside
//   a free-form value) the values of secret-looking names (`isSecretEnvName`) are masked;
// - a value no schema describes (an unknown type, an unknown field, an envelope around an event)
//   falls back to name rules: secret-looking keys, the names marked in any block schema, and
//   secret-looking env names. So a rejected delivery leaks nothing either.
//
// Free text (logs, reasons, error messages) is scrubbed of the secret values found that way:
// see `scrub` for when a value counts as found.
import type * as z from 'zod';
import { BLOCK_SCHEMAS, isBlockType } from '../providers/blocks.js';
import {
  ENV_CONTAINER_KEYS,
  isSecretDocumentKey,
  isSecretEnvName,
  REDACTED,
  secretMarkOf,
} from './secret-marks.js';

export { isSecretEnvName, REDACTED } from './secret-marks.js';

/**
 * A secret this long is distinctive: found inside another value it is that secret, not a word
 * that happens to match. Shorter secrets (`test`, `password`-like words, a 4-digit PIN) are only
 * masked where they are a whole value, or a whole token in free text: masking them inside other
 * strings turns `test-group` into `**********-group` and hides nothing worth hiding (8 characters
 * is also the shortest password most registries and clouds accept).
 */
export const DISTINCTIVE_LENGTH = 8;
/** Below this, a secret is only masked as a whole value, never searched for in free text. */
const TOKEN_LENGTH = 4;

interface Visitor {
  /** A secret string; returns what goes in its place. */
  secret(value: string): unknown;
  /** A value marked secret that is not a string; `inner` walks it as a free-form document. */
  secretObject(value: unknown, inner: () => unknown): unknown;
}

type Schema = z.core.$ZodType;
type Doc = Record<string, unknown>;

function isDoc(value: unknown): value is Doc {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The schemas a value may be checked by, wrappers (default, nullable, pipe…) peeled off, marks kept. */
interface Peeled {
  mark: 'value' | 'document' | 'env' | undefined;
  core: Schema;
}

function peel(schema: Schema): Peeled {
  let mark = secretMarkOf(schema);
  let current: Schema = schema;
  for (let depth = 0; depth < 32; depth++) {
    const def = current._zod.def;
    let next: Schema | undefined;
    if ('innerType' in def && isSchema(def.innerType)) next = def.innerType;
    else if (def.type === 'pipe' && 'in' in def && 'out' in def && isSchema(def.in) && isSchema(def.out)) {
      // a preprocess (transform → schema) is described by its output; a refine-like pipe by its input
      next = def.in._zod.def.type === 'transform' ? def.out : def.in;
    } else if (def.type === 'lazy' && 'getter' in def && typeof def.getter === 'function') {
      const got: unknown = def.getter();
      if (isSchema(got)) next = got;
    }
    if (!next) break;
    current = next;
    mark ??= secretMarkOf(current);
  }
  return { mark, core: current };
}

function isSchema(value: unknown): value is Schema {
  return typeof value === 'object' && value !== null && '_zod' in value;
}

function objectShape(schema: Schema): Record<string, Schema> | undefined {
  const def = schema._zod.def;
  if (def.type !== 'object' || !('shape' in def) || !isDoc(def.shape)) return undefined;
  // no prototype: looking up an input's key (`constructor`, `toString`) finds only the schema's fields
  const shape: Record<string, Schema> = Object.create(null);
  for (const [key, child] of Object.entries(def.shape)) if (isSchema(child)) shape[key] = child;
  return shape;
}

function unionOptions(schema: Schema): Schema[] | undefined {
  const def = schema._zod.def;
  if (def.type !== 'union' || !('options' in def) || !Array.isArray(def.options)) return undefined;
  return def.options.filter(isSchema);
}

function childSchema(schema: Schema, key: 'valueType' | 'element'): Schema | undefined {
  const def = schema._zod.def;
  if (!(key in def)) return undefined;
  const child: unknown = (def as unknown as Record<string, unknown>)[key];
  return isSchema(child) ? child : undefined;
}

/** Walks a value along a schema; what the schema does not describe goes to the fallback. */
function walkSchema(schema: Schema, value: unknown, visit: Visitor): unknown {
  const { mark, core } = peel(schema);
  if (mark === 'value') {
    // a JSON document given as text (a service-account key file) is one secret holding others
    if (typeof value === 'string' && parseJsonObject(value) === undefined) return visit.secret(value);
    if (value === null || value === undefined) return value;
    return visit.secretObject(value, () => walkDocument(value, visit));
  }
  if (mark === 'document') return walkDocument(value, visit);
  if (mark === 'env') return walkEnv(value, visit, isSecretEnvName);
  if (Array.isArray(value)) {
    const element = core._zod.def.type === 'array' ? childSchema(core, 'element') : undefined;
    if (element) return value.map((item) => walkSchema(element, item, visit));
  }
  if (isDoc(value)) {
    const shape = objectShape(core);
    if (shape) {
      const out: Doc = {};
      for (const [key, child] of Object.entries(value)) {
        const field = shape[key];
        out[key] = field ? walkSchema(field, child, visit) : walkUnknownField(key, child, visit);
      }
      return out;
    }
    if (core._zod.def.type === 'record') {
      const valueType = childSchema(core, 'valueType');
      if (valueType) {
        const out: Doc = {};
        for (const [key, child] of Object.entries(value)) out[key] = walkSchema(valueType, child, visit);
        return out;
      }
    }
  }
  const options = unionOptions(core);
  if (options) return walkUnion(options, value, visit);
  if (value !== null && typeof value === 'object') {
    // `z.unknown()` and kin: a free-form value; environments in it keep the env rule
    return walkFreeForm(value, visit);
  }
  return value;
}

/** A union: an object is walked key by key with the first option that has the key (marked ones first). */
function walkUnion(options: Schema[], value: unknown, visit: Visitor): unknown {
  const peeled = options.map(peel);
  const marked = peeled.find((p) => p.mark !== undefined && (p.mark !== 'value' || value !== null));
  if (marked && peeled.every((p) => p.mark === marked.mark || p.core._zod.def.type === 'null')) {
    return walkSchema(options[peeled.indexOf(marked)] ?? marked.core, value, visit);
  }
  if (isDoc(value)) {
    const shapes = peeled.map((p) => objectShape(p.core)).filter((s) => s !== undefined);
    if (shapes.length > 0) {
      const out: Doc = {};
      for (const [key, child] of Object.entries(value)) {
        const fields = shapes.map((s) => s[key]).filter((f) => f !== undefined);
        const field = fields.find((f) => peel(f).mark !== undefined) ?? fields[0];
        out[key] = field ? walkSchema(field, child, visit) : walkUnknownField(key, child, visit);
      }
      return out;
    }
  }
  const byType = options.find((option) => {
    const type = peel(option).core._zod.def.type;
    return Array.isArray(value) ? type === 'array' : isDoc(value) ? type === 'record' : false;
  });
  if (byType) return walkSchema(byType, value, visit);
  return value !== null && typeof value === 'object' ? walkFreeForm(value, visit) : value;
}

/** An environment: a map, a `{name, value}` list or Docker `NAME=value` strings. */
function walkEnv(value: unknown, visit: Visitor, secretName: (name: string) => boolean): unknown {
  if (Array.isArray(value)) {
    return value.map((item) => {
      if (typeof item === 'string') {
        const eq = item.indexOf('=');
        if (eq > 0 && secretName(item.slice(0, eq))) {
          const masked = visit.secret(item.slice(eq + 1));
          return typeof masked === 'string' ? `${item.slice(0, eq + 1)}${masked}` : item;
        }
        return item;
      }
      if (isDoc(item) && typeof item.name === 'string') {
        const out: Doc = {};
        const isSecret = secretName(item.name);
        for (const [key, child] of Object.entries(item)) {
          out[key] =
            isSecret && (key === 'value' || key === 'secureValue') && typeof child === 'string'
              ? visit.secret(child)
              : walkFreeForm(child, visit);
        }
        return out;
      }
      return walkFreeForm(item, visit);
    });
  }
  if (isDoc(value)) {
    const out: Doc = {};
    for (const [key, child] of Object.entries(value)) {
      out[key] =
        typeof child === 'string' && secretName(key) ? visit.secret(child) : walkFreeForm(child, visit);
    }
    return out;
  }
  return value;
}

/** A free-form value no schema describes in detail (a job manifest, a task definition): env rule only. */
function walkFreeForm(value: unknown, visit: Visitor): unknown {
  if (Array.isArray(value)) return value.map((item) => walkFreeForm(item, visit));
  if (!isDoc(value)) return value;
  const out: Doc = {};
  for (const [key, child] of Object.entries(value)) {
    out[key] = ENV_CONTAINER_KEYS.has(key)
      ? walkEnv(child, visit, isSecretEnvName)
      : walkFreeForm(child, visit);
  }
  return out;
}

/** Inside a marked document: secret-looking keys, and every value of an env in it (kubeconfig `exec.env`). */
function walkDocument(value: unknown, visit: Visitor): unknown {
  if (Array.isArray(value)) return value.map((item) => walkDocument(item, visit));
  if (typeof value === 'string') {
    // a document given as JSON text (a service-account key file's content)
    const parsed = parseJsonObject(value);
    if (parsed === undefined) return value;
    const walked = walkDocument(parsed, visit);
    return JSON.stringify(walked) === JSON.stringify(parsed) ? value : JSON.stringify(walked);
  }
  if (!isDoc(value)) return value;
  const out: Doc = {};
  for (const [key, child] of Object.entries(value)) {
    if (isSecretDocumentKey(key) && child !== null && child !== undefined) {
      out[key] =
        typeof child === 'string'
          ? visit.secret(child)
          : visit.secretObject(child, () => walkDocument(child, visit));
    } else if (ENV_CONTAINER_KEYS.has(key)) out[key] = walkEnv(child, visit, () => true);
    else out[key] = walkDocument(child, visit);
  }
  return out;
}

function parseJsonObject(text: string): Doc | undefined {
  if (!text.trimStart().startsWith('{')) return undefined;
  try {
    const parsed: unknown = JSON.parse(text);
    return isDoc(parsed) ? parsed : undefined;
  } catch {
    return undefined;
  }
}

let markedNames: ReadonlySet<string> | undefined;

/** Field names marked `secret` in any block schema (`subscription_id`, `client_secret`…), for the fallback. */
function secretFieldNames(): ReadonlySet<string> {
  if (markedNames) return markedNames;
  const names = new Set<string>();
  const seen = new Set<Schema>();
  const visitSchema = (schema: Schema, name: string | undefined) => {
    if (seen.has(schema)) return;
    seen.add(schema);
    const { mark, core } = peel(schema);
    if (mark === 'value' && name !== undefined) names.add(name.toLowerCase());
    if (mark) return;
    for (const [key, child] of Object.entries(objectShape(core) ?? {})) visitSchema(child, key);
    for (const option of unionOptions(core) ?? []) visitSchema(option, name);
    const inner = childSchema(core, 'element') ?? childSchema(core, 'valueType');
    if (inner) visitSchema(inner, undefined);
  };
  for (const schema of Object.values(BLOCK_SCHEMAS)) visitSchema(schema, undefined);
  markedNames = names;
  return names;
}

/** A field no schema describes: its name says whether it is a secret. */
function walkUnknownField(key: string, value: unknown, visit: Visitor): unknown {
  if (isSecretDocumentKey(key) || secretFieldNames().has(key.toLowerCase()))
    return walkUnknownSecret(value, visit);
  if (ENV_CONTAINER_KEYS.has(key)) return walkEnv(value, visit, isSecretEnvName);
  return walkFallback(value, visit);
}

/** No schema: a block (known `type`) or an event inside is walked by its schema; the rest by name. */
function walkFallback(value: unknown, visit: Visitor): unknown {
  if (Array.isArray(value)) return value.map((item) => walkFallback(item, visit));
  if (!isDoc(value)) return value;
  if (isBlockType(value.type)) return walkSchema(BLOCK_SCHEMAS[value.type], value, visit);
  if ('flow_run' in value || 'infrastructure' in value || 'infrastructure_block' in value) {
    return walkEvent(value, visit);
  }
  const out: Doc = {};
  for (const [key, child] of Object.entries(value)) out[key] = walkUnknownField(key, child, visit);
  return out;
}

/** The block type an event runs on: its inline block's `type`, or its slug's first part. */
function eventBlockType(event: Doc): string | undefined {
  if (isDoc(event.infrastructure)) {
    return typeof event.infrastructure.type === 'string' ? event.infrastructure.type : undefined;
  }
  return typeof event.infrastructure_block === 'string'
    ? event.infrastructure_block.split('/')[0]
    : undefined;
}

/** A flow-run event: the inline block by its schema, and each override by the field its dot key sets. */
function walkEvent(event: Doc, visit: Visitor): Doc {
  const type = eventBlockType(event);
  const schema = isBlockType(type) ? BLOCK_SCHEMAS[type] : undefined;
  const out: Doc = {};
  for (const [key, child] of Object.entries(event)) {
    if (key === 'infrastructure') out[key] = walkFallback(child, visit);
    else if (key === 'infra_overrides' && isDoc(child)) {
      const overrides: Doc = {};
      for (const [path, override] of Object.entries(child)) {
        overrides[path] = walkOverride(schema, path, override, visit);
      }
      out[key] = overrides;
    } else if (key === 'infrastructure_block' || key === 'timeouts') out[key] = child;
    else out[key] = walkUnknownField(key, child, visit);
  }
  return out;
}

/** `infra_overrides["aci_credentials.client_secret"]`: the schema of the field the dot key names. */
function walkOverride(schema: Schema | undefined, path: string, value: unknown, visit: Visitor): unknown {
  let current = schema;
  let rest = path;
  let lastName = path;
  while (current && rest !== '') {
    const { mark, core } = peel(current);
    if (mark === 'env' || (!mark && core._zod.def.type === 'record')) {
      // a map's keys are free-form names (env.MY.VAR): the rest of the dot key is one name
      const walked = walkSchema(current, { [rest]: value }, visit);
      return isDoc(walked) ? walked[rest] : value;
    }
    if (mark === 'value') return walkUnknownSecret(value, visit);
    if (mark === 'document') {
      const segments = rest.split('.');
      const inEnv = segments.some((segment) => ENV_CONTAINER_KEYS.has(segment));
      return inEnv || isSecretDocumentKey(segments.at(-1) ?? rest)
        ? walkUnknownSecret(value, visit)
        : walkDocument(value, visit);
    }
    const shape = objectShape(core) ?? firstShape(core);
    if (!shape) break;
    const dot = rest.indexOf('.');
    const head = dot < 0 ? rest : rest.slice(0, dot);
    lastName = head;
    current = shape[head];
    rest = dot < 0 ? '' : rest.slice(dot + 1);
  }
  if (current && rest === '') return walkSchema(current, value, visit);
  return walkUnknownField(lastName.split('.').pop() ?? lastName, value, visit);
}

/** A value known to be secret, whatever its shape. */
function walkUnknownSecret(value: unknown, visit: Visitor): unknown {
  if (typeof value === 'string') return visit.secret(value);
  if (value === null || value === undefined) return value;
  return visit.secretObject(value, () => walkDocument(value, visit));
}

function firstShape(schema: Schema): Record<string, Schema> | undefined {
  const shapes = (unionOptions(schema) ?? [])
    .map((o) => objectShape(peel(o).core))
    .filter((s) => s !== undefined);
  if (shapes.length === 0) return undefined;
  return Object.assign({}, ...shapes.reverse());
}

function walkAny(value: unknown, visit: Visitor, schema?: Schema): unknown {
  return schema ? walkSchema(schema, value, visit) : walkFallback(value, visit);
}

/**
 * A deep copy with every secret value replaced by `**********`: a block or an event by its
 * schema (see the top of this file), anything else by name. Object keys are never changed.
 */
export function redact<T>(value: T, schema?: Schema): T {
  return walkAny(value, { secret: () => REDACTED, secretObject: () => REDACTED }, schema) as T;
}

/** The secret values inside a document (a block, an event, anything), for scrubbing free text. */
export function collectSecretValues(value: unknown, schema?: Schema): string[] {
  const found = new Set<string>();
  walkAny(
    value,
    {
      secret: (secret) => {
        if (secret) found.add(secret);
        return secret;
      },
      secretObject: (whole, inner) => {
        found.add(typeof whole === 'string' ? whole : JSON.stringify(whole));
        return inner();
      },
    },
    schema,
  );
  // a secret written inside JSON text has its special characters escaped (`\n` in a private key)
  for (const secret of [...found]) {
    const escaped = JSON.stringify(secret).slice(1, -1);
    if (escaped !== secret) found.add(escaped);
  }
  return [...found];
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** Hex and UUID-like secrets (a subscription id) mean the same in any case. */
function caseless(secret: string): boolean {
  return /^[0-9a-f-]+$/i.test(secret) && /[0-9]/.test(secret);
}

/** Characters that continue a token: `test` in `test-group` or `a/test` is not the token `test`. */
const TOKEN_CHAR = 'A-Za-z0-9_.\\-/+@';

function pattern(secret: string, wholeTokenOnly: boolean): RegExp {
  const body = escapeRegExp(secret);
  const flags = caseless(secret) ? 'gi' : 'g';
  return wholeTokenOnly
    ? new RegExp(`(?<![${TOKEN_CHAR}])${body}(?![${TOKEN_CHAR}])`, flags)
    : new RegExp(body, flags);
}

function ordered(secrets: readonly string[]): string[] {
  return [...new Set(secrets)].filter((s) => s.length > 0).sort((a, b) => b.length - a.length);
}

/**
 * Masks known secret values in free text (logs, reasons, error messages): a distinctive secret
 * (≥ DISTINCTIVE_LENGTH characters) wherever it occurs; a shorter one only where it stands as a
 * whole token (`password=abc1`, `"abc1"`, not `abc1-group`), and one under 4 characters only when
 * it is the whole text. Hex/UUID-like secrets match in any case.
 */
export function scrub(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const secret of ordered(secrets)) {
    if (out === secret) return REDACTED;
    if (secret.length < TOKEN_LENGTH) continue;
    out = out.replace(pattern(secret, secret.length < DISTINCTIVE_LENGTH), REDACTED);
  }
  return out;
}

/** Masks secrets inside one string value: whole-value match at any length, distinctive ones inside it. */
function scrubString(text: string, secrets: readonly string[], wholeValues: boolean): string {
  let out = text;
  for (const secret of ordered(secrets)) {
    if (wholeValues && (out === secret || (caseless(secret) && out.toLowerCase() === secret.toLowerCase()))) {
      return REDACTED;
    }
    if (secret.length >= DISTINCTIVE_LENGTH) out = out.replace(pattern(secret, false), REDACTED);
  }
  return out;
}

/**
 * Masks secrets in a structured value (a log entry, a request): a string value that is a secret
 * becomes `**********` whatever its length; a distinctive secret is masked inside other strings
 * too. Object keys are never changed. With `wholeValues: false` only distinctive secrets are
 * masked (for values whose secret positions are already masked).
 */
export function scrubValues<T>(
  value: T,
  secrets: readonly string[],
  options: { wholeValues?: boolean } = {},
): T {
  const whole = options.wholeValues ?? true;
  const go = (node: unknown): unknown => {
    if (typeof node === 'string') return scrubString(node, secrets, whole);
    if (Array.isArray(node)) return node.map(go);
    if (!isDoc(node)) return node;
    const out: Doc = {};
    for (const [key, child] of Object.entries(node)) out[key] = go(child);
    return out;
  };
  return (secrets.length ? go(value) : value) as T;
}

/**
 * What `preview` prints: the provider request `build(block)` makes, with exactly the values that
 * came from the block's secrets masked. The request is built a second time from the block with
 * each secret replaced by a unique stand-in; wherever a stand-in shows up in that request, the
 * real request's value is masked there. So a command argument or a resource group that merely
 * contains the same characters as a short secret is shown as it is. A distinctive secret found
 * anywhere else is masked too, as are secret-looking env values; if the second build fails, every
 * whole value equal to a secret is masked.
 */
export function maskRequest<B, R>(block: B, build: (block: B) => R, schema?: Schema): R {
  const request = build(block);
  const secrets = collectSecretValues(block, schema);
  const nonce = Math.random()
    .toString(36)
    .slice(2, 10)
    .replace(/[^a-z0-9]/g, 'x');
  const standIns: string[] = [];
  const standInFor = (index: number) => `zsecret${nonce}n${index}z`;
  const withStandIns = walkAny(
    block,
    {
      secret: (value) => {
        standIns.push(value);
        return standInFor(standIns.length - 1);
      },
      secretObject: (_whole, inner) => inner(),
    },
    schema,
  ) as B;
  let traced: unknown;
  try {
    traced = build(withStandIns);
  } catch {
    traced = undefined;
  }
  const standIn = `zsecret${nonce}n\\d+z`;
  const merge = (real: unknown, shadow: unknown): unknown => {
    if (typeof real === 'string') {
      // the stand-in's position in the traced request is where the secret went
      if (typeof shadow === 'string' && new RegExp(standIn, 'i').test(shadow)) {
        return shadow.replace(new RegExp(standIn, 'gi'), REDACTED);
      }
      return real;
    }
    if (Array.isArray(real)) {
      if (!Array.isArray(shadow) || shadow.length !== real.length) return scrubValues(real, secrets);
      return real.map((item, index) => merge(item, shadow[index]));
    }
    if (isDoc(real)) {
      if (!isDoc(shadow)) return scrubValues(real, secrets);
      const out: Doc = {};
      for (const [key, child] of Object.entries(real)) {
        out[key] = Object.hasOwn(shadow, key) ? merge(child, shadow[key]) : scrubValues(child, secrets);
      }
      return out;
    }
    return real;
  };
  const masked = traced === undefined ? scrubValues(request, secrets) : merge(request, traced);
  return scrubValues(
    walkFreeForm(masked, { secret: () => REDACTED, secretObject: () => REDACTED }),
    secrets,
    {
      wholeValues: false,
    },
  ) as R;
}
