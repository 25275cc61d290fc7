// Where the function finds its engine: the environment variables Docker's own clients read,
// plus the Secrets Manager reference the deployment gives instead of certificate files.
// Plain data: the manifest (imported by every function) reads it without the client.
export const DOCKER_ENV = {
  host: 'DOCKER_HOST',
  tlsVerify: 'DOCKER_TLS_VERIFY',
  certPath: 'DOCKER_CERT_PATH',
  /** A Secrets Manager secret holding `{"ca": PEM, "cert": PEM, "key": PEM}` (AWS). */
  tlsSecret: 'DOCKER_TLS_SECRET_ARN',
} as const;
