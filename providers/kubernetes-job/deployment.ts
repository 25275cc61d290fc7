// What the deployment gives the kubernetes-job function (providers/kubernetes-job/manifest.ts):
// a kubeconfig by reference (KUBERNETES_KUBECONFIG_SECRET_ARN: a Secrets Manager secret holding
// the kubeconfig as YAML or JSON; KUBERNETES_CONTEXT picks its context, else current-context)
// for blocks without cluster_config, and whether insecure-skip-tls-verify may be honoured.
// The kubeconfig is read on first use and kept for the container's life, never in workflow state.
import { parse } from 'yaml';
import * as z from 'zod';
import { ProviderPermanentError } from '../../core/errors.js';
import { type SecretReader, secretsManagerReader } from '../../core/secret-ref.js';
import type { KubernetesJobBlock } from './block.js';
import type { KubernetesJobProviderOptions } from './index.js';

export const KUBERNETES_ENV = {
  kubeconfigSecretArn: 'KUBERNETES_KUBECONFIG_SECRET_ARN',
  context: 'KUBERNETES_CONTEXT',
  allowInsecureTls: 'KUBERNETES_ALLOW_INSECURE_TLS',
} as const;

const Kubeconfig = z.looseObject({ 'current-context': z.string().optional() });

/** The cluster_config the secret describes. */
export async function clusterConfigFromSecret(
  reader: SecretReader,
  arn: string,
  context?: string,
): Promise<NonNullable<KubernetesJobBlock['cluster_config']>> {
  const text = await reader.read(arn);
  let document: unknown;
  try {
    document = parse(text);
  } catch {
    document = undefined;
  }
  const parsed = Kubeconfig.safeParse(document);
  if (!parsed.success) {
    throw new ProviderPermanentError(`secret ${arn} does not hold a kubeconfig (YAML or JSON)`);
  }
  const contextName = context ?? parsed.data['current-context'];
  if (!contextName) {
    throw new ProviderPermanentError(
      `the kubeconfig in secret ${arn} has no current-context: set one, or the deployment's kubernetes.context`,
    );
  }
  return { config: parsed.data, context_name: contextName };
}

/** The provider options a deployed function's environment gives. */
export function deploymentOptions(
  env: NodeJS.ProcessEnv,
  reader: SecretReader = secretsManagerReader(),
): KubernetesJobProviderOptions {
  const arn = env[KUBERNETES_ENV.kubeconfigSecretArn];
  const context = env[KUBERNETES_ENV.context];
  return {
    allowInsecureTls: env[KUBERNETES_ENV.allowInsecureTls] === 'true',
    ...(arn
      ? { defaultClusterConfig: () => clusterConfigFromSecret(reader, arn, context || undefined) }
      : {}),
  };
}
