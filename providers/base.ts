// Fields every infrastructure block shares (Prefect's `Infrastructure` base), and
// the building blocks the six block schemas are made of.
import * as z from 'zod';
import { envValues } from '../core/secret-marks.js';

export const DEFAULT_COMMAND = ['python', '-m', 'prefect.engine'];
/** What Prefect would pick for an image when none is given. */
export const DEFAULT_PREFECT_IMAGE = 'prefecthq/prefect:2-latest';

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_.-]*$/;

/**
 * Environment variables; a number or boolean is turned into its string, `null` unsets an inherited variable.
 * Values of secret-looking names (`*_KEY`, `*_TOKEN`…) are redacted wherever shown.
 */
export const EnvSchema = envValues(
  z
    .record(
      z.string().regex(ENV_NAME, {
        message: 'environment variable names are letters, digits and _ (not starting with a digit)',
      }),
      z.union([z.string(), z.number().transform(String), z.boolean().transform(String), z.null()], {
        message: 'expected a string value (or null to unset the variable)',
      }),
    )
    .default({}),
);

export const baseFields = {
  env: EnvSchema,
  labels: z
    .record(z.string(), z.union([z.string(), z.number().transform(String), z.boolean().transform(String)]))
    .default({}),
  name: z.string().nullable().default(null),
  command: z
    .array(z.string())
    .min(1, 'must name a program to run, e.g. ["python", "-m", "prefect.engine"]')
    .nullable()
    .default(DEFAULT_COMMAND)
    .transform((command) => command ?? DEFAULT_COMMAND),
};

/** An RFC 6902 operation (used by `customizations` and `task_customizations`). */
export const JsonPatchOperationSchema = z.strictObject({
  op: z.enum(['add', 'remove', 'replace', 'move', 'copy', 'test']),
  path: z.string().regex(/^(\/.*)?$/, { message: "must be a JSON pointer like '/spec/template'" }),
  value: z.unknown().optional(),
  from: z.string().optional(),
});

/** A JSON patch: a list of operations, or (handy on the command line) a JSON string of one. */
export const JsonPatchSchema = z.preprocess(
  (value) => {
    if (typeof value !== 'string') return value;
    try {
      return JSON.parse(value);
    } catch {
      return value; // the array check below reports it
    }
  },
  z
    .array(JsonPatchOperationSchema, {
      message: 'expected a list of RFC 6902 operations (or a JSON string of one)',
    })
    .default([]),
);
export type JsonPatch = z.infer<typeof JsonPatchSchema>;

/** Fields Prefect writes into saved block documents; accepted and dropped. */
export const PREFECT_META_FIELDS = [
  'block_type_slug',
  '_block_type_slug',
  '_block_document_id',
  '_block_document_name',
  '_is_anonymous',
];

export function blockSchema<T extends z.ZodRawShape, N extends string>(type: N, fields: T) {
  return z.strictObject({ type: z.literal(type), ...baseFields, ...fields });
}

/** The env a run gets: block env without the variables set to null. */
export function concreteEnv(env: Record<string, string | null>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(env)) if (value !== null) out[key] = value;
  return out;
}
