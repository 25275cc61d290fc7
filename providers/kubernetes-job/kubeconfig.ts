// The block's cluster_config (Prefect's KubernetesClusterConfig: a kubeconfig document and a
// context name) → how to reach the API server: its URL, the CA to trust, and the credential
// (a bearer token, or a client certificate and key). Only what a Lambda can use: data fields,
// not file paths, and no exec plugins (an `aws eks get-token` entry is recognised and named as
// what it is). Skipping TLS verification is refused unless the deployment allows it.
import * as z from 'zod';
import { ProviderPermanentError } from '../../core/errors.js';
import type { KubernetesJobBlock } from './block.js';

const ClusterSchema = z.looseObject({
  server: z.url(),
  'certificate-authority-data': z.string().optional(),
  'certificate-authority': z.string().optional(),
  'insecure-skip-tls-verify': z.boolean().optional(),
  'tls-server-name': z.string().optional(),
});

const ExecSchema = z.looseObject({
  command: z.string(),
  args: z.array(z.string()).nullish(),
});

const UserSchema = z.looseObject({
  token: z.string().optional(),
  'client-certificate-data': z.string().optional(),
  'client-key-data': z.string().optional(),
  'client-certificate': z.string().optional(),
  'client-key': z.string().optional(),
  'token-file': z.string().optional(),
  username: z.string().optional(),
  exec: ExecSchema.optional(),
  'auth-provider': z.unknown().optional(),
});

const ContextSchema = z.looseObject({
  cluster: z.string(),
  user: z.string().optional(),
  namespace: z.string().optional(),
});

const KubeconfigSchema = z.looseObject({
  clusters: z.array(z.object({ name: z.string(), cluster: ClusterSchema })).nullish(),
  users: z.array(z.object({ name: z.string(), user: UserSchema })).nullish(),
  contexts: z.array(z.object({ name: z.string(), context: ContextSchema })).nullish(),
  'current-context': z.string().optional(),
});

/** An `aws eks get-token` (or aws-iam-authenticator) user: the token is made from the function's IAM role. */
export interface EksAuth {
  clusterName: string;
  region?: string;
}

export interface ClusterConnection {
  /** `https://host:port`, without a trailing slash. */
  server: string;
  /** PEM of the CA that signs the API server's certificate; undefined: the system's CAs. */
  ca?: string;
  /** Verify the server's certificate (false only when the kubeconfig says so and it is allowed). */
  verify: boolean;
  servername?: string;
  token?: string;
  cert?: string;
  key?: string;
  eks?: EksAuth;
  /** Which context, for messages. */
  context: string;
}

export interface ConnectionOptions {
  /** Honour `insecure-skip-tls-verify: true` (the deployment's `allowInsecureTls`); default false. */
  allowInsecure?: boolean;
}

function refuse(message: string): never {
  throw new ProviderPermanentError(`infrastructure.cluster_config: ${message}`);
}

function decodeBase64(value: string, what: string): string {
  const text = Buffer.from(value, 'base64').toString('utf8');
  if (!text.includes('-----BEGIN')) refuse(`${what} is not base64 of a PEM document`);
  return text;
}

function flag(args: readonly string[], name: string): string | undefined {
  const at = args.indexOf(name);
  if (at >= 0) return args[at + 1];
  const inline = args.find((arg) => arg.startsWith(`${name}=`));
  return inline?.slice(name.length + 1);
}

/** `aws eks get-token --cluster-name X [--region R]` or `aws-iam-authenticator token -i X`. */
export function eksAuthOf(exec: z.infer<typeof ExecSchema>): EksAuth | undefined {
  const args = exec.args ?? [];
  const command = exec.command.split('/').at(-1) ?? exec.command;
  if (command === 'aws' && args.includes('eks') && args.includes('get-token')) {
    const clusterName = flag(args, '--cluster-name') ?? flag(args, '--cluster-id');
    const region = flag(args, '--region');
    return clusterName ? { clusterName, ...(region ? { region } : {}) } : undefined;
  }
  if (command === 'aws-iam-authenticator' && args.includes('token')) {
    const clusterName = flag(args, '-i') ?? flag(args, '--cluster-id');
    return clusterName ? { clusterName } : undefined;
  }
  return undefined;
}

