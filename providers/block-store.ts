// Blocks saved as documents under `blocks/<type>/<name>.json` (YAML accepted), resolved by slug.
import { stringify as toYaml } from 'yaml';
import { BlockNotFoundError, InvalidInputError } from '../core/errors.js';
import { parseJsonText, parseYamlText } from '../core/input-guard.js';
import type { DocumentStore } from '../core/store.js';
import { shownValue } from '../core/zod-problems.js';
import { BLOCK_SLUG } from '../events/schema.js';

const EXTENSIONS = ['json', 'yaml', 'yml'] as const;
/** Prefect variables (`{{ prefect.variables.NAME }}`), one JSON object in the store. */
export const VARIABLES_KEY = 'variables.json';

export function splitSlug(slug: string): { type: string; name: string } {
  if (!BLOCK_SLUG.test(slug)) {
    throw new InvalidInputError('Invalid block slug', [
      {
        path: 'infrastructure_block',
        message: `'${slug.length > 80 ? `${slug.slice(0, 80)}…` : slug}' must be 'type/name', e.g. 'ecs-task/prod' (a name of at most 200 characters)`,
      },
    ]);
  }
  const [type = '', name = ''] = slug.split('/');
  return { type, name };
}

export class BlockStore {
  constructor(readonly store: DocumentStore) {}

  /** The raw block document for a slug (not yet validated). */
  async get(slug: string): Promise<Record<string, unknown>> {
    const { type, name } = splitSlug(slug);
    for (const ext of EXTENSIONS) {
      const key = `blocks/${type}/${name}.${ext}`;
      const body = await this.store.get(key);
      if (body === undefined) continue;
      const what = `Block '${slug}' in ${this.store.location} is not a valid ${ext.toUpperCase()} document`;
      const doc = ext === 'json' ? parseJsonText(body, what, key) : parseYamlText(body, what, key);
      if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) {
        throw new InvalidInputError(`Block '${slug}' is not a block document`, [
          { path: key, message: 'expected an object with "type"' },
        ]);
      }
      const record = doc as Record<string, unknown>;
      if (record.type !== undefined && record.type !== type) {
        throw new InvalidInputError(`Block '${slug}' has the wrong type`, [
          { path: `${key}.type`, message: `is ${shownValue(record.type)} but the slug says '${type}'` },
        ]);
      }
      return { ...record, type };
    }
    throw new BlockNotFoundError(
      slug,
      `${this.store.location} (looked for blocks/${type}/${name}.{json,yaml,yml})`,
    );
  }

  async put(slug: string, doc: Record<string, unknown>, format: 'json' | 'yaml' = 'json'): Promise<string> {
    const { type, name } = splitSlug(slug);
    const key = `blocks/${type}/${name}.${format}`;
    await this.store.put(key, format === 'json' ? `${JSON.stringify(doc, null, 2)}\n` : toYaml(doc));
    return key;
  }

  /** Prefect's variables: the store's `variables.json`, one flat JSON object of name → value. */
  async variables(): Promise<Record<string, unknown>> {
    const body = await this.store.get(VARIABLES_KEY);
    if (body === undefined) return {};
    const doc = parseJsonText(body, `Variables in ${this.store.location} are not valid JSON`, VARIABLES_KEY);
    if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) {
      throw new InvalidInputError('Invalid variables document', [
        { path: VARIABLES_KEY, message: 'expected one JSON object of variable name → value' },
      ]);
    }
    return doc as Record<string, unknown>;
  }

  async list(): Promise<string[]> {
    const keys = await this.store.list('blocks/');
    const slugs = keys
      .map((key) => /^blocks\/([^/]+)\/(.+)\.(json|ya?ml)$/.exec(key))
      .filter((m): m is RegExpExecArray => m !== null)
      .map((m) => `${m[1]}/${m[2]}`);
    return [...new Set(slugs)].sort();
  }
}
