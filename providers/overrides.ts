// infra_overrides: dot-delimited keys (`env.FOO`, `network_configuration.subnets`) and
// nested dicts, deep-merged over the block. Maps merge key by key; `null` removes a key;
// lists and scalars replace.
import { InvalidInputError } from '../core/errors.js';

/** Fields whose keys are free-form names (they may contain dots): the rest of a dot key is one name. */
const NAME_MAPS = new Set(['env', 'labels', 'secrets', 'env_from_secrets', 'cloudwatch_logs_options']);

type Doc = Record<string, unknown>;

function isDoc(value: unknown): value is Doc {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** `{"env.FOO": "x", "cpu": 2}` → `{env: {FOO: "x"}, cpu: 2}` */
export function expandDotKeys(overrides: Doc): Doc {
  const out: Doc = {};
  for (const [key, value] of Object.entries(overrides)) {
    const parts = key.split('.');
    const head = parts[0] ?? key;
    const path = NAME_MAPS.has(head) && parts.length > 1 ? [head, parts.slice(1).join('.')] : parts;
    if (path.some((part) => part === '')) {
      throw new InvalidInputError('Invalid infra_overrides', [
        {
          path: `infra_overrides[${JSON.stringify(key)}]`,
          message: "empty segment in a dot key: write e.g. 'env.FOO' or 'cpu'",
        },
      ]);
    }
    let cursor = out;
    path.forEach((part, index) => {
      if (index === path.length - 1) {
        cursor[part] = isDoc(cursor[part]) && isDoc(value) ? overlay(cursor[part] as Doc, value) : value;
      } else {
        if (!isDoc(cursor[part])) cursor[part] = {};
        cursor = cursor[part] as Doc;
      }
    });
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

function mergeInto(base: Doc, patch: Doc): Doc {
  const out: Doc = { ...base };
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete out[key];
    else if (isDoc(value) && isDoc(out[key])) out[key] = mergeInto(out[key] as Doc, value);
    else out[key] = value;
  }
  return out;
}

export interface Overridden {
  block: Doc;
  /** Top-level fields the overrides touched, so validation can say where a bad value came from. */
  touched: Set<string>;
}

export function applyOverrides(block: Doc, overrides: Doc): Overridden {
  const expanded = expandDotKeys(overrides);
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
