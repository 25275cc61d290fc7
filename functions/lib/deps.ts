// What the task handlers need from the outside world, injected: Lambda builds it from
// the environment on first use; the local runner and tests pass their own.
import { createLogger, type Logger } from '../../core/logger.js';
import { type DocumentStore, FolderStore } from '../../core/store.js';
import { BlockStore } from '../../providers/block-store.js';
import type { ProviderLoader } from '../../providers/registry.js';
import { RetryingStore, retryingStore } from '../../providers/runtime/store.js';
import { loadSpec, type SpecLoader } from '../../providers/specs.js';
import type { PrefectApi } from './prefect-api.js';
import { prefectFromEnv } from './prefect-from-env.js';
import { callbackSink, type ReportSink } from './report-sink.js';
import { type Settings, settingsFromEnv } from './settings.js';

export interface Deps {
  /** Parked events, cancel requests, rejected events. */
  store: DocumentStore;
  blocks: BlockStore;
  /** Pure provider halves (build, defaults): every type, small. */
  loadSpec: SpecLoader;
  /** Full providers (SDK calls): a deployed function has only its own. */
  loadProvider: ProviderLoader;
  settings: Settings;
  sink: ReportSink;
  prefect?: PrefectApi;
  log: Logger;
  now: () => Date;
}

export type DepsSource = Deps | (() => Deps | Promise<Deps>);

const resilient = new WeakMap<Deps, Deps>();

/**
 * The deps a step uses: every store read and write (parked events, pinned blocks, claims,
 * the cancel marker, stop records) through the runtime's retry loop. One wrapped copy per
 * deps object, so per-container caches keyed on it keep working.
 */
export async function resolveDeps(source: DepsSource): Promise<Deps> {
  const deps = typeof source === 'function' ? await source() : source;
  if (deps.store instanceof RetryingStore) return deps;
  let wrapped = resilient.get(deps);
  if (!wrapped) {
    wrapped = {
      ...deps,
      store: retryingStore(deps.store),
      blocks: new BlockStore(retryingStore(deps.blocks.store)),
    };
    resilient.set(deps, wrapped);
  }
  return wrapped;
}

/** A store from a location: a folder path, or `s3://bucket/prefix`. */
export async function storeAt(location: string): Promise<DocumentStore> {
  if (location.startsWith('s3://')) {
    const { S3Store } = await import('../../core/s3-store.js');
    return S3Store.fromUrl(location);
  }
  return new FolderStore(location);
}

let fromEnv: Promise<Deps> | undefined;

function noProvider(type: string): Promise<never> {
  return Promise.reject(new Error(`this function does not run providers (asked for '${type}')`));
}

/** Where a function's reports go, from its environment. Only Report emits them. */
export interface ReportingFromEnv {
  sink(env: NodeJS.ProcessEnv, log: Logger): ReportSink;
  prefect(env: NodeJS.ProcessEnv): PrefectApi | undefined;
}

/** Functions that never report log a report instead (and their bundles hold no EventBridge or Secrets Manager SDK). */
const NOT_REPORTING: ReportingFromEnv = {
  sink: (_env, log) => callbackSink((report) => log.info('flow run finished', { report })),
  // every step talks to Prefect when it is configured (Trigger creates, Prepare proposes Pending, Watch reads)
  prefect: (env) => prefectFromEnv(env),
};

/**
 * Deps for a deployed function, from its environment; built once per container.
 * A provider function passes the one provider it bundles; Report passes how it reports
 * (functions/lib/reporting.ts).
 */
export function depsFromEnv(
  provider?: ProviderLoader,
  reporting: ReportingFromEnv = NOT_REPORTING,
): Promise<Deps> {
  fromEnv ??= (async () => {
    const env = process.env;
    const storeLocation = env.SUBMITTER_STORE ?? `${env.SUBMITTER_HOME ?? '.submitter'}/store`;
    const store = await storeAt(storeLocation);
    const blocks = new BlockStore(env.SUBMITTER_BLOCKS ? await storeAt(env.SUBMITTER_BLOCKS) : store);
    const log = createLogger();
    const prefect = reporting.prefect(env);
    return {
      store,
      blocks,
      loadSpec,
      loadProvider: provider ?? noProvider,
      settings: settingsFromEnv(env),
      sink: reporting.sink(env, log),
      ...(prefect ? { prefect } : {}),
      log,
      now: () => new Date(),
    };
  })();
  return fromEnv;
}
