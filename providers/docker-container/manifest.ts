// The Docker provider: a container on a Docker engine. Its I/O half has not landed yet.
import { BASE_NAME_MAPS, notImplementedYet, type ProviderManifest } from '../manifest.js';
import { type DockerContainerBlock, DockerContainerBlockSchema } from './block.js';

export const dockerContainerManifest: ProviderManifest<'docker-container', DockerContainerBlock> = {
  type: 'docker-container',
  schema: DockerContainerBlockSchema,
  loadSpec: async () => (await import('./spec.js')).dockerContainerSpec,
  loadProvider: () => notImplementedYet('docker-container'),
  nameMaps: BASE_NAME_MAPS,
  bundle: { entry: 'functions/infra/docker-container.ts', externals: [] },
  environment: () => ({}),
  statements: () => [],
};
