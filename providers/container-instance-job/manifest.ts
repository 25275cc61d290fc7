// The Azure Container Instances provider: a container group. The deployment gives its function
// the service principal's secret by reference (blocks without aci_credentials use it) and, for a
// sovereign cloud, the ARM endpoint, its token audience and the authority host; the function's
// only AWS permission is reading that secret.
import * as z from 'zod';
import { SecretArnSchema } from '../config-schemas.js';
import {
  BASE_NAME_MAPS,
  configSection,
  importAtRunTime,
  type ProviderManifest,
  secretRead,
} from '../manifest.js';
import { AZURE_ENV } from './azure-env.js';
import { type ContainerInstanceJobBlock, ContainerInstanceJobBlockSchema } from './block.js';

export const AZURE_CONFIG = configSection({
  key: 'azure',
  schema: z.strictObject({
    /** A secret holding {tenant_id, client_id, client_secret} as JSON. */
    credentialsSecretArn: SecretArnSchema,
    /** A sovereign cloud's ARM endpoint, e.g. https://management.chinacloudapi.cn (default: public Azure). */
    resourceManagerEndpoint: z.url({ protocol: /^https$/ }).optional(),
    /** The token audience when it is not the endpoint, e.g. https://management.core.chinacloudapi.cn/. */
    resourceManagerAudience: z.url({ protocol: /^https$/ }).optional(),
    /** The sovereign cloud's Microsoft Entra host, e.g. https://login.chinacloudapi.cn. */
    authorityHost: z.url({ protocol: /^https$/ }).optional(),
  }),
  required:
    "required when 'container-instance-job' is enabled: { credentialsSecretArn } ({tenant_id, client_id, client_secret}), and for a sovereign cloud resourceManagerEndpoint, authorityHost",
});

export type AzureConfig = z.output<typeof AZURE_CONFIG.schema>;

export function azureEnvironment(azure: AzureConfig): Record<string, string> {
  return {
    [AZURE_ENV.credentialsSecretArn]: azure.credentialsSecretArn,
    ...(azure.resourceManagerEndpoint
      ? { [AZURE_ENV.resourceManagerEndpoint]: azure.resourceManagerEndpoint }
      : {}),
    ...(azure.resourceManagerAudience
      ? { [AZURE_ENV.resourceManagerAudience]: azure.resourceManagerAudience }
      : {}),
    ...(azure.authorityHost ? { [AZURE_ENV.authorityHost]: azure.authorityHost } : {}),
  };
}

export const containerInstanceJobManifest: ProviderManifest<
  'container-instance-job',
  ContainerInstanceJobBlock,
  typeof AZURE_CONFIG
> = {
  type: 'container-instance-job',
  schema: ContainerInstanceJobBlockSchema,
  loadSpec: async () => (await import('./spec.js')).containerInstanceJobSpec,
  loadProvider: async () =>
    (await importAtRunTime<typeof import('./index.js')>(new URL('./index.js', import.meta.url)))
      .containerInstanceJobProvider,
  nameMaps: BASE_NAME_MAPS,
  nestedBlocks: {
    aci_credentials: 'azure-container-instance-credentials',
    image_registry: 'docker-registry',
  },
  bundle: { entry: 'functions/infra/container-instance-job.ts', externals: [] },
  config: AZURE_CONFIG,
  environment: azureEnvironment,
  statements: (azure) => [secretRead(azure.credentialsSecretArn)],
};
