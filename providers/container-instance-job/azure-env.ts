// The deployment settings the container-instance-job function reads (set from the manifest's
// `azure` section); no SDK here: the manifest, which every function bundles, imports this.
export const AZURE_ENV = {
  /** A Secrets Manager secret: {tenant_id, client_id, client_secret} as JSON. */
  credentialsSecretArn: 'AZURE_CREDENTIALS_SECRET_ARN',
  /** The ARM endpoint (default https://management.azure.com). */
  resourceManagerEndpoint: 'AZURE_RESOURCE_MANAGER_ENDPOINT',
  /** The token audience, when it is not the endpoint. */
  resourceManagerAudience: 'AZURE_RESOURCE_MANAGER_AUDIENCE',
  /** Microsoft Entra's host (read by @azure/identity too). */
  authorityHost: 'AZURE_AUTHORITY_HOST',
  /** `true`: skip MSAL's instance discovery (an authority it cannot know, such as a test's). */
  disableInstanceDiscovery: 'AZURE_DISABLE_INSTANCE_DISCOVERY',
} as const;
