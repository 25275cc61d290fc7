// A Prefect 3 work pool's base job template + job variables → the job configuration the
// worker would hold, exactly as Prefect's `BaseJobConfiguration.from_template_and_values`
// builds it (src/prefect/workers/base.py and src/prefect/utilities/templating/__init__.py at
// PrefectHQ/prefect ce79dd3):
// 1. defaults: every `variables.properties[*].default` that is not null;
// 2. `env` defaults merge into a dict `job_configuration.env`; job variables with dot keys
//    (`env.FOO`) become nested, plain keys merge over them; variables = defaults ∪ values;
//    a dict `job_configuration.env` merges the job variables' `env` over it;
// 3. apply_values: a string that is exactly one standard placeholder `{{ name }}` takes the
//    value itself (any type); with no value it is NotSet, and NotSet keys and list items are
//    removed. Any other string interpolates: each standard placeholder becomes Python's
//    `str(value)` (True, None, {'a': 1}) or "" when missing;
// 4. `{{ prefect.blocks.TYPE.NAME[.path] }}` from the block store (a whole string takes the
//    value, inline text takes str(value) of a scalar);
// 5. `{{ prefect.variables.NAME }}` from the store's `variables.json` (missing → "").
// Differences, on purpose: `{{ $ENV }}` is refused (the function's environment is not the
// user's), `{"$ref": {"block_document_id": …}}` is refused (ids mean nothing without a Prefect
// API), and job variables are checked against the template's `variables` schema first, each
// problem naming `job_variables.<var>`.
import { InvalidInputError, type Problem } from '../core/errors.js';
import { checkInput, MAX_TEXT_LENGTH } from '../core/input-guard.js';
import { closest, formatPath, shownKey, shownValue } from '../core/zod-problems.js';
import type { BlockStore } from '../providers/block-store.js';
import { checkSchema } from './json-schema.js';

/** Prefect's NotSet: a placeholder with no value; removed from dicts and lists. */
export const NOT_SET: unique symbol = Symbol('NotSet');
export type NotSet = typeof NOT_SET;

const PLACEHOLDER = /\{\{\s*([\p{L}\p{N}_.\-[\]$]+)\s*\}\}/gu;
const BLOCK_PREFIX = 'prefect.blocks.';
const VARIABLE_PREFIX = 'prefect.variables.';
const ENV_PREFIX = '$';

export type PlaceholderKind = 'standard' | 'block_document' | 'variable' | 'env_var';

export interface Placeholder {
  fullMatch: string;
  name: string;
  kind: PlaceholderKind;
}

function kindOf(name: string): PlaceholderKind {
  if (name.startsWith(BLOCK_PREFIX)) return 'block_document';
  if (name.startsWith(VARIABLE_PREFIX)) return 'variable';
  if (name.startsWith(ENV_PREFIX)) return 'env_var';
  return 'standard';
}

