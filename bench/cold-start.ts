// Section 1: every deployed function bundled exactly as the CDK app bundles it, its size,
// what it holds (SDK families, from the esbuild metafile), and how long a fresh `node`
// takes to import it compared with a bare `node -e 0`.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import { build, type Metafile } from 'esbuild';
import {
  esbuildOptions,
  externalModules,
  FUNCTIONS,
  type FunctionSpec,
  LAMBDA_RUNTIME,
  providerFunction,
} from '../infra-cdk/bundling.js';
import { BLOCK_TYPES } from '../providers/blocks.js';
import { type Family, familyOf, PROVIDER_FAMILIES, PROVIDER_FAMILY, packageOf } from './lib/packages.js';
import { bytes, MB, ms, type SectionResult, type Target } from './lib/report.js';
import { median } from './lib/stats.js';

export const SIZE_TARGET_BYTES = 1 * MB;
export const LOAD_TARGET_RATIO = 3;

interface Bundled {
  name: string;
  spec: FunctionSpec;
  file: string;
  bytes: number;
  /** Bytes in the bundle per package (project files under `(project)`). */
  packages: Record<string, number>;
  /** SDK bytes per family, and how many files of it. */
  families: Partial<Record<Family, { bytes: number; files: number }>>;
}

interface Measured extends Bundled {
  /** Median wall time of `node loader.mjs bundle.mjs`, ms. */
  processMs: number;
  /** Median time of the `import()` alone, measured inside the child, ms. */
  importMs: number;
  ratio: number;
  foreignFamilies: Family[];
  error?: string;
}

const LOADER = `const t = performance.now();
await import(process.argv[2]);
process.stdout.write(String(performance.now() - t));
`;

function functionsToBundle(root: string): { deployed: [string, FunctionSpec][]; missing: string[] } {
  const deployed: [string, FunctionSpec][] = Object.entries(FUNCTIONS);
  const missing: string[] = [];
  for (const type of BLOCK_TYPES) {
    const spec = providerFunction(type);
    if (existsSync(join(root, spec.entry))) deployed.push([`infra-${type}`, spec]);
    else missing.push(type);
  }
  return { deployed, missing };
}

/** Which functions leave which packages out (to the Lambda runtime's SDK). */
function externalsNote(deployed: [string, FunctionSpec][]): string {
  const notes = deployed
    .map(([name, spec]) => [name, externalModules(spec)] as const)
    .filter(([, external]) => external.length)
    .map(([name, external]) => `${name}: ${external.join(', ')}, from the Lambda runtime's SDK`);
  return notes.length
    ? `${notes.join('; ')}; otherwise none, the AWS SDK is bundled`
    : 'none, the AWS SDK is bundled';
}

function summarize(metafile: Metafile, outKey: string): Pick<Bundled, 'packages' | 'families'> {
  const output = metafile.outputs[outKey];
  const packages: Record<string, number> = {};
  const families: Bundled['families'] = {};
  for (const [path, input] of Object.entries(output?.inputs ?? {})) {
    const pkg = packageOf(path) ?? '(project)';
    packages[pkg] = (packages[pkg] ?? 0) + input.bytesInOutput;
    const family = familyOf(pkg);
    if (family && input.bytesInOutput > 0) {
      const entry = families[family] ?? { bytes: 0, files: 0 };
      families[family] = { bytes: entry.bytes + input.bytesInOutput, files: entry.files + 1 };
    }
  }
  return { packages, families };
}

async function bundle(root: string, dir: string, name: string, spec: FunctionSpec): Promise<Bundled> {
  const file = join(dir, `${name}.mjs`);
  const result = await build(esbuildOptions(root, spec, file));
  const outKey = relative(root, file).replace(/\\/g, '/');
  return { name, spec, file, bytes: (await stat(file)).size, ...summarize(result.metafile, outKey) };
}

/** A child's environment without anything that would make node do more than usual. */
function childEnv(): NodeJS.ProcessEnv {
  const { NODE_OPTIONS: _options, ...env } = process.env;
  return { ...env, AWS_REGION: env.AWS_REGION ?? 'us-east-1', LOG_LEVEL: 'error' };
}

function timeProcess(args: string[]): { wallMs: number; stdout: string; error?: string } {
  const start = performance.now();
  const child = spawnSync(process.execPath, args, { env: childEnv(), encoding: 'utf8' });
  const wallMs = performance.now() - start;
  if (child.status !== 0) {
    return {
      wallMs,
      stdout: child.stdout,
      error: (child.stderr || child.error?.message || '').slice(0, 300),
    };
  }
  return { wallMs, stdout: child.stdout };
}

function foreignFamilies(bundled: Bundled): Family[] {
  const own = bundled.spec.provider ? PROVIDER_FAMILY[bundled.spec.provider] : undefined;
  return PROVIDER_FAMILIES.filter((family) => family !== own && (bundled.families[family]?.bytes ?? 0) > 0);
}

function ownFamilyTarget(bundled: Bundled): string {
  const own = bundled.spec.provider ? PROVIDER_FAMILY[bundled.spec.provider] : undefined;
  return own ? `only ${own}` : 'no provider SDK';
}

function familyCell(bundled: Bundled): string {
  const present = PROVIDER_FAMILIES.filter((family) => bundled.families[family]);
  if (!present.length) return 'none';
  return present
    .map(
      (family) =>
        `${family} ${bytes(bundled.families[family]?.bytes ?? 0)} (${bundled.families[family]?.files} files)`,
    )
    .join(', ');
}

