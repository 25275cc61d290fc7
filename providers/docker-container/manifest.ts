// The Docker provider: a container on a (remote) Docker Engine. Its deployment section says
// where the engine is and, for mutual TLS, which Secrets Manager secret holds the CA, the
// client certificate and its key (the function may read that secret, and nothing else).
import * as z from 'zod';
import { SecretArnSchema } from '../config-schemas.js';
import {
  BASE_NAME_MAPS,
  configSection,
  importAtRunTime,
  type PolicyData,
  type ProviderManifest,
  secretRead,
} from '../manifest.js';
import { type DockerContainerBlock, DockerContainerBlockSchema } from './block.js';
import { DOCKER_ENV } from './deployment.js';

export const DockerConfigSchema = z.strictObject({
  /** The engine: `tcp://HOST:PORT` (a unix socket does not exist in Lambda). */
  host: z.string().regex(/^tcp:\/\/[^/\s]+:\d+$/, "must be 'tcp://HOST:PORT', e.g. 'tcp://10.0.1.5:2376'"),
  /**
   * A Secrets Manager secret holding `{"ca": PEM, "cert": PEM, "key": PEM}` for mutual TLS.
   * Without it the engine is spoken to over plain HTTP (only on a network you trust).
   */
  tlsSecretArn: SecretArnSchema.optional(),
});
export type DockerConfig = z.output<typeof DockerConfigSchema>;

export const DOCKER_CONFIG = configSection({
  key: 'docker',
  schema: DockerConfigSchema,
  required:
    "required when 'docker-container' is enabled: { host: 'tcp://HOST:2376', tlsSecretArn: 'arn:aws:secretsmanager:…' }",
});

export function dockerEnvironment(docker: DockerConfig): Record<string, string> {
  return {
    [DOCKER_ENV.host]: docker.host,
    ...(docker.tlsSecretArn ? { [DOCKER_ENV.tlsSecret]: docker.tlsSecretArn } : {}),
  };
}

/** Only the TLS secret: the engine is not an AWS service. */
export function dockerStatements(docker: DockerConfig): PolicyData[] {
  return docker.tlsSecretArn ? [{ sid: 'ReadTheEngineTlsSecret', ...secretRead(docker.tlsSecretArn) }] : [];
}

export const dockerContainerManifest: ProviderManifest<
  'docker-container',
  DockerContainerBlock,
  typeof DOCKER_CONFIG
> = {
  type: 'docker-container',
  schema: DockerContainerBlockSchema,
  loadSpec: async () => (await import('./spec.js')).dockerContainerSpec,
  loadProvider: async () =>
    (await importAtRunTime<typeof import('./index.js')>(new URL('./index.js', import.meta.url)))
      .dockerContainerProvider,
  nameMaps: BASE_NAME_MAPS,
  nestedBlocks: { image_registry: 'docker-registry' },
  bundle: { entry: 'functions/infra/docker-container.ts', externals: [] },
  config: DOCKER_CONFIG,
  environment: dockerEnvironment,
  statements: dockerStatements,
};