/** The distinct placeholders of one string (Prefect keeps them in a set). */
export function findPlaceholders(text: string): Placeholder[] {
  const seen = new Map<string, Placeholder>();
  for (const match of text.matchAll(PLACEHOLDER)) {
    const name = match[1] ?? '';
    if (!seen.has(match[0])) seen.set(match[0], { fullMatch: match[0], name, kind: kindOf(name) });
  }
  return [...seen.values()];
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Python's int() of a key segment, or undefined (int('x') raises ValueError). */
function pythonInt(segment: string): number | undefined {
  const text = segment.trim();
  if (!/^[-+]?\d+(_\d+)*$/.test(text)) return undefined;
  return Number(text.replaceAll('_', ''));
}

/**
 * Prefect's get_from_dict: `a.b[0].c` walks dicts and lists; a segment that reads as an
 * integer indexes (lists and strings, negative from the end) and then never matches a dict key.
 */
export function getFromDict(root: unknown, keyPath: string): unknown {
  const segments = keyPath.replaceAll('[', '.').replaceAll(']', '').split('.');
  let value: unknown = root;
  for (const segment of segments) {
    const index = pythonInt(segment);
    if (index !== undefined) {
      if (!Array.isArray(value) && typeof value !== 'string') return NOT_SET;
      const at = index < 0 ? value.length + index : index;
      if (at < 0 || at >= value.length) return NOT_SET;
      value = value[at];
    } else {
      if (!isRecord(value) || !Object.hasOwn(value, segment)) return NOT_SET;
      value = value[segment];
    }
  }
  return value;
}

function pythonRepr(value: unknown): string {
  if (typeof value === 'string') {
    const quote = value.includes("'") && !value.includes('"') ? '"' : "'";
    const body = value
      .replaceAll('\\', '\\\\')
      .replaceAll('\n', '\\n')
      .replaceAll('\r', '\\r')
      .replaceAll('\t', '\\t');
    return `${quote}${quote === "'" ? body.replaceAll("'", "\\'") : body}${quote}`;
  }
  return pythonStr(value);
}

/** Python's str() of a JSON value: True/False/None, dicts and lists as their repr. */
export function pythonStr(value: unknown): string {
  if (value === null || value === undefined) return 'None';
  if (value === true) return 'True';
  if (value === false) return 'False';
  if (typeof value === 'string') return value;
  if (typeof value === 'number') return String(value);
  if (Array.isArray(value)) return `[${value.map(pythonRepr).join(', ')}]`;
  if (isRecord(value)) {
    return `{${Object.entries(value)
      .map(([k, v]) => `${pythonRepr(k)}: ${pythonRepr(v)}`)
      .join(', ')}}`;
  }
  return String(value);
}

function envRefused(placeholder: Placeholder, path: string): InvalidInputError {
  return new InvalidInputError('Work-pool template uses an environment variable', [
    {
      path,
      message:
        `${placeholder.fullMatch} reads the worker's environment, and this submitter has no worker: ` +
        `the function's environment is not yours. Put the value in a job variable, a ` +
        `{{ prefect.variables.NAME }} variable or a {{ prefect.blocks.TYPE.NAME }} block instead`,
    },
  ]);
}

/** Text made by interpolation in one render, so a small template cannot expand without bound. */
export interface RenderBudget {
  chars: number;
}
/** One interpolated string at most MAX_TEXT_LENGTH; all of them together at most this. */
const MAX_RENDERED_CHARS = 4 * MAX_TEXT_LENGTH;

function spend(budget: RenderBudget, text: string, path: string): string {
  budget.chars += text.length;
  if (text.length > MAX_TEXT_LENGTH || budget.chars > MAX_RENDERED_CHARS) {
    throw new InvalidInputError('Rendered job configuration too large', [
      {
        path,
        message: `interpolating the job variables here makes more than ${text.length > MAX_TEXT_LENGTH ? `${MAX_TEXT_LENGTH} characters` : `${MAX_RENDERED_CHARS} characters in all`}: the template repeats a large value; put it in one place`,
      },
    ]);
  }
  return text;
}

/**
 * Prefect's apply_values (remove_notset=True): pure, sync. Returns NOT_SET for a template that
 * is exactly one missing standard placeholder. `path` names places in errors (`$ENV` refusals).
 */
export function applyValues(
  template: unknown,
  values: Record<string, unknown>,
  path = '',
  budget: RenderBudget = { chars: 0 },
): unknown {
  if (
    template === null ||
    template === undefined ||
    typeof template === 'number' ||
    typeof template === 'boolean'
  ) {
    return template;
  }
  if (typeof template === 'string') {
    const placeholders = findPlaceholders(template);
    if (placeholders.length === 0) return template;
    const [only] = placeholders;
    if (placeholders.length === 1 && only && only.fullMatch === template && only.kind === 'standard') {
      return getFromDict(values, only.name);
    }
    let out = template;
    for (const placeholder of placeholders) {
      if (placeholder.kind === 'env_var') throw envRefused(placeholder, path);
      if (placeholder.kind !== 'standard') continue;
      const value = getFromDict(values, placeholder.name);
      out = spend(
        budget,
        out.replaceAll(placeholder.fullMatch, value === NOT_SET ? '' : pythonStr(value)),
        path,
      );
    }
    return out;
  }
  if (Array.isArray(template)) {
    const out: unknown[] = [];
    template.forEach((item, index) => {
      const value = applyValues(item, values, `${path}[${index}]`, budget);
      if (value !== NOT_SET) out.push(value);
    });
    return out;
  }
  if (isRecord(template)) {
    const out: Record<string, unknown> = {};
    for (const [key, item] of Object.entries(template)) {
      const value = applyValues(item, values, formatPath([key], path), budget);
      if (value !== NOT_SET) out[key] = value;
    }
    return out;
  }
  throw new InvalidInputError('Unexpected template value', [
    { path, message: `is a ${typeof template}, not a JSON value` },
  ]);
}

/** Prefect's _get_base_config_defaults: defaults that are not null. */
export function variableDefaults(properties: Record<string, unknown>): Record<string, unknown> {
  const defaults: Record<string, unknown> = {};
  for (const [name, attrs] of Object.entries(properties)) {
    if (isRecord(attrs) && 'default' in attrs && attrs.default !== null && attrs.default !== undefined) {
      defaults[name] = structuredClone(attrs.default);
    }
  }
  return defaults;
}

function deepMerge(base: Record<string, unknown>, merge: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base };
  for (const [key, value] of Object.entries(merge)) {
    const current = out[key];
    out[key] = isRecord(current) && isRecord(value) ? deepMerge(current, value) : value;
  }
  return out;
}

