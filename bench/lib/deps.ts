// Deps for bench runs: a fresh folder store, the deployed settings, quiet logs.
import { createLogger } from '../../core/logger.js';
import { FolderStore } from '../../core/store.js';
import type { Deps } from '../../functions/lib/deps.js';
import { callbackSink } from '../../functions/lib/report-sink.js';
import { settingsFromEnv } from '../../functions/lib/settings.js';
import type { Report } from '../../functions/lib/state.js';
import { BlockStore } from '../../providers/block-store.js';
import { loadProvider, loadSpec } from '../../providers/registry.js';

export function benchDeps(
  storeDir: string,
  overrides: Partial<Deps> = {},
): { deps: Deps; reports: Report[] } {
  const reports: Report[] = [];
  const store = new FolderStore(storeDir);
  const deps: Deps = {
    store,
    blocks: new BlockStore(store),
    loadSpec,
    loadProvider,
    settings: settingsFromEnv({}), // the deployed defaults
    sink: callbackSink((report) => reports.push(report)),
    log: createLogger({ level: 'error' }),
    now: () => new Date(),
    ...overrides,
  };
  return { deps, reports };
}
