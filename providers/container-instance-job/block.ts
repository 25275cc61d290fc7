import * as z from 'zod';
import { secret, secretDocument } from '../../core/secret-marks.js';
import { blockSchema, DEFAULT_PREFECT_IMAGE } from '../base.js';
import { prefectNumber } from '../prefect2.js';

export const AzureCredentialsSchema = z.strictObject({
  tenant_id: z.string(),
  client_id: z.string(),
  client_secret: secret(z.string()),
  /** prefect-azure's extra credential arguments: accepted, not acted on; secret-looking keys redacted like a kubeconfig's. */
  credential_kwargs: secretDocument(z.record(z.string(), z.unknown())).optional(),
});

/** `container-instance-job`: an Azure Container Instances container group. */
export const ContainerInstanceJobBlockSchema = blockSchema('container-instance-job', {
  aci_credentials: AzureCredentialsSchema.nullable().default(null),
  /** A secret: it never goes in the request (see SUBSCRIPTION_PLACEHOLDER) and is masked wherever shown. */
  subscription_id: secret(z.string().min(1, 'required: the Azure subscription id')),
  resource_group_name: z.string().min(1, 'required: the resource group to create container groups in'),
  identities: z.array(z.string()).nullable().default(null),
  image: z.string().min(1).default(DEFAULT_PREFECT_IMAGE),
  entrypoint: z.string().nullable().default('/opt/prefect/entrypoint.sh'),
  image_registry: z
    .union([
      z.strictObject({ registry_url: z.string(), username: z.string(), password: secret(z.string()) }),
      z.strictObject({ registry_url: z.string(), identity: z.string() }),
    ])
    .nullable()
    .default(null),
  cpu: prefectNumber(z.number().positive()).default(1.0),
  memory: prefectNumber(z.number().positive()).default(1.0),
  gpu_count: prefectNumber(z.number().int().positive().nullable()).default(null),
  /**
   * Azure's GPU SKU as a string (prefect-azure's `gpu_sku: Optional[str]`): which SKUs a region
   * offers is Azure's to say (K80, P100, V100 in the SDK's known values), so any name is sent.
   */
  gpu_sku: z
    .string()
    .regex(/^[A-Za-z0-9_-]{1,64}$/, { message: "must be an Azure GPU SKU name, e.g. 'V100'" })
    .nullable()
    .default(null),
  subnet_ids: z.array(z.string()).nullable().default(null),
  dns_servers: z.array(z.string()).nullable().default(null),
  stream_output: z.boolean().nullable().default(null),
  task_start_timeout_seconds: prefectNumber(z.number().int().positive()).default(240),
  task_watch_poll_interval: prefectNumber(z.number().positive()).default(5),
  keep_container_group: z.boolean().default(false),
});
export type ContainerInstanceJobBlock = z.infer<typeof ContainerInstanceJobBlockSchema>;
