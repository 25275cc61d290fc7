// infra_overrides: dot-delimited keys (`env.FOO`, `network_configuration.subnets`) and
// nested dicts, deep-merged over the block. Maps merge key by key; `null` removes a key;
// lists and scalars replace.
import { InvalidInputError } from '../core/errors.js';
import { forbiddenKeyMessage, isForbiddenKey } from '../core/input-guard.js';
import { BLOCK_TYPES, isBlockType } from './blocks.js';
import { manifestField } from './manifests.js';

/**
 * Per type, the fields whose keys are free-form names (they may contain dots): the rest of a
 * dot key is one name. From each manifest's `nameMaps`.
 */
const NAME_MAPS = manifestField('nameMaps');
/** Any type's name maps: for overrides expanded without a known type. */
const ANY_NAME_MAPS: ReadonlySet<string> = new Set(BLOCK_TYPES.flatMap((type) => NAME_MAPS[type]));

function nameMapsOf(type: unknown): ReadonlySet<string> {
  return isBlockType(type) ? new Set(NAME_MAPS[type]) : ANY_NAME_MAPS;
}

type Doc = Record<string, unknown>;

function isDoc(value: unknown): value is Doc {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A key's own value: never one inherited from Object.prototype (`toString`, `valueOf`…). */
function own(doc: Doc, key: string): unknown {
  return Object.hasOwn(doc, key) ? doc[key] : undefined;
}

function refuseKey(path: string, key: string): never {
  throw new InvalidInputError('Invalid infra_overrides', [{ path, message: forbiddenKeyMessage(key) }]);
}

/** Refuses prototype keys anywhere in an override value (nested dicts included). */
function checkKeys(value: unknown, path: string): void {
  if (Array.isArray(value)) {
    for (const [index, item] of value.entries()) checkKeys(item, `${path}[${index}]`);
    return;
  }
  if (!isDoc(value)) return;
  for (const key of Object.keys(value)) {
    if (isForbiddenKey(key)) refuseKey(`${path}[${JSON.stringify(key)}]`, key);
    checkKeys(value[key], `${path}[${JSON.stringify(key)}]`);
  }
}

/**
 * `{"env.FOO": "x", "cpu": 2}` → `{env: {FOO: "x"}, cpu: 2}`. `nameMaps`: the block type's
 * name-map fields (default: those of every type).
 */
export function expandDotKeys(overrides: Doc, nameMaps: ReadonlySet<string> = ANY_NAME_MAPS): Doc {
  const out: Doc = {};
  for (const key of Object.keys(overrides)) {
    const value = overrides[key];
    const where = `infra_overrides[${JSON.stringify(key)}]`;
    const dot = key.indexOf('.');
    const head = dot < 0 ? key : key.slice(0, dot);
    const path = dot < 0 ? [key] : nameMaps.has(head) ? [head, key.slice(dot + 1)] : key.split('.');
    if (path.includes('')) {
      throw new InvalidInputError('Invalid infra_overrides', [
        { path: where, message: "empty segment in a dot key: write e.g. 'env.FOO' or 'cpu'" },
      ]);
    }
    const forbidden = path.find(isForbiddenKey);
    if (forbidden !== undefined) refuseKey(where, forbidden);
    checkKeys(value, where);
    let cursor = out;
    const last = path.length - 1;
    for (let index = 0; index < last; index++) {
      const part = path[index] as string;
      const next = own(cursor, part);
      if (isDoc(next)) cursor = next;
      else {
        const fresh: Doc = {};
        cursor[part] = fresh;
        cursor = fresh;
      }
    }
    const part = path[last] as string;
    const existing = own(cursor, part);
    cursor[part] = isDoc(existing) && isDoc(value) ? overlay(existing, value) : value;
  }
  return out;
}

/** Combines two override patches; unlike mergeInto it keeps `null`s (they are removals to apply later). */
function overlay(first: Doc, second: Doc): Doc {
  const out: Doc = { ...first };
  for (const [key, value] of Object.entries(second)) {
    const existing = own(out, key);
    out[key] = isDoc(value) && isDoc(existing) ? overlay(existing, value) : value;
  }
  return out;
}

/**
 * `patch` merged over `base`, in base's key order then the patch's new keys. Built without
 * `delete` (which would turn the result into a slow dictionary object for everything after).
 */
function mergeInto(base: Doc, patch: Doc): Doc {
  const out: Doc = {};
  for (const key of Object.keys(base)) {
    if (!Object.hasOwn(patch, key)) {
      out[key] = base[key];
      continue;
    }
    const value = patch[key];
    if (value === null) continue;
    const below = base[key];
    out[key] = isDoc(value) && isDoc(below) ? mergeInto(below, value) : value;
  }
  for (const key of Object.keys(patch)) {
    const value = patch[key];
    if (value !== null && !Object.hasOwn(base, key)) out[key] = value;
  }
  return out;
}

export interface Overridden {
  block: Doc;
  /** Top-level fields the overrides touched, so validation can say where a bad value came from. */
  touched: Set<string>;
}

export function applyOverrides(block: Doc, overrides: Doc): Overridden {
  const expanded = expandDotKeys(overrides, nameMapsOf(block.type));
  if (Object.hasOwn(expanded, 'type') && expanded.type !== block.type) {
    throw new InvalidInputError('Invalid infra_overrides', [
      {
        path: 'infra_overrides.type',
        message: 'overrides cannot change the infrastructure type; use another block instead',
      },
    ]);
  }
  return { block: mergeInto(block, expanded), touched: new Set(Object.keys(expanded)) };
}
