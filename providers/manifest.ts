// What a provider folder declares about itself, in one place: its block schema, how to load
// its halves, which override fields hold free-form names, what its bundle leaves out, its
// section of the deployment configuration, and the environment and IAM permissions its
// function gets. Every table keyed by type (blocks.ts, specs.ts, registry.ts, overrides.ts,
// infra-cdk/*) reads them from providers/manifests.ts.
//
// Lambda code imports manifests (for the schemas and spec loaders), so a manifest stays plain
// data and pure functions: no aws-cdk-lib, no provider SDK, no static import of its index.ts.
// IAM permissions are data (`PolicyData`) that infra-cdk turns into statements.
import type * as z from 'zod';
import { NotImplementedError, SubmitterError } from '../core/errors.js';
import type { Block } from './blocks.js';
import type { Provider, ProviderSpec } from './port.js';

/** A block schema: a zod object (parseBlock lists its shape's fields) whose output is the block. */
export type BlockSchema<B> = z.ZodType<B> & { readonly shape: Readonly<Record<string, z.ZodType>> };

/**
 * This deployment's ARN for a resource: `arn:PARTITION:SERVICE:REGION:ACCOUNT:RESOURCE/NAME`,
 * or `…:RESOURCE:NAME` with separator `:` (CloudWatch Logs). Injected by infra-cdk
 * (Stack.formatArn), so manifests need no CDK.
 */
export type ArnFormatter = (service: string, resource: string, name: string, separator?: '/' | ':') => string;

/** One IAM statement (Allow) as plain data: `infra-cdk/access.ts` makes an iam.PolicyStatement of it. */
export interface PolicyData {
  sid?: string;
  actions: readonly string[];
  resources: readonly string[];
  conditions?: Readonly<Record<string, Readonly<Record<string, unknown>>>>;
}

/** Reading one Secrets Manager secret given by complete ARN (`…-AbC123`) or partial ARN (without the suffix). */
export function secretRead(secretArn: string): PolicyData {
  return { actions: ['secretsmanager:GetSecretValue'], resources: [secretArn, `${secretArn}-??????`] };
}

/**
 * A provider's section of the deployment configuration (`config[key]`, e.g. `ecs`), required
 * when the provider is enabled.
 */
export interface ConfigSection<K extends string = string, S extends z.ZodType = z.ZodType> {
  key: K;
  schema: S;
  /** Said at `key` when the provider is enabled without its section: what to put there. */
  required: string;
}

/** Keeps a section's key and schema types (a manifest's third type argument is `typeof` it). */
export function configSection<const K extends string, S extends z.ZodType>(
  section: ConfigSection<K, S>,
): ConfigSection<K, S> {
  return section;
}

/** The parsed section a manifest's environment and statements receive; `undefined` without a section. */
export type SectionConfig<C extends ConfigSection | undefined> =
  C extends ConfigSection<string, infer S> ? z.output<S> : undefined;

export interface FunctionBundle {
  /**
   * The entry, relative to the repository root: `functions/infra/<type>.ts`, a thin file that
   * imports its provider statically (tree-shaking). A type without one cannot be deployed yet.
   */
  entry: string;
  /** Packages the bundle leaves to the Lambda runtime (the code loads them with require() at run time). */
  externals: readonly string[];
}

/** Override fields whose keys are free-form names in every block (baseFields): `env.A.B` sets `A.B`. */
export const BASE_NAME_MAPS = ['env', 'labels'] as const;