/** The connection the block's cluster_config describes. Never echoes a credential. */
export function connectionOf(
  clusterConfig: NonNullable<KubernetesJobBlock['cluster_config']>,
  options: ConnectionOptions = {},
): ClusterConnection {
  const parsed = KubeconfigSchema.safeParse(clusterConfig.config);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    refuse(
      `the kubeconfig is not one kubectl would read (at ${issue?.path.join('.') || 'its top'}: ${issue?.message ?? 'invalid'})`,
    );
  }
  const config = parsed.data;
  const contextName = clusterConfig.context_name;
  const context = (config.contexts ?? []).find((entry) => entry.name === contextName)?.context;
  if (!context) {
    const known = (config.contexts ?? []).map((entry) => `'${entry.name}'`).join(', ') || 'none';
    refuse(`context_name '${contextName}' is not among the kubeconfig's contexts (${known})`);
  }
  const cluster = (config.clusters ?? []).find((entry) => entry.name === context.cluster)?.cluster;
  if (!cluster)
    refuse(`context '${contextName}' names cluster '${context.cluster}', which the kubeconfig lacks`);
  const user = context.user
    ? (config.users ?? []).find((entry) => entry.name === context.user)?.user
    : undefined;
  if (context.user && !user)
    refuse(`context '${contextName}' names user '${context.user}', which the kubeconfig lacks`);

  const server = cluster.server.replace(/\/+$/, '');
  if (!server.startsWith('https://')) {
    refuse(`the cluster's server '${server}' is not https: the submitter sends credentials only over TLS`);
  }
  if (cluster['certificate-authority'] && !cluster['certificate-authority-data']) {
    refuse(
      "the cluster's CA is a file path ('certificate-authority'), which a function cannot read: embed it as 'certificate-authority-data' (kubectl config view --raw --flatten)",
    );
  }
  const insecure = cluster['insecure-skip-tls-verify'] === true;
  if (insecure && !options.allowInsecure) {
    refuse(
      "the cluster sets 'insecure-skip-tls-verify: true', which the submitter refuses (anyone on the path could take the credentials): give 'certificate-authority-data' instead, or allow it in the deployment (kubernetes.allowInsecureTls)",
    );
  }
  const connection: ClusterConnection = { server, verify: !insecure, context: contextName };
  if (cluster['certificate-authority-data']) {
    connection.ca = decodeBase64(
      cluster['certificate-authority-data'],
      "the cluster's certificate-authority-data",
    );
  }
  if (cluster['tls-server-name']) connection.servername = cluster['tls-server-name'];
  if (!user) return connection;

  if (user['client-certificate'] || user['client-key'] || user['token-file']) {
    refuse(
      `user '${context.user}' refers to files ('client-certificate' / 'client-key' / 'token-file'), which a function cannot read: embed them ('client-certificate-data', 'client-key-data', 'token')`,
    );
  }
  if (user.token) connection.token = user.token;
  const certData = user['client-certificate-data'];
  const keyData = user['client-key-data'];
  if ((certData === undefined) !== (keyData === undefined)) {
    refuse(`user '${context.user}' gives only one of client-certificate-data and client-key-data: give both`);
  }
  if (certData && keyData) {
    connection.cert = decodeBase64(certData, `user '${context.user}''s client-certificate-data`);
    connection.key = decodeBase64(keyData, `user '${context.user}''s client-key-data`);
  }
  if (user.exec) {
    const eks = eksAuthOf(user.exec);
    if (!eks) {
      refuse(
        `user '${context.user}' runs an exec plugin ('${user.exec.command}'), which a function cannot run: use a token or a client certificate (or 'aws eks get-token' for EKS)`,
      );
    }
    connection.eks = eks;
  }
  if (user['auth-provider'] !== undefined) {
    refuse(
      `user '${context.user}' uses an auth-provider plugin, which the submitter does not support: use a token`,
    );
  }
  if (user.username !== undefined) {
    refuse(`user '${context.user}' uses basic auth, which Kubernetes removed in 1.19: use a token`);
  }
  return connection;
}
