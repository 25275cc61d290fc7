// How every Lambda function is bundled: one place, used by the CDK app (NodejsFunction)
// and by the benchmark (esbuild directly), so what is measured is what is deployed.
import { join } from 'node:path';
import type { BuildOptions } from 'esbuild';
import { BLOCK_TYPES, type BlockType } from '../providers/blocks.js';
import { MANIFESTS } from '../providers/manifests.js';

export const LAMBDA_RUNTIME = 'nodejs22.x';
export const NODE_TARGET = 'node22';
/** Graviton: cheaper per GB-second, and the bundles hold no native code. */
export const LAMBDA_ARCHITECTURE = 'arm64';
/** Every function exports its handler as `handler`. */
export const HANDLER_EXPORT = 'handler';

export interface FunctionSpec {
  /** Entry file, relative to the repository root. */
  entry: string;
  description: string;
  /** For provider functions: the one provider the bundle holds. */
  provider?: BlockType;
  /** Lambda timeout: one invocation is one short step (a poll, a submit), never a whole run. */
  timeoutSeconds: number;
  /**
   * Packages left out of this bundle: the code loads them with require() at run time, which
   * finds the Lambda runtime's own AWS SDK (NODE_PATH) in Lambda and node_modules locally.
   */
  external?: readonly string[];
}

/** The functions of the deployed app. Provider functions exist per enabled provider. */
export const FUNCTIONS = {
  trigger: {
    entry: 'functions/trigger.ts',
    description: 'EventBridge / cron / Pub/Sub push → one execution per flow run',
    timeoutSeconds: 30,
  },
  prepare: {
    entry: 'functions/prepare.ts',
    description: 'Validate the parked event, resolve the block, build the run context',
    timeoutSeconds: 60,
  },
  report: {
    entry: 'functions/report.ts',
    description: 'Emit the final report; propose Crashed to the Prefect API',
    timeoutSeconds: 60,
  },
} satisfies Record<string, FunctionSpec>;

/**
 * Per provider, what its bundle leaves to the runtime (its manifest's `bundle.externals`),
 * e.g. ECS leaves the EC2 SDK, needed only for the default-network lookup.
 */
export const PROVIDER_EXTERNALS: Partial<Record<BlockType, readonly string[]>> = Object.fromEntries(
  BLOCK_TYPES.flatMap((type) => {
    const { externals } = MANIFESTS[type].bundle;
    return externals.length ? [[type, externals]] : [];
  }),
);

/** A provider's function: entry and externals from its manifest (providers/<type>/manifest.ts). */
export function providerFunction(type: BlockType): FunctionSpec {
  const { entry, externals } = MANIFESTS[type].bundle;
  return {
    entry,
    description: `Submit / watch / clean up ${type} runs`,
    provider: type,
    // submit may wait out throttling (e.g. RegisterTaskDefinition); kill waits the grace period
    timeoutSeconds: 300,
    ...(externals.length ? { external: externals } : {}),
  };
}

/**
 * Left out of every bundle: nothing. The SDK clients a function calls on its main path ship
 * pinned and tree-shaken, not the runtime's; a function may leave out more (`external`).
 */
export const EXTERNAL_MODULES: readonly string[] = [];

/** What esbuild leaves out of one function's bundle. */
export function externalModules(spec: FunctionSpec): string[] {
  return [...EXTERNAL_MODULES, ...(spec.external ?? [])];
}

/** esbuild options shared by CDK bundling and the bench (minified ESM, source maps). */
export const ESBUILD_OPTIONS = {
  bundle: true,
  minify: true,
  // Error classes name themselves after their class (`new.target.name`) and the workflow's
  // Retry/Catch match on those names: minifying must not rename them.
  keepNames: true,
  sourcemap: true,
  format: 'esm',
  platform: 'node',
  target: NODE_TARGET,
  mainFields: ['module', 'main'],
  // Some CommonJS dependencies call require(); give ESM bundles one.
  banner: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);",
} as const;

/** The esbuild API options for one function's bundle: what CDK builds, for the bench and bundle tests. */
export function esbuildOptions(
  root: string,
  spec: FunctionSpec,
  outfile: string,
): BuildOptions & { metafile: true } {
  const { banner, mainFields, ...options } = ESBUILD_OPTIONS;
  return {
    ...options,
    mainFields: [...mainFields],
    banner: { js: banner },
    external: externalModules(spec),
    absWorkingDir: root,
    entryPoints: [join(root, spec.entry)],
    outfile,
    metafile: true,
    logLevel: 'silent',
  };
}
