// What the deployment gives the cloud-run-job function (providers/cloud-run-job/manifest.ts):
// the service-account key by reference, and optionally another API endpoint. Kept apart from
// the provider so the manifests (in every function) hold no provider code.
export const GOOGLE_ENV = {
  /** A Secrets Manager secret holding the service account's JSON key. */
  credentialsSecretArn: 'GOOGLE_CREDENTIALS_SECRET_ARN',
  /** Locally: the key file (as Google's tools read it). */
  applicationCredentials: 'GOOGLE_APPLICATION_CREDENTIALS',
  /** `http(s)://HOST[:PORT]` instead of https://run.googleapis.com. */
  endpoint: 'CLOUD_RUN_API_ENDPOINT',
} as const;