/** Prefect's set_in_dict for `a.b.c` keys; a non-dict on the way is refused, as Prefect raises. */
function setInDict(target: Record<string, unknown>, key: string, value: unknown): void {
  const segments = key.replaceAll('[', '.').replaceAll(']', '').split('.');
  let current = target;
  for (const segment of segments.slice(0, -1)) {
    const next = current[segment] ?? {};
    if (!isRecord(next)) {
      throw new InvalidInputError('Invalid job variables', [
        {
          path: formatPath([key], 'job_variables'),
          message: `'${shownKey(segment)}' is already set to a non-object value`,
        },
      ]);
    }
    current[segment] = next;
    current = next;
  }
  current[segments.at(-1) ?? key] = value;
}

/** Dot keys (`env.FOO`) nested first, plain keys merged over them, as Prefect does. */
export function nestJobVariables(values: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(values)) if (key.includes('.')) setInDict(out, key, value);
  for (const [key, value] of Object.entries(values)) {
    if (key.includes('.')) continue;
    const current = out[key];
    out[key] = isRecord(current) && isRecord(value) ? deepMerge(current, value) : value;
  }
  return out;
}

/** Every standard placeholder's first name segment in the job configuration. */
function referencedVariables(template: unknown, into = new Set<string>()): Set<string> {
  if (typeof template === 'string') {
    for (const p of findPlaceholders(template)) {
      if (p.kind === 'standard') into.add(p.name.replaceAll('[', '.').split('.')[0] ?? p.name);
    }
  } else if (Array.isArray(template)) for (const item of template) referencedVariables(item, into);
  else if (isRecord(template)) for (const item of Object.values(template)) referencedVariables(item, into);
  return into;
}

export interface BaseJobTemplate {
  job_configuration: Record<string, unknown>;
  variables: Record<string, unknown>;
}

/** The template's two parts, or a problem naming what is missing. */
export function splitTemplate(template: Record<string, unknown>, path: string): BaseJobTemplate {
  const problems: Problem[] = [];
  const { job_configuration: jobConfiguration, variables } = template;
  if (!isRecord(jobConfiguration)) {
    problems.push({
      path: `${path}.job_configuration`,
      message: 'required: expected an object (the job the worker runs)',
    });
  }
  if (variables !== undefined && !isRecord(variables)) {
    problems.push({
      path: `${path}.variables`,
      message: 'expected an object (a JSON Schema of the job variables)',
    });
  }
  if (problems.length > 0 || !isRecord(jobConfiguration))
    throw new InvalidInputError('Invalid base job template', problems);
  return { job_configuration: jobConfiguration, variables: isRecord(variables) ? variables : {} };
}

/**
 * Job variables checked against the template's `variables` schema. Null is "not set" for any
 * variable that is not required (Prefect's workers read a null as the default). A variable the
 * schema does not declare and no placeholder reads would be silently dropped: refused, with
 * the closest name.
 */
