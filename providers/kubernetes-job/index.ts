// The `kubernetes-job` provider: one batch/v1 Job per flow run, as a driver of the shared runtime.
// find: read the Job by its deterministic name, ours if its prefect.io/flow-run-id label says so.
// create: POST the built Job (409 AlreadyExists → the runtime finds and adopts it). status: the
// Job's conditions and its pod (job-name selector). logs: the flow container's tail. stop:
// delete with propagationPolicy Foreground (the Job and its pods). remove: delete a finished Job
// unless finished_job_ttl leaves that to the TTL controller.
import * as z from 'zod';
import { ProviderPermanentError } from '../../core/errors.js';
import { FLOW_RUN_LABEL } from '../identity.js';
import type { Provider, Target } from '../port.js';
import { classifyHttp } from '../runtime/classify.js';
import { type Driver, defineProvider, type RuntimeOptions } from '../runtime/provider.js';
import { DEFAULT_RETRY, type RetryPolicy, retrying } from '../runtime/retry.js';
import type { KubernetesJobBlock } from './block.js';
import type { KubernetesJobRequest } from './build.js';
import { type ClientOptions, type Job, KubernetesApiError, KubernetesClient } from './client.js';
import { deploymentOptions } from './deployment.js';
import { type AwsCredentials, eksTokenSource, environmentCredentials } from './eks.js';
import { type ClusterConnection, connectionOf } from './kubeconfig.js';
import { kubernetesJobSpec } from './spec.js';
import { FLOW_CONTAINER, statusOf } from './status.js';

export const KubernetesHandleSchema = z.object({
  namespace: z.string().min(1),
  name: z.string().min(1),
  uid: z.string().optional(),
});
export type KubernetesHandle = z.infer<typeof KubernetesHandleSchema>;

export interface KubernetesJobProviderOptions {
  /** Honour a kubeconfig's insecure-skip-tls-verify (the deployment's kubernetes.allowInsecureTls). */
  allowInsecureTls?: boolean;
  /** The cluster_config for blocks that give none (the deployment's kubeconfig secret). */
  defaultClusterConfig?: () => Promise<KubernetesJobBlock['cluster_config']>;
  /** For an `aws eks get-token` user: the role's credentials (default: the environment's). */
  awsCredentials?: () => Promise<AwsCredentials>;
  /** Where AWS_REGION and the credentials are read (default: process.env). */
  env?: NodeJS.ProcessEnv;
  retry?: Partial<RetryPolicy>;
  client?: ClientOptions;
  runtime?: RuntimeOptions;
}

/** What a call needs from RBAC, for the 401/403 hint. */
interface Access {
  verb: string;
  resource: string;
  group: string;
}
const JOBS = (verb: string): Access => ({ verb, resource: 'jobs', group: 'batch' });
const PODS = (verb: string): Access => ({ verb, resource: 'pods', group: '' });

function explainAccess(access: Access, namespace: string, connection: ClusterConnection) {
  return (error: unknown): string | undefined => {
    if (!(error instanceof KubernetesApiError)) return undefined;
    const group = access.group ? `apiGroups ["${access.group}"]` : 'apiGroups [""]';
    if (error.status === 403) {
      return `${error.message}: the submitter's identity (context '${connection.context}') may not '${access.verb}' ${access.resource} in namespace '${namespace}'; grant it with a Role (${group}, resources ["${access.resource}"], verbs ["${access.verb}"]) and a RoleBinding — docs/providers.md lists the whole Role`;
    }
    if (error.status === 401) {
      return `${error.message}: the API server did not accept the credentials of context '${connection.context}': renew the token or client certificate in cluster_config (for EKS: map the function's role in aws-auth or an access entry)`;
    }
    return undefined;
  };
}

function isNotFound(error: unknown): boolean {
  return error instanceof ProviderPermanentError && error.kind === 'not-found';
}

