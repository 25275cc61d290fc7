// infra_overrides: dot-delimited keys (`env.FOO`, `network_configuration.subnets`) and
// nested dicts, deep-merged over the block. Maps merge key by key; `null` removes a key;
// lists and scalars replace.
import { InvalidInputError } from '../core/errors.js';
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

/**
 * `{"env.FOO": "x", "cpu": 2}` → `{env: {FOO: "x"}, cpu: 2}`. `nameMaps`: the block type's
 * name-map fields (default: those of every type).
 */
export function expandDotKeys(overrides: Doc, nameMaps: ReadonlySet<string> = ANY_NAME_MAPS): Doc {
  const out: Doc = {};
  for (const key of Object.keys(overrides)) {
    const value = overrides[key];
    const dot = key.indexOf('.');
    const head = dot < 0 ? key : key.slice(0, dot);
    const path = dot < 0 ? [key] : nameMaps.has(head) ? [head, key.slice(dot + 1)] : key.split('.');
    if (path.includes('')) {
      throw new InvalidInputError('Invalid infra_overrides', [
        {
          path: `infra_overrides[${JSON.stringify(key)}]`,
          message: "empty segment in a dot key: write e.g. 'env.FOO' or 'cpu'",
        },
      ]);
    }
    let cursor = out;
    const last = path.length - 1;
    for (let index = 0; index < last; index++) {
      const part = path[index] as string;
      if (!isDoc(cursor[part])) cursor[part] = {};
      cursor = cursor[part] as Doc;
    }
    const part = path[last] as string;
    cursor[part] = isDoc(cursor[part]) && isDoc(value) ? overlay(cursor[part] as Doc, value) : value;
  }
  return out;
}

/** Combines two override patches; unlike mergeInto it keeps `null`s (they are removals to apply later). */
function overlay(first: Doc, second: Doc): Doc {
  const out: Doc = { ...first };
  for (const [key, value] of Object.entries(second)) {
    out[key] = isDoc(value) && isDoc(out[key]) ? overlay(out[key] as Doc, value) : value;
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
    out[key] = isDoc(value) && isDoc(base[key]) ? mergeInto(base[key] as Doc, value) : value;
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
  if ('type' in expanded && expanded.type !== block.type) {
    throw new InvalidInputError('Invalid infra_overrides', [
      {
        path: 'infra_overrides.type',
        message: 'overrides cannot change the infrastructure type; use another block instead',
      },
    ]);
  }
  return { block: mergeInto(block, expanded), touched: new Set(Object.keys(expanded)) };
}
