// The Cloud Run provider: a Google Cloud Run job (v2 API). Its deployment section gives the
// function the service-account key by reference (a Secrets Manager secret it may read, and
// nothing else in AWS) and, optionally, another API endpoint (a private one).
import * as z from 'zod';
import { SecretArnSchema } from '../config-schemas.js';
import {
  BASE_NAME_MAPS,
  configSection,
  importAtRunTime,
  type ProviderManifest,
  secretRead,
} from '../manifest.js';
import { type CloudRunJobBlock, CloudRunJobBlockSchema } from './block.js';
import { GOOGLE_ENV } from './deployment.js';

export const GOOGLE_CONFIG = configSection({
  key: 'google',
  schema: z.strictObject({
    /** A secret holding the service account's JSON key (blocks may carry their own instead). */
    credentialsSecretArn: SecretArnSchema,
    /** CLOUD_RUN_API_ENDPOINT: another Cloud Run API endpoint, `https://HOST[:PORT]` (a private one). */
    apiEndpoint: z
      .url({ protocol: /^https?$/, error: "must be an http(s) URL, e.g. 'https://run.googleapis.com'" })
      .optional(),
  }),
  required:
    "required when 'cloud-run-job' is enabled: { credentialsSecretArn } (the service account key JSON)",
});

export const cloudRunJobManifest: ProviderManifest<'cloud-run-job', CloudRunJobBlock, typeof GOOGLE_CONFIG> =
  {
    type: 'cloud-run-job',
    schema: CloudRunJobBlockSchema,
    loadSpec: async () => (await import('./spec.js')).cloudRunJobSpec,
    loadProvider: async () =>
      (await importAtRunTime<typeof import('./index.js')>(new URL('./index.js', import.meta.url)))
        .cloudRunJobProvider,
    nameMaps: [...BASE_NAME_MAPS, 'env_from_secrets'],
    nestedBlocks: { credentials: 'gcp-credentials' },
    bundle: { entry: 'functions/infra/cloud-run-job.ts', externals: [] },
    config: GOOGLE_CONFIG,
    environment: (google) => ({
      [GOOGLE_ENV.credentialsSecretArn]: google.credentialsSecretArn,
      ...(google.apiEndpoint ? { [GOOGLE_ENV.endpoint]: google.apiEndpoint } : {}),
    }),
    statements: (google) => [{ sid: 'ReadTheGoogleKeySecret', ...secretRead(google.credentialsSecretArn) }],
  };