export function createKubernetesJobProvider(
  options: KubernetesJobProviderOptions = {},
): Provider<KubernetesJobBlock, KubernetesJobRequest, KubernetesHandle> {
  const retry: RetryPolicy = { ...DEFAULT_RETRY, ...options.retry };
  const env = options.env ?? process.env;
  /** One client per connection (keep-alive), keyed by the cluster_config's text. */
  const clients = new Map<string, { client: KubernetesClient; connection: ClusterConnection }>();

  async function clientFor(target: Target<KubernetesJobBlock>) {
    const clusterConfig = target.block.cluster_config ?? (await options.defaultClusterConfig?.()) ?? null;
    if (!clusterConfig) {
      throw new ProviderPermanentError(
        "infrastructure.cluster_config: required — the submitter does not run inside the cluster: give a kubeconfig and context_name (or configure the deployment's kubernetes.kubeconfigSecretArn)",
      );
    }
    const key = JSON.stringify(clusterConfig);
    const known = clients.get(key);
    if (known) return known;
    const connection = connectionOf(clusterConfig, { allowInsecure: options.allowInsecureTls ?? false });
    let clientOptions = options.client ?? {};
    if (connection.eks) {
      const region = connection.eks.region ?? env.AWS_REGION ?? env.AWS_DEFAULT_REGION;
      if (!region) {
        throw new ProviderPermanentError(
          `infrastructure.cluster_config: context '${connection.context}' authenticates with 'aws eks get-token' for cluster ${connection.eks.clusterName} without --region, and AWS_REGION is not set`,
        );
      }
      const credentials = options.awsCredentials ?? (() => environmentCredentials(env));
      clientOptions = {
        ...clientOptions,
        token: eksTokenSource(connection.eks.clusterName, region, credentials),
      };
    }
    const made = { client: new KubernetesClient(connection, clientOptions), connection };
    clients.set(key, made);
    return made;
  }

  function call<T>(
    what: string,
    access: Access,
    namespace: string,
    connection: ClusterConnection,
    fn: () => Promise<T>,
    attempts?: number,
  ): Promise<T> {
    return retrying(what, fn, {
      policy: attempts ? { ...retry, attempts } : retry,
      classifiers: [classifyHttp],
      explain: explainAccess(access, namespace, connection),
    });
  }

  async function readJob(target: Target<KubernetesJobBlock>, namespace: string, name: string) {
    const { client, connection } = await clientFor(target);
    try {
      return await call(`read Job ${namespace}/${name}`, JOBS('get'), namespace, connection, () =>
        client.readJob(namespace, name),
      );
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw error;
    }
  }

  async function pods(target: Target<KubernetesJobBlock>, handle: KubernetesHandle) {
    const { client, connection } = await clientFor(target);
    return call(`list Pods of Job ${handle.name}`, PODS('list'), handle.namespace, connection, () =>
      client.listPods(handle.namespace, `job-name=${handle.name}`),
    );
  }

  async function deleteJob(target: Target<KubernetesJobBlock>, handle: KubernetesHandle) {
    const { client, connection } = await clientFor(target);
    try {
      await call(
        `delete Job ${handle.namespace}/${handle.name}`,
        JOBS('delete'),
        handle.namespace,
        connection,
        () => client.deleteJob(handle.namespace, handle.name, 'Foreground'),
      );
    } catch (error) {
      if (!isNotFound(error)) throw error; // gone already is what we wanted
    }
  }

  const handleOf = (job: Job, namespace: string): KubernetesHandle => ({
    namespace: job.metadata.namespace ?? namespace,
    name: job.metadata.name,
    ...(job.metadata.uid ? { uid: job.metadata.uid } : {}),
  });

  const driver: Driver<KubernetesJobBlock, KubernetesJobRequest, KubernetesHandle> = {
    handleSchema: KubernetesHandleSchema,
    identify: (handle) => `${handle.namespace}/${handle.name}`,

    async find(target, request) {
      const name = request.job.metadata.name;
      if (!name) return undefined;
      const job = await readJob(target, request.namespace, name);
      // a Job under our name that is not this flow run's is not ours (the runtime says the name is taken)
      if (!job || job.metadata.labels?.[FLOW_RUN_LABEL] !== target.flowRun.id) return undefined;
      return { handle: handleOf(job, request.namespace), started: true };
    },

    async create(target, request) {
      const { client, connection } = await clientFor(target);
      // one try: a create whose answer was lost may have made the Job, so the runtime looks first
      const job = await call(
        `create Job in namespace ${request.namespace}`,
        JOBS('create'),
        request.namespace,
        connection,
        () => client.createJob(request.namespace, request.job),
        1,
      );
      return { handle: handleOf(job, request.namespace), started: true };
    },

    async status(target, handle) {
      const job = await readJob(target, handle.namespace, handle.name);
      if (!job) return { phase: 'missing', reason: `Job ${handle.namespace}/${handle.name} was deleted` };
      if (handle.uid && job.metadata.uid && job.metadata.uid !== handle.uid) {
        return { phase: 'missing', reason: `Job ${handle.name} was deleted and another made under its name` };
      }
      return statusOf(job, await pods(target, handle), {
        container: FLOW_CONTAINER,
        jobWatchTimeoutSeconds: target.block.job_watch_timeout_seconds,
      });
    },

    async logs(target, handle, lines) {
      const all = await pods(target, handle);
      const pod = [...all].sort((a, b) =>
        (b.metadata.creationTimestamp ?? '').localeCompare(a.metadata.creationTimestamp ?? ''),
      )[0];
      if (!pod) return undefined;
      const { client, connection } = await clientFor(target);
      try {
        return await call(
          `read the log of pod ${pod.metadata.name}`,
          PODS('get'),
          handle.namespace,
          connection,
          () => client.podLog(handle.namespace, pod.metadata.name, FLOW_CONTAINER, lines),
        );
      } catch {
        return undefined; // a container that never started has no log (400)
      }
    },

    async stop(target, handle) {
      await deleteJob(target, handle);
    },

    async remove(target, _request, handle) {
      // with finished_job_ttl the TTL controller deletes it; without, a finished Job is ours to delete
      if (!handle || target.block.finished_job_ttl !== null) return;
      await deleteJob(target, handle);
    },
  };

  return defineProvider(kubernetesJobSpec, driver, { retry, ...options.runtime });
}

/** The provider a deployed function runs: the block's cluster_config, else the deployment's kubeconfig secret. */
export const kubernetesJobProvider = createKubernetesJobProvider(deploymentOptions(process.env));