export interface ManifestFields<T extends string, B extends Block, C extends ConfigSection | undefined> {
  type: T;
  /** The block's zod schema (`providers/<type>/block.ts`). */
  schema: BlockSchema<B>;
  /** The pure half (build, watch defaults): a dynamic import of `./spec.js`, small and SDK-free. */
  loadSpec(): Promise<ProviderSpec<B>>;
  /**
   * The I/O half (`./index.js`), with its SDK; throws NotImplementedError for a type that has none
   * yet. Only the CLI, the local runner, tests and the bench call it: a deployed function imports
   * its provider statically (functions/infra/<type>.ts).
   */
  loadProvider(): Promise<Provider<B>>;
  /** Top-level fields whose keys are free-form names (they may hold dots): `secrets.A.B` is one name. */
  nameMaps: readonly string[];
  /**
   * Fields that hold a nested block document, and its Prefect block type slug: such a field may
   * also be given by slug (`"aws_credentials": "aws-credentials/prod"`), resolved from the block store.
   */
  nestedBlocks?: Readonly<Record<string, string>>;
  /** Its Lambda function's bundle. */
  bundle: FunctionBundle;
  /**
   * Environment the deployment gives its function, and Prepare too (settings the pure half may
   * read, e.g. ECS_CLUSTER), so that Prepare validates a block as Submit will run it.
   */
  environment(config: SectionConfig<C>, arn: ArnFormatter): Record<string, string>;
  /** What its function may do in the cloud, beyond reading the store. */
  statements(config: SectionConfig<C>, arn: ArnFormatter): readonly PolicyData[];
}

/**
 * A provider's manifest, typed by its block type and its configuration section (if it has one):
 * `export const ecsTaskManifest: ProviderManifest<'ecs-task', EcsTaskBlock, typeof ECS_CONFIG> = {…}`.
 * Written as an annotation, not as a generic call: Block is the union of the manifests' block
 * types, so checking a call's type arguments against it while inferring the manifest is circular.
 */
export type ProviderManifest<
  T extends string,
  B extends Block,
  C extends ConfigSection | undefined = undefined,
> = ManifestFields<T, B, C> & (C extends ConfigSection ? { config: C } : { config?: undefined });

/**
 * Any manifest, its types erased to what the per-type tables use: infra-cdk passes a section
 * parsed by the manifest's own `config.schema` to its `environment` and `statements`.
 */
export interface AnyManifest {
  readonly type: string;
  readonly config?: ConfigSection;
  readonly nameMaps: readonly string[];
  readonly bundle: FunctionBundle;
  environment(config: unknown, arn: ArnFormatter): Record<string, string>;
  statements(config: unknown, arn: ArnFormatter): readonly PolicyData[];
}

/**
 * Imports a module by URL at run time, out of esbuild's sight: esbuild inlines every
 * `import('./literal.js')` into the bundle, which would put a provider and its SDK into every
 * Lambda bundle that reaches the manifests (Prepare, Trigger, Report). Nothing deployed calls
 * this; under tsx (CLI, tests) the `.js` URL resolves to the `.ts` file. `M` is the module's
 * type (`typeof import('./index.js')`, erased from the output): tsc checks the manifest against
 * it, and the registry checks at run time that what was loaded is the requested type's.
 */
export function importAtRunTime<M>(url: URL): Promise<M> {
  return import(url.href);
}

/** The provider loader of a type whose I/O half has not landed yet. */
export async function notImplementedYet(type: string): Promise<never> {
  throw new NotImplementedError(
    `the ${type} provider is not implemented yet: its block validates, but it cannot be previewed or run in this version`,
  );
}

/** A type's loader gave a provider (or spec) of another type: a manifest loads the wrong folder. */
export class ProviderTypeMismatchError extends SubmitterError {
  constructor(
    readonly requested: string,
    readonly loaded: unknown,
    what: 'provider' | 'spec',
  ) {
    super(
      `asked for the ${requested} ${what}, got one whose type is ${JSON.stringify(loaded)}: ` +
        `a ${requested} block never goes to another type's ${what}. ` +
        `Make providers/${requested}/manifest.ts load its own folder's ${what === 'spec' ? 'spec' : 'index'}.js ` +
        `(or give this function the ${requested} provider)`,
    );
  }
}

/** `value`, once its `type` is checked to be `type`. */
export function ofType<V extends { readonly type: unknown }>(
  type: string,
  value: V,
  what: 'provider' | 'spec',
): V {
  if (value.type !== type) throw new ProviderTypeMismatchError(type, value.type, what);
  return value;
}