export function checkJobVariables(
  template: BaseJobTemplate,
  values: Record<string, unknown>,
  options: { ignoreRequired?: boolean | undefined } = {},
): Problem[] {
  const schema = template.variables;
  const properties = isRecord(schema.properties) ? schema.properties : {};
  const required = new Set(Array.isArray(schema.required) ? schema.required : []);
  const used = referencedVariables(template.job_configuration);
  const known = [...new Set([...Object.keys(properties), ...used])];
  const problems: Problem[] = [];
  for (const [name, value] of Object.entries(values)) {
    const path = formatPath([name], 'job_variables');
    if (!Object.hasOwn(properties, name)) {
      if (used.has(name)) continue;
      const hint = closest(name, known);
      problems.push({
        path,
        message:
          `is not a job variable of this work pool (nothing in its template reads it)` +
          (hint ? `; did you mean '${hint}'?` : `; known: ${known.slice(0, 30).join(', ')}`),
      });
      continue;
    }
    if (value === null && !required.has(name)) continue;
    const attrs = properties[name];
    problems.push(...checkSchema(value, isRecord(attrs) ? attrs : {}, path, schema));
  }
  for (const name of options.ignoreRequired ? [] : required) {
    if (typeof name !== 'string' || name in values) continue;
    const attrs = properties[name];
    if (isRecord(attrs) && attrs.default !== undefined) continue;
    problems.push({
      path: formatPath([name], 'job_variables'),
      message: 'is required by this work pool: set it',
    });
  }
  return problems;
}

/** Keys the submitter or Prefect keep beside a block's data. */
function blockData(doc: Record<string, unknown>): Record<string, unknown> {
  const data: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(doc)) {
    if (key === 'type' || key === 'block_type_slug' || key.startsWith('_')) continue;
    data[key] = value;
  }
  return data;
}

/** Where `{{ prefect.blocks… }}` and `{{ prefect.variables… }}` are looked up (a BlockStore). */
export type RenderSource = Pick<BlockStore, 'get'> & Partial<Pick<BlockStore, 'variables'>>;

export interface RenderContext {
  blocks: RenderSource;
  /** Prefect variables by name; read from the source's `variables()` when not given. */
  variables?: Record<string, unknown> | undefined;
  /** Problem paths start here, e.g. `work_pool(my-pool)`. */
  path: string;
  /** Skip the schema's `required` (Prefect does when a deployment is created, not when it runs). */
  ignoreRequired?: boolean | undefined;
}

class Resolver {
  private readonly blockCache = new Map<string, Record<string, unknown>>();
  readonly budget: RenderBudget = { chars: 0 };
  private variables: Record<string, unknown> | undefined;

  constructor(private readonly context: RenderContext) {
    this.variables = context.variables;
  }

  private async block(placeholder: Placeholder, path: string): Promise<unknown> {
    const parts = placeholder.name.slice(BLOCK_PREFIX.length).split('.');
    const [type, name, ...rest] = parts;
    if (!type || !name) {
      throw new InvalidInputError('Invalid block placeholder', [
        {
          path,
          message: `${placeholder.fullMatch} must be {{ prefect.blocks.<block-type-slug>.<block-document-name> }}`,
        },
      ]);
    }
    const slug = `${type}/${name}`;
    let data = this.blockCache.get(slug);
    if (!data) {
      data = blockData(await this.context.blocks.get(slug));
      this.blockCache.set(slug, data);
    }
    const keyPath = rest.join('.');
    let value: unknown = data;
    const keys = Object.keys(data);
    // a system block holding only `value` resolves to it, unless the path already says `value`
    if (keys.length === 1 && keys[0] === 'value' && !keyPath.startsWith('value')) value = data.value;
    if (keyPath) {
      const found = getFromDict(value, keyPath);
      if (found === NOT_SET) {
        throw new InvalidInputError('Block placeholder does not resolve', [
          { path, message: `${placeholder.fullMatch}: block '${slug}' has no '${keyPath}'` },
        ]);
      }
      value = found;
    }
    return structuredClone(value);
  }

  private async variable(placeholder: Placeholder): Promise<unknown> {
    if (!this.variables) this.variables = (await this.context.blocks.variables?.()) ?? {};
    const name = placeholder.name.slice(VARIABLE_PREFIX.length);
    return Object.hasOwn(this.variables, name) ? this.variables[name] : NOT_SET;
  }

