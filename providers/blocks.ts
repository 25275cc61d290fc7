// The infrastructure block types (one per manifest, providers/manifests.ts) and their validation.
import type { z } from 'zod';
import { InvalidInputError, type Problem } from '../core/errors.js';
import { problemsFrom, shownValue } from '../core/zod-problems.js';
import { PREFECT_META_FIELDS } from './base.js';
import { MANIFEST_TYPES, type Manifests, manifestField } from './manifests.js';
import { canonicalBlock, stripBlockMeta } from './prefect2.js';

export type BlockType = keyof Manifests;
/** Every type's block schema, from its manifest (providers/<type>/manifest.ts). */
export const BLOCK_SCHEMAS = manifestField('schema');
export const BLOCK_TYPES: BlockType[] = [...MANIFEST_TYPES];
export type BlockOf<T extends BlockType> = z.output<Manifests[T]['schema']>;
export type Block = { [T in BlockType]: BlockOf<T> }[BlockType];

export function isBlockType(type: unknown): type is BlockType {
  return typeof type === 'string' && Object.hasOwn(BLOCK_SCHEMAS, type);
}

export interface ParseBlockOptions {
  /** Prefix for problem paths, e.g. `infrastructure` or `infrastructure_block(ecs-task/prod)`. */
  path?: string;
  /** Top-level fields set by infra_overrides: problems there say so. */
  overridden?: ReadonlySet<string>;
}

const NAME_MAPS = manifestField('nameMaps');
/** Each type's nested-block fields (its manifest's `nestedBlocks`). */
export const NESTED_BLOCKS = manifestField('nestedBlocks');

/** The document as its type's schema reads it: an alias type mapped, Prefect's metadata dropped at any depth. */
function prepare(doc: Record<string, unknown>, prefix: string): Record<string, unknown> {
  const canonical = canonicalBlock(doc, prefix);
  return stripBlockMeta(canonical, isBlockType(canonical.type) ? NAME_MAPS[canonical.type] : []);
}

/** Validates a block document against its type's schema; every problem names its field. */
export function parseBlock(doc: unknown, options: ParseBlockOptions = {}): Block {
  const prefix = options.path ?? 'infrastructure';
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) {
    throw new InvalidInputError('Invalid infrastructure block', [
      { path: prefix, message: 'expected an object with a "type"' },
    ]);
  }
  const record = prepare(doc as Record<string, unknown>, prefix);
  if (!isBlockType(record.type)) {
    throw new InvalidInputError('Invalid infrastructure block', [
      {
        path: `${prefix}.type`,
        message: `unknown infrastructure type ${shownValue(record.type)}: expected one of ${BLOCK_TYPES.join(', ')}`,
      },
    ]);
  }
  const schema = BLOCK_SCHEMAS[record.type];
  const result = schema.safeParse(record);
  if (result.success) return result.data as Block;
  const problems: Problem[] = problemsFrom(result.error, {
    prefix,
    knownFields: (path) => (path.length === 0 ? Object.keys(schema.shape) : []),
    annotate: (path) =>
      options.overridden?.has(String(path[0])) ? 'this field was set by infra_overrides' : undefined,
  });
  throw new InvalidInputError(`Invalid ${record.type} block`, problems);
}

/**
 * The block's own values of the fields infra_overrides set, each valid by itself, so an
 * override cannot hide a bad stored value (`"env": 12345` under an `env.A` override). The
 * other fields are unchanged by overrides and validated with the merged block: this costs
 * nothing when there are no overrides.
 */
export function checkOverriddenFields(
  doc: Record<string, unknown>,
  fields: ReadonlySet<string>,
  options: ParseBlockOptions = {},
): void {
  if (fields.size === 0) return;
  const prefix = options.path ?? 'infrastructure';
  doc = prepare(doc, prefix);
  const type = doc.type;
  if (!isBlockType(type)) return;
  const shape: Readonly<Record<string, z.ZodType>> = BLOCK_SCHEMAS[type].shape;
  const problems: Problem[] = [];
  for (const field of fields) {
    if (!Object.hasOwn(doc, field) || PREFECT_META_FIELDS.includes(field)) continue;
    const fieldSchema = Object.hasOwn(shape, field) ? shape[field] : undefined;
    if (!fieldSchema) {
      problems.push({
        path: `${prefix}.${field}`,
        message:
          'unknown field in the block itself (infra_overrides would hide it): remove it from the block',
      });
      continue;
    }
    const result = fieldSchema.safeParse(doc[field]);
    if (!result.success) problems.push(...problemsFrom(result.error, { prefix: `${prefix}.${field}` }));
  }
  if (problems.length)
    throw new InvalidInputError(`Invalid ${type} block (before infra_overrides)`, problems);
}
