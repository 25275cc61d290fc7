// The process provider: a local subprocess (the embedded default; not deployed by default).
import { BASE_NAME_MAPS, importAtRunTime, type ProviderManifest } from '../manifest.js';
import { type ProcessBlock, ProcessBlockSchema } from './block.js';

export const processManifest: ProviderManifest<'process', ProcessBlock> = {
  type: 'process',
  schema: ProcessBlockSchema,
  loadSpec: async () => (await import('./spec.js')).processSpec,
  loadProvider: async () =>
    (await importAtRunTime<typeof import('./index.js')>(new URL('./index.js', import.meta.url)))
      .processProvider,
  nameMaps: BASE_NAME_MAPS,
  bundle: { entry: 'functions/infra/process.ts', externals: [] },
  // run records of local subprocesses: /tmp is the only writable place in Lambda
  environment: () => ({ SUBMITTER_HOME: '/tmp/submitter' }),
  statements: () => [],
};
