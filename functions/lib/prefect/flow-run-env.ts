// What a flow run needs to reach the Prefect API, per provider: PREFECT_API_URL always, and the
// credential the way each platform passes a secret to a container, never as a plain value in a
// request (the process provider, which runs on this machine, gets the value itself). Prefect's
// workers at ce79dd3d6cfa2b7337265498210dbc4d25bcdc98 do the same per platform:
//
// - ECS: a container secret `{name: PREFECT_API_KEY, valueFrom: <PREFECT_API_KEY_SECRET_ARN>}`
//   (the auth string's from PREFECT_API_AUTH_STRING_SECRET_ARN) in the registered task
//   definition; the ECS agent reads it with the task execution role.
// - Cloud Run (prefect_gcp/workers/cloud_run_v2.py `_populate_env`): an env entry
//   `{name, valueSource: {secretKeyRef: {secret, version}}}`, here through the block's
//   `env_from_secrets` (PREFECT_API_KEY_GCP_SECRET [+ _VERSION], and the auth string's).
// - Kubernetes (prefect_kubernetes/worker.py `_replace_env_variable_with_secret`): an env entry
//   `{name, valueFrom: {secretKeyRef: {name, key}}}` on the first container, here a JSON-patch
//   operation appended after the block's own `customizations`
//   (PREFECT_INTEGRATIONS_KUBERNETES_WORKER_API_KEY_SECRET_NAME / _KEY, and the auth string's).
// - Azure Container Instances (prefect_azure/workers/container_instance.py `_get_arm_environment`):
//   ACI has no reference to an outside secret store for env values; its secret mechanism is
//   `secureValue` (never returned by the API nor shown in the portal). The key read at submit
//   time (from PREFECT_API_KEY_SECRET_ARN, or PREFECT_API_KEY) goes in the block's env, which the
//   ACI build sends as `secureValue` (PREFECT_API_KEY and PREFECT_API_AUTH_STRING are secret env
//   names), as prefect-azure's worker sends both.
//
// A block that sets a credential itself (in env, null included, in its own secrets or
// customizations) wins. Docker gets PREFECT_API_URL only: an engine has no secret store for a
// plain container, and a value would show in `docker inspect`.
import { CREDENTIAL_NAMES, type CredentialName, type KeyReferences } from './config.js';

/** What this module needs of the Prefect client. */
export interface FlowRunAccess {
  keySecretArn?: string;
  authStringSecretArn?: string;
  keyReferences?: KeyReferences;
  /** PREFECT_API_URL, and with `withCredential` the credential's value. */
  flowRunEnv(options: { withCredential: boolean }): Promise<Record<string, string>>;
}

type Env = Record<string, string | null>;
type Patch = { op: string; path: string; value?: unknown; from?: string };

/**
 * The subset of every block type this reads and writes. Kept structural so providers/ stays
 * untouched: a block type's own schema gives these fields (ecs-task `secrets` and
 * `task_definition_arn`, cloud-run-job `env_from_secrets`, kubernetes-job `customizations`).
 */
interface BlockFields {
  type: string;
  env: Env;
  secrets?: Record<string, string>;
  task_definition_arn?: string | null;
  env_from_secrets?: Record<string, { secret: string; version: string }>;
  customizations?: unknown;
}

const KEY: CredentialName = 'PREFECT_API_KEY';

/** The block as the flow run gets it: the API URL and the credential, by reference where the platform has one. */
export async function withFlowRunAccess<B extends BlockFields>(prefect: FlowRunAccess, block: B): Promise<B> {
  const ownPatches = Array.isArray(block.customizations) ? (block.customizations as Patch[]) : [];
  const owns = (name: CredentialName) =>
    Object.hasOwn(block.env, name) ||
    (block.secrets !== undefined && Object.hasOwn(block.secrets, name)) ||
    (block.env_from_secrets !== undefined && Object.hasOwn(block.env_from_secrets, name)) ||
    ownPatches.some((patch) => (patch.value as { name?: unknown } | undefined)?.name === name);
  const aci = block.type === 'container-instance-job' && !owns(KEY);
  const env = await prefect.flowRunEnv({ withCredential: block.type === 'process' || aci });
  // ACI: both credentials go as secureValue (secret env names), as prefect-azure's worker sends them
  // the block's own settings win (a run may point at another API on purpose)
  const out: B = { ...block, env: { ...env, ...block.env } };
  const refs = prefect.keyReferences ?? {};
  const missing = CREDENTIAL_NAMES.filter((name) => !owns(name));
  switch (block.type) {
    case 'ecs-task': {
      // an existing definition (task_definition_arn) is run as registered: it must hold the secret itself
      if (block.task_definition_arn) break;
      const arns: Record<CredentialName, string | undefined> = {
        PREFECT_API_KEY: prefect.keySecretArn,
        PREFECT_API_AUTH_STRING: prefect.authStringSecretArn,
      };
      const added = missing.flatMap((name) => {
        const arn = arns[name];
        return arn ? [[name, arn] as const] : [];
      });
      if (added.length > 0) out.secrets = { ...Object.fromEntries(added), ...(block.secrets ?? {}) };
      break;
    }
    case 'cloud-run-job': {
      const added = missing.flatMap((name) => {
        const ref = refs.cloudRun?.[name];
        return ref ? [[name, { ...ref }] as const] : [];
      });
      if (added.length > 0)
        out.env_from_secrets = { ...(block.env_from_secrets ?? {}), ...Object.fromEntries(added) };
      break;
    }
    case 'kubernetes-job': {
      const added = missing.flatMap((name): Patch[] => {
        const ref = refs.kubernetes?.[name];
        if (!ref) return [];
        return [
          {
            op: 'add',
            path: '/spec/template/spec/containers/0/env/-',
            value: { name, valueFrom: { secretKeyRef: { name: ref.name, key: ref.key } } },
          },
        ];
      });
      if (added.length > 0) out.customizations = [...ownPatches, ...added];
      break;
    }
  }
  return out;
}
