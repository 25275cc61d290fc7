// The Azure Container Instances provider: a container group. Its I/O half has not landed
// yet; the deployment already gives its function the service principal's secret.
import * as z from 'zod';
import { SecretArnSchema } from '../config-schemas.js';
import {
  BASE_NAME_MAPS,
  configSection,
  notImplementedYet,
  type ProviderManifest,
  secretRead,
} from '../manifest.js';
import { type ContainerInstanceJobBlock, ContainerInstanceJobBlockSchema } from './block.js';

export const AZURE_CONFIG = configSection({
  key: 'azure',
  schema: z.strictObject({ credentialsSecretArn: SecretArnSchema }),
  required:
    "required when 'container-instance-job' is enabled: { credentialsSecretArn } ({tenant_id, client_id, client_secret})",
});

export const containerInstanceJobManifest: ProviderManifest<
  'container-instance-job',
  ContainerInstanceJobBlock,
  typeof AZURE_CONFIG
> = {
  type: 'container-instance-job',
  schema: ContainerInstanceJobBlockSchema,
  loadSpec: async () => (await import('./spec.js')).containerInstanceJobSpec,
  loadProvider: () => notImplementedYet('container-instance-job'),
  nameMaps: BASE_NAME_MAPS,
  bundle: { entry: 'functions/infra/container-instance-job.ts', externals: [] },
  config: AZURE_CONFIG,
  environment: (azure) => ({ AZURE_CREDENTIALS_SECRET_ARN: azure.credentialsSecretArn }),
  statements: (azure) => [secretRead(azure.credentialsSecretArn)],
};
