// Deps for running the workflow on this machine: a state folder (parked events, local
// executions, process runs), a block store folder, and reports handed back to the CLI.
import { resolve } from 'node:path';
import { createLogger } from '../core/logger.js';
import { FolderStore } from '../core/store.js';
import type { Deps } from '../functions/lib/deps.js';
import { storeAt } from '../functions/lib/deps.js';
import { profileSettings } from '../functions/lib/prefect/profiles.js';
import { prefectFromEnv } from '../functions/lib/prefect-from-env.js';
import { callbackSink } from '../functions/lib/report-sink.js';
import { settingsFromEnv } from '../functions/lib/settings.js';
import type { Report } from '../functions/lib/state.js';
import { withWorkPools } from '../prefect3/pool-target.js';
import { BlockStore } from '../providers/block-store.js';
import { loadProvider, loadSpec, type ProviderLoader } from '../providers/registry.js';

export interface LocalOptions {
  home?: string;
  blocks?: string;
  verbose?: boolean;
  onReport?: (report: Report) => void;
  loadProvider?: ProviderLoader;
  env?: NodeJS.ProcessEnv;
}

/** The local state folder: `--home`, else $SUBMITTER_HOME, else `.submitter` here. */
export function homeDir(option?: string, env: NodeJS.ProcessEnv = process.env): string {
  return resolve(option ?? env.SUBMITTER_HOME ?? '.submitter');
}

export async function localDeps(options: LocalOptions = {}): Promise<Deps> {
  const env = options.env ?? process.env;
  const home = homeDir(options.home, env);
  // the process provider keeps its run records here too
  process.env.SUBMITTER_HOME = home;
  const store = new FolderStore(resolve(home, 'store'));
  const blocksLocation = options.blocks ?? env.SUBMITTER_BLOCKS;
  // the CLI renders Prefect 3 work pools itself (preview, validate, run)
  const blocks = withWorkPools(
    new BlockStore(
      blocksLocation
        ? await storeAt(blocksLocation.startsWith('s3://') ? blocksLocation : resolve(blocksLocation))
        : store,
    ),
  );
  // locally the active profile of ~/.prefect/profiles.toml (PREFECT_HOME) counts too
  const prefect = prefectFromEnv(env, { profile: profileSettings(env) });
  return {
    store,
    blocks,
    loadSpec,
    loadProvider: options.loadProvider ?? loadProvider,
    // Locally the poll cap is 10 s unless set: a person is watching.
    settings: settingsFromEnv({ POLL_CAP_SECONDS: '10', ...env }),
    sink: callbackSink(options.onReport ?? (() => undefined)),
    ...(prefect ? { prefect } : {}),
    log: createLogger({ level: options.verbose ? 'debug' : (env.LOG_LEVEL ?? 'warn') }),
    now: () => new Date(),
  };
}
