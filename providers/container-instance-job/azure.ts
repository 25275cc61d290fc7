// Where the container-instance-job provider talks and who it is: the ARM endpoint (public
// Azure unless AZURE_RESOURCE_MANAGER_ENDPOINT names a sovereign cloud's, or a test's fake),
// the token audience, and the credential — the block's service principal (aci_credentials),
// else the deployment's (a Secrets Manager secret), else the default Azure credential chain.
import { ContainerInstanceManagementClient } from '@azure/arm-containerinstance';
import {
  ClientSecretCredential,
  type DefaultAzureCredentialOptions,
  type TokenCredential,
} from '@azure/identity';
import type * as z from 'zod';
import { ProviderPermanentError } from '../../core/errors.js';
import type { SecretReader } from '../../core/secret-ref.js';
import { importAtRunTime } from '../manifest.js';
import { AZURE_ENV } from './azure-env.js';
import { AzureCredentialsSchema, type ContainerInstanceJobBlock } from './block.js';

export { AZURE_ENV };

export const PUBLIC_ARM_ENDPOINT = 'https://management.azure.com';

export type AzureCredentials = z.infer<typeof AzureCredentialsSchema>;

export interface AzureConnectionOptions {
  /** Read for AZURE_* (default: process.env). */
  env?: NodeJS.ProcessEnv;
  /** The service principal for blocks without aci_credentials (the deployment's secret). */
  defaultCredentials?: () => Promise<AzureCredentials | undefined>;
  /** Extra CAs to trust (tests: the fake's self-signed certificate), for ARM and the token endpoint. */
  ca?: string;
}

/** The ARM endpoint, without a trailing slash; it must be https (bearer tokens go nowhere else). */
export function armEndpoint(env: NodeJS.ProcessEnv): string {
  const given = env[AZURE_ENV.resourceManagerEndpoint]?.trim();
  const endpoint = (given || PUBLIC_ARM_ENDPOINT).replace(/\/+$/, '');
  if (!endpoint.startsWith('https://')) {
    throw new ProviderPermanentError(
      `${AZURE_ENV.resourceManagerEndpoint} is '${endpoint}': it must be an https URL (e.g. https://management.chinacloudapi.cn, https://management.usgovcloudapi.net)`,
    );
  }
  return endpoint;
}

/** The token scope: the audience's `.default` (AZURE_RESOURCE_MANAGER_AUDIENCE, else the endpoint). */
export function armScope(env: NodeJS.ProcessEnv): string {
  const audience = env[AZURE_ENV.resourceManagerAudience]?.trim() || armEndpoint(env);
  return `${audience.replace(/\/+$/, '')}/.default`;
}

/** The deployment's service principal: a secret holding {tenant_id, client_id, client_secret} as JSON. */
export async function credentialsFromSecret(reader: SecretReader, arn: string): Promise<AzureCredentials> {
  const text = await reader.read(arn);
  let document: unknown;
  try {
    document = JSON.parse(text);
  } catch {
    document = undefined;
  }
  const parsed = AzureCredentialsSchema.safeParse(document);
  if (!parsed.success) {
    throw new ProviderPermanentError(
      `secret ${arn} does not hold Azure credentials: it must be JSON {"tenant_id": …, "client_id": …, "client_secret": …}`,
    );
  }
  return parsed.data;
}

/**
 * The default Azure credential chain (environment, workload identity, managed identity, Azure
 * CLI…), for local runs without a service principal: imported on first use, out of the bundle's
 * sight (the deployed function always has the deployment's secret, and the chain is half of
 * @azure/identity's bytes).
 */
function defaultCredential(options: DefaultAzureCredentialOptions): TokenCredential {
  let made: Promise<TokenCredential> | undefined;
  return {
    async getToken(scopes, tokenOptions) {
      made ??= importAtRunTime<typeof import('@azure/identity')>(
        new URL(import.meta.resolve('@azure/identity')),
      ).then((identity) => new identity.DefaultAzureCredential(options));
      return (await made).getToken(scopes, tokenOptions);
    },
  };
}

export interface AzureClient {
  client: ContainerInstanceManagementClient;
  endpoint: string;
}

/** One client per subscription and identity, kept for the container's life (token cache, keep-alive). */
export function azureClients(options: AzureConnectionOptions = {}) {
  const env = options.env ?? process.env;
  const clients = new Map<string, AzureClient>();
  const tls = options.ca ? { tlsOptions: { ca: options.ca } } : {};

  function credentialOf(credentials: AzureCredentials | undefined): TokenCredential {
    const authorityHost = env[AZURE_ENV.authorityHost]?.trim();
    const common = {
      ...(authorityHost ? { authorityHost } : {}),
      ...(env[AZURE_ENV.disableInstanceDiscovery] === 'true' ? { disableInstanceDiscovery: true } : {}),
      ...tls,
      retryOptions: { maxRetries: 1 },
    };
    if (!credentials) return defaultCredential(common);
    return new ClientSecretCredential(
      credentials.tenant_id,
      credentials.client_id,
      credentials.client_secret,
      common,
    );
  }

  return async (block: ContainerInstanceJobBlock): Promise<AzureClient> => {
    const credentials = block.aci_credentials ?? (await options.defaultCredentials?.());
    const key = JSON.stringify([block.subscription_id, credentials ?? null]);
    const known = clients.get(key);
    if (known) return known;
    const endpoint = armEndpoint(env);
    const client = new ContainerInstanceManagementClient(credentialOf(credentials), block.subscription_id, {
      endpoint,
      $host: endpoint,
      credentialScopes: armScope(env),
      // the runtime's retry loop is the only one: the SDK's would hide 429s and 503s from it
      retryOptions: { maxRetries: 0 },
      ...tls,
    });
    const made = { client, endpoint };
    clients.set(key, made);
    return made;
  };
}
