// Lambda entry for the Cloud Run provider's submit/watch/cleanup: this bundle holds only the
// Cloud Run provider and the Google SDK (@google-cloud/run over REST, google-auth-library), and
// refuses a run of any other type. The service-account key is read by reference
// (GOOGLE_CREDENTIALS_SECRET_ARN); CLOUD_RUN_API_ENDPOINT overrides Google's endpoint.
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cloudRunJobProvider } from '../../providers/cloud-run-job/index.js';
import { onlyProvider } from '../../providers/registry.js';
import { createInfrastructureHandler } from '../infrastructure.js';
import { depsFromEnv } from '../lib/deps.js';

// google-gax (CommonJS) computes a path from `__dirname` as it loads, which an ESM bundle lacks;
// the SDK loads on first use, after this line. The path is that of gRPC's protos, unused over REST.
globalThis.__dirname ??= dirname(fileURLToPath(import.meta.url));

export const handler = createInfrastructureHandler(() => depsFromEnv(onlyProvider(cloudRunJobProvider)));