  /** Prefect's resolve_block_document_references, then resolve_variables, in one walk each. */
  async resolve(template: unknown, kind: 'block_document' | 'variable', path: string): Promise<unknown> {
    if (Array.isArray(template)) {
      const out: unknown[] = [];
      for (const [index, item] of template.entries())
        out.push(await this.resolve(item, kind, `${path}[${index}]`));
      return out;
    }
    if (isRecord(template)) {
      const ref = template.$ref;
      if (kind === 'block_document' && isRecord(ref) && ref.block_document_id) {
        throw new InvalidInputError('Block reference by id', [
          {
            path: `${path}.$ref`,
            message: `block_document_id ${shownValue(ref.block_document_id)} names a block in a Prefect API this submitter does not read: write {{ prefect.blocks.TYPE.NAME }} instead`,
          },
        ]);
      }
      const out: Record<string, unknown> = {};
      for (const [key, item] of Object.entries(template))
        out[key] = await this.resolve(item, kind, formatPath([key], path));
      return out;
    }
    if (typeof template !== 'string') return template;
    const placeholders = findPlaceholders(template).filter((p) => p.kind === kind);
    if (placeholders.length === 0) return template;
    const [only] = placeholders;
    if (placeholders.length === 1 && only && only.fullMatch === template) {
      const value = kind === 'block_document' ? await this.block(only, path) : await this.variable(only);
      return value === NOT_SET ? '' : value;
    }
    let out = template;
    for (const placeholder of placeholders) {
      const value =
        kind === 'block_document' ? await this.block(placeholder, path) : await this.variable(placeholder);
      if (kind === 'block_document' && (Array.isArray(value) || isRecord(value))) {
        throw new InvalidInputError('Block placeholder inside text', [
          {
            path,
            message: `${placeholder.fullMatch} is ${Array.isArray(value) ? 'a list' : 'an object'}, which cannot be put inside text: pick one field (e.g. '.value' or '.url')`,
          },
        ]);
      }
      out = spend(
        this.budget,
        out.replaceAll(placeholder.fullMatch, value === NOT_SET ? '' : pythonStr(value)),
        path,
      );
    }
    return out;
  }
}

/**
 * The job configuration Prefect's worker would build from `baseJobTemplate` and `jobVariables`
 * (from_template_and_values), with blocks and variables from the store. Throws
 * InvalidInputError naming `job_variables.<var>` or the place in the template.
 */
export async function renderJobConfiguration(
  baseJobTemplate: Record<string, unknown>,
  jobVariables: Record<string, unknown>,
  context: RenderContext,
): Promise<Record<string, unknown>> {
  checkInput(baseJobTemplate, 'Base job template refused', `${context.path}.base_job_template`);
  checkInput(jobVariables, 'Job variables refused', 'job_variables');
  const template = splitTemplate(baseJobTemplate, `${context.path}.base_job_template`);
  const resolver = new Resolver(context);
  // `prefect deploy` resolves block and variable references in a deployment's job variables
  // before the server checks them against the schema (cli/deploy/_core.py), so a block given
  // to an object variable (`aws_credentials: "{{ prefect.blocks.aws-credentials.prod }}"`) fits
  const given = await resolver.resolve(
    await resolver.resolve(jobVariables, 'block_document', 'job_variables'),
    'variable',
    'job_variables',
  );
  const nested = nestJobVariables(isRecord(given) ? given : {});
  const problems = checkJobVariables(template, nested, { ignoreRequired: context.ignoreRequired });
  if (problems.length > 0)
    throw new InvalidInputError(`Job variables do not fit work pool ${context.path}`, problems);

  let baseConfig = structuredClone(template.job_configuration);
  const properties = isRecord(template.variables.properties) ? template.variables.properties : {};
  const variables = variableDefaults(properties);
  const defaultEnv = variables.env;
  if (isRecord(defaultEnv) && Object.keys(defaultEnv).length > 0) {
    baseConfig.env = isRecord(baseConfig.env) ? { ...baseConfig.env, ...defaultEnv } : defaultEnv;
  }
  Object.assign(variables, nested);
  const env = variables.env;
  if (isRecord(baseConfig.env) && isRecord(env) && Object.keys(env).length > 0) {
    baseConfig.env = { ...baseConfig.env, ...env };
  }
  const applied = applyValues(baseConfig, variables, `${context.path}.job_configuration`, resolver.budget);
  baseConfig = isRecord(applied) ? applied : {};
  const withBlocks = await resolver.resolve(
    baseConfig,
    'block_document',
    `${context.path}.job_configuration`,
  );
  const rendered = await resolver.resolve(withBlocks, 'variable', `${context.path}.job_configuration`);
  if (!isRecord(rendered)) throw new Error('a rendered job configuration is always an object');
  checkInput(rendered, 'Rendered job configuration refused', `${context.path}.job_configuration`);
  return rendered;
}
