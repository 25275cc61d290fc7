// Prefect 2 exports as Prefect writes them: block-document metadata at any depth, nested
// blocks given by slug, `None` for a field whose default is None, numbers written as
// numeric strings (pydantic coerces them), and prefect-gcp's `cloud-run-job-v2` slug.
import * as z from 'zod';
import { BlockNotFoundError, InvalidInputError, type Problem } from '../core/errors.js';
import { BLOCK_SLUG } from '../events/schema.js';
import { PREFECT_META_FIELDS } from './base.js';

/** How deep metadata is looked for (the input guard refuses nesting past 64 levels anyway). */
const META_DEPTH = 64;

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * The document without Prefect's block-document metadata (`_block_document_id`,
 * `_block_document_name`, `_is_anonymous`, `block_type_slug`…) at any depth, in nested
 * block documents (`aws_credentials`, `image_registry`…) and lists alike. The values of
 * `keep` (top-level free-form name maps: `env`, `labels`…) are left as given: a variable
 * may be named anything. Returns a copy; the input is not changed.
 */
export function stripBlockMeta(
  doc: Record<string, unknown>,
  keep: readonly string[] = [],
): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(doc)) {
    if (PREFECT_META_FIELDS.includes(key)) continue;
    out[key] = keep.includes(key) ? value : stripValue(value, 1);
  }
  return out;
}

function stripValue(value: unknown, depth: number): unknown {
  if (depth > META_DEPTH) return value;
  if (Array.isArray(value)) return value.map((item) => stripValue(item, depth + 1));
  if (!isRecord(value)) return value;
  const out: Record<string, unknown> = {};
  for (const [key, child] of Object.entries(value)) {
    if (!PREFECT_META_FIELDS.includes(key)) out[key] = stripValue(child, depth + 1);
  }
  return out;
}

const NUMERIC = /^\s*[-+]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?\s*$/;

/**
 * A number field that also takes the number written as a string (`"cpu": "256"`), as
 * pydantic coerces it. Other strings still fail the schema, naming the field.
 */
export function prefectNumber<T extends z.ZodType>(schema: T) {
  return z.preprocess(
    (value) => (typeof value === 'string' && NUMERIC.test(value) ? Number(value) : value),
    schema,
  );
}

/**
 * A field whose Prefect default is None while the submitter fills in a value: `null`
 * (Prefect's None, as an export writes it) means the default, like leaving it out.
 */
export function noneMeansDefault<T extends z.ZodType>(schema: T, fallback: z.output<T>) {
  return schema
    .nullable()
    .default(fallback as never)
    .transform((value): z.output<T> => (value ?? fallback) as z.output<T>);
}

/** Where nested block slugs are looked up (the block store). */
export interface NestedBlockSource {
  get(slug: string): Promise<Record<string, unknown>>;
}

/**
 * Nested blocks given by slug (`"aws_credentials": "aws-credentials/prod"`) replaced by the
 * document the store holds under `blocks/<block type>/<name>.json`. `fields` are the type's
 * nested-block fields and their Prefect block type slugs (its manifest's `nestedBlocks`): a
 * string anywhere else is left for the schema to judge. A slug of another block type, or one
 * the store does not have, is a problem naming the field.
 */
export async function resolveNestedBlocks(
  doc: Record<string, unknown>,
  fields: Readonly<Record<string, string>> | undefined,
  blocks: NestedBlockSource | undefined,
  path: string,
): Promise<Record<string, unknown>> {
  if (!fields) return doc;
  const problems: Problem[] = [];
  let out = doc;
  for (const [field, blockType] of Object.entries(fields)) {
    const slug = Object.hasOwn(doc, field) ? doc[field] : undefined;
    if (typeof slug !== 'string') continue;
    const at = `${path}.${field}`;
    const example = `'${blockType}/prod'`;
    if (!BLOCK_SLUG.test(slug) || slug.split('/')[0] !== blockType) {
      problems.push({
        path: at,
        message: `a nested block by slug must be '${blockType}/NAME' (e.g. ${example}), or give the block document itself`,
      });
      continue;
    }
    if (!blocks) {
      problems.push({
        path: at,
        message: `'${slug}' names a block, but no block store is configured to resolve it (give --blocks DIR, or the block document itself)`,
      });
      continue;
    }
    try {
      const { type: _type, ...nested } = await blocks.get(slug);
      out = { ...out, [field]: nested };
    } catch (error) {
      if (error instanceof BlockNotFoundError) problems.push({ path: at, message: error.message });
      else if (error instanceof InvalidInputError)
        problems.push(...error.problems.map((p) => ({ ...p, path: `${at}: ${p.path}` })));
      else throw error;
    }
  }
  if (problems.length) throw new InvalidInputError('Invalid nested block', problems);
  return out;
}

/**
 * `cloud-run-job-v2` (prefect-gcp's Cloud Run v2 job, its `CloudRunWorkerV2Variables`
 * fields) as the `cloud-run-job` block it runs as: the same provider, which already speaks
 * the Cloud Run v2 API. The differences: its `max_retries` defaults to 0 (not 3), and its
 * `args` (the container's arguments) go to `command` when no command is given. `cpu`,
 * `memory` (`'1000m'`, `'512Mi'`), `timeout`, `region`, `image`, `keep_job`, `launch_stage`,
 * `vpc_connector_name`, `service_account_name` and `credentials` mean the same.
 */
export const BLOCK_TYPE_ALIASES: Readonly<
  Record<string, { type: string; map(doc: Record<string, unknown>): Record<string, unknown> }>
> = {
  'cloud-run-job-v2': {
    type: 'cloud-run-job',
    map(doc) {
      const { args, ...rest } = doc;
      const out: Record<string, unknown> = { ...rest, type: 'cloud-run-job' };
      if (!Object.hasOwn(doc, 'max_retries')) out.max_retries = 0;
      if (Array.isArray(args) && args.length > 0) {
        if (Object.hasOwn(doc, 'command') && doc.command !== null)
          throw new InvalidInputError('Invalid cloud-run-job-v2 block', [
            { path: 'args', message: "give 'args' or 'command', not both (args become the command)" },
          ]);
        out.command = args;
      } else if (args !== undefined && !Array.isArray(args)) {
        out.args = args; // the schema refuses it, naming the field
      }
      return out;
    },
  },
};

/** The document as the type it runs as (`cloud-run-job-v2` → `cloud-run-job`); others unchanged. */
export function canonicalBlock(
  doc: Record<string, unknown>,
  path = 'infrastructure',
): Record<string, unknown> {
  const type = doc.type;
  if (typeof type !== 'string' || !Object.hasOwn(BLOCK_TYPE_ALIASES, type)) return doc;
  const alias = BLOCK_TYPE_ALIASES[type];
  if (!alias) return doc;
  try {
    return alias.map(doc);
  } catch (error) {
    if (error instanceof InvalidInputError)
      throw new InvalidInputError(
        error.message,
        error.problems.map((p) => ({ ...p, path: `${path}.${p.path}` })),
      );
    throw error;
  }
}
