// The Cloud Run provider: a Google Cloud Run job. Its I/O half has not landed yet; the
// deployment already gives its function the service account key's secret.
import * as z from 'zod';
import { SecretArnSchema } from '../config-schemas.js';
import {
  BASE_NAME_MAPS,
  configSection,
  notImplementedYet,
  type ProviderManifest,
  secretRead,
} from '../manifest.js';
import { type CloudRunJobBlock, CloudRunJobBlockSchema } from './block.js';

export const GOOGLE_CONFIG = configSection({
  key: 'google',
  schema: z.strictObject({ credentialsSecretArn: SecretArnSchema }),
  required:
    "required when 'cloud-run-job' is enabled: { credentialsSecretArn } (the service account key JSON)",
});

export const cloudRunJobManifest: ProviderManifest<'cloud-run-job', CloudRunJobBlock, typeof GOOGLE_CONFIG> =
  {
    type: 'cloud-run-job',
    schema: CloudRunJobBlockSchema,
    loadSpec: async () => (await import('./spec.js')).cloudRunJobSpec,
    loadProvider: () => notImplementedYet('cloud-run-job'),
    nameMaps: [...BASE_NAME_MAPS, 'env_from_secrets'],
    bundle: { entry: 'functions/infra/cloud-run-job.ts', externals: [] },
    config: GOOGLE_CONFIG,
    environment: (google) => ({ GOOGLE_CREDENTIALS_SECRET_ARN: google.credentialsSecretArn }),
    statements: (google) => [secretRead(google.credentialsSecretArn)],
  };