function topPackages(bundled: Bundled, count = 3): string {
  return Object.entries(bundled.packages)
    .sort((a, b) => b[1] - a[1])
    .slice(0, count)
    .map(([pkg, n]) => `${pkg} ${bytes(n)}`)
    .join(', ');
}

export async function coldStart(root: string, runs = 7): Promise<SectionResult> {
  const dir = await mkdtemp(join(tmpdir(), 'submitter-bench-bundles-'));
  try {
    const { deployed, missing } = functionsToBundle(root);
    const bundled: Bundled[] = [];
    for (const [name, spec] of deployed) bundled.push(await bundle(root, dir, name, spec));

    const loader = join(dir, 'loader.mjs');
    await writeFile(loader, LOADER);
    // Interleave bare and bundle runs so machine noise hits both alike.
    const bare: number[] = [];
    const wall = new Map<string, number[]>();
    const imports = new Map<string, number[]>();
    const errors = new Map<string, string>();
    timeProcess(['-e', '0']); // warm the file cache
    for (let run = 0; run < runs; run++) {
      bare.push(timeProcess(['-e', '0']).wallMs);
      for (const b of bundled) {
        const result = timeProcess([loader, pathToFileURL(b.file).href]);
        if (result.error) {
          errors.set(b.name, result.error);
          continue;
        }
        wall.set(b.name, [...(wall.get(b.name) ?? []), result.wallMs]);
        imports.set(b.name, [...(imports.get(b.name) ?? []), Number(result.stdout)]);
      }
    }
    const bareMs = median(bare);
    const measured: Measured[] = bundled.map((b) => {
      const processMs = median(wall.get(b.name) ?? []);
      const error = errors.get(b.name);
      return {
        ...b,
        processMs,
        importMs: median(imports.get(b.name) ?? []),
        ratio: processMs / bareMs,
        foreignFamilies: foreignFamilies(b),
        ...(error ? { error } : {}),
      };
    });

    const targets: Target[] = [];
    for (const m of measured) {
      targets.push({
        what: `${m.name}: bundle size`,
        target: `≤ ${bytes(SIZE_TARGET_BYTES)}`,
        measured: bytes(m.bytes),
        met: m.bytes <= SIZE_TARGET_BYTES,
      });
      targets.push({
        what: `${m.name}: load time vs bare node`,
        target: `≤ ${LOAD_TARGET_RATIO}×`,
        measured: m.error ? `failed to load: ${m.error}` : `${m.ratio.toFixed(2)}×`,
        met: !m.error && m.ratio <= LOAD_TARGET_RATIO,
      });
      targets.push({
        what: `${m.name}: no other provider's SDK`,
        target: ownFamilyTarget(m),
        measured: m.foreignFamilies.length ? `holds ${m.foreignFamilies.join(', ')}` : 'none foreign',
        met: m.foreignFamilies.length === 0,
      });
    }

    return {
      id: 'cold_start',
      title: '1. Cold start per deployed function',
      notes: [
        `Each function bundled with the esbuild JS API and infra-cdk/bundling.ts's ESBUILD_OPTIONS (minified ESM, target node22), as the CDK app does (external modules: ${externalsNote(deployed)}); size = the .mjs alone (source map not counted).`,
        `Load = wall time of a fresh \`node loader.mjs bundle.mjs\` (the bundle is imported, its handler never invoked), median of ${runs} runs interleaved with bare \`node -e 0\` runs (median ${ms(bareMs)}); import = the \`import()\` alone, timed inside the child.`,
        `Lambda runs Node 22 (${LAMBDA_RUNTIME}); this machine has Node ${process.versions.node}: absolute times differ there, the ratio is what to compare.`,
        'SDK families come from the esbuild metafile inputs of each bundle (bytes each family puts in the output). esbuild inlines dynamic import() targets, so a family present in a bundle is at least parsed at cold start even when only a lazy path would evaluate it. aws-platform = S3 store, EventBridge report sink, Step Functions starter and the SDK core they share; it is in every function by design.',
        missing.length
          ? `Provider functions without an entry file yet (functions/infra/<type>.ts): ${missing.join(', ')}.`
          : 'Every provider has an entry file.',
      ],
      tables: [
        {
          headers: [
            'function',
            'entry',
            'size',
            'load (process)',
            'import only',
            'vs bare node',
            'provider SDKs in bundle',
            'largest packages',
          ],
          rows: measured.map((m) => [
            m.name,
            m.spec.entry,
            bytes(m.bytes),
            m.error ? 'failed' : ms(m.processMs),
            m.error ? 'failed' : ms(m.importMs),
            m.error ? `failed: ${m.error}` : `${m.ratio.toFixed(2)}×`,
            familyCell(m),
            topPackages(m),
          ]),
        },
      ],
      targets,
      data: {
        node: process.versions.node,
        lambda_runtime: LAMBDA_RUNTIME,
        runs,
        bare_node_ms: bareMs,
        bare_node_runs_ms: bare,
        missing_provider_entries: missing,
        functions: measured.map((m) => ({
          name: m.name,
          entry: m.spec.entry,
          provider: m.spec.provider ?? null,
          bytes: m.bytes,
          process_ms: m.processMs,
          import_ms: m.importMs,
          ratio_to_bare_node: m.ratio,
          families: m.families,
          foreign_families: m.foreignFamilies,
          packages: Object.fromEntries(Object.entries(m.packages).sort((a, b) => b[1] - a[1])),
          error: m.error ?? null,
        })),
      },
    };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
