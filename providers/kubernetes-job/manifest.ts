// The Kubernetes provider: a batch/v1 Job on a remote cluster. Its deployment section may
// give a kubeconfig by reference (a Secrets Manager secret) for blocks without cluster_config,
// and may allow insecure-skip-tls-verify; the function's IAM is reading that secret only.
import * as z from 'zod';
import { SecretArnSchema } from '../config-schemas.js';
import {
  BASE_NAME_MAPS,
  configSection,
  importAtRunTime,
  type PolicyData,
  type ProviderManifest,
  secretRead,
} from '../manifest.js';
import { type KubernetesJobBlock, KubernetesJobBlockSchema } from './block.js';
import { KUBERNETES_ENV } from './deployment.js';

export const KubernetesConfigSchema = z.strictObject({
  /** A secret holding a kubeconfig (YAML or JSON), for blocks that give no cluster_config. */
  kubeconfigSecretArn: SecretArnSchema.optional(),
  /** Its context (default: its current-context). */
  context: z.string().min(1).optional(),
  /** Honour a kubeconfig's insecure-skip-tls-verify: true (default: refused). */
  allowInsecureTls: z.boolean().default(false),
});
export type KubernetesConfig = z.output<typeof KubernetesConfigSchema>;

export const KUBERNETES_CONFIG = configSection({
  key: 'kubernetes',
  schema: KubernetesConfigSchema,
  required:
    "required when 'kubernetes-job' is enabled: {} when every block gives cluster_config, else { kubeconfigSecretArn, context? }",
});

export function kubernetesEnvironment(kubernetes: KubernetesConfig): Record<string, string> {
  return {
    ...(kubernetes.kubeconfigSecretArn
      ? { [KUBERNETES_ENV.kubeconfigSecretArn]: kubernetes.kubeconfigSecretArn }
      : {}),
    ...(kubernetes.context ? { [KUBERNETES_ENV.context]: kubernetes.context } : {}),
    ...(kubernetes.allowInsecureTls ? { [KUBERNETES_ENV.allowInsecureTls]: 'true' } : {}),
  };
}

/** The cluster's API is not AWS: the only AWS permission is reading the kubeconfig secret. */
export function kubernetesStatements(kubernetes: KubernetesConfig): PolicyData[] {
  return kubernetes.kubeconfigSecretArn ? [secretRead(kubernetes.kubeconfigSecretArn)] : [];
}

export const kubernetesJobManifest: ProviderManifest<
  'kubernetes-job',
  KubernetesJobBlock,
  typeof KUBERNETES_CONFIG
> = {
  type: 'kubernetes-job',
  schema: KubernetesJobBlockSchema,
  loadSpec: async () => (await import('./spec.js')).kubernetesJobSpec,
  loadProvider: async () =>
    (await importAtRunTime<typeof import('./index.js')>(new URL('./index.js', import.meta.url)))
      .kubernetesJobProvider,
  nameMaps: BASE_NAME_MAPS,
  nestedBlocks: { cluster_config: 'kubernetes-cluster-config' },
  bundle: { entry: 'functions/infra/kubernetes-job.ts', externals: [] },
  config: KUBERNETES_CONFIG,
  environment: kubernetesEnvironment,
  statements: kubernetesStatements,
};
