// One representative flow-run event per block type: the fields a real deployment sets,
// plus a few infra_overrides (dot keys and a nested dict), so translation does real work.
import type { BlockType } from '../providers/blocks.js';

const FLOW_RUN = {
  id: '0b3b3c3e-0000-4000-8000-000000000001',
  name: 'nightly-etl-42',
  flow_name: 'etl',
  deployment_id: 'a8c6a7a2-5d0e-4f4c-9d6b-0e6a1a2b3c4d',
  deployment_name: 'etl/nightly',
  parameters: { date: '2026-01-01', tables: ['orders', 'customers', 'payments'], full_refresh: false },
  tags: ['etl', 'nightly'],
};

const ENV = { PREFECT_LOGGING_LEVEL: 'INFO', EXTRA_PIP_PACKAGES: 's3fs pandas', TZ: 'UTC' };
const LABELS = { team: 'data', cost_center: 'analytics' };

const BLOCKS: Record<BlockType, Record<string, unknown>> = {
  process: {
    type: 'process',
    command: ['python', '-m', 'prefect.engine'],
    env: ENV,
    labels: LABELS,
    working_dir: '/srv/flows',
  },
  'ecs-task': {
    type: 'ecs-task',
    aws_credentials: { region_name: 'us-east-1' },
    image: '123456789012.dkr.ecr.us-east-1.amazonaws.com/flows:2026.1',
    cluster: 'arn:aws:ecs:us-east-1:123456789012:cluster/prefect',
    cpu: 1024,
    memory: 2048,
    launch_type: 'FARGATE',
    vpc_id: 'vpc-0a1b2c3d',
    network_configuration: {
      subnets: ['subnet-0a1b2c3d', 'subnet-4e5f6a7b'],
      securityGroups: ['sg-0a1b2c3d'],
      assignPublicIp: 'DISABLED',
    },
    task_role_arn: 'arn:aws:iam::123456789012:role/prefect-task',
    execution_role_arn: 'arn:aws:iam::123456789012:role/prefect-execution',
    configure_cloudwatch_logs: true,
    cloudwatch_logs_options: { 'awslogs-group': 'prefect' },
    env: ENV,
    labels: LABELS,
    secrets: { DB_PASSWORD: 'arn:aws:secretsmanager:us-east-1:123456789012:secret:db-password' },
    task_customizations: [{ op: 'add', path: '/overrides/ephemeralStorage', value: { sizeInGiB: 30 } }],
  },
  'cloud-run-job': {
    type: 'cloud-run-job',
    project: 'analytics-prod',
    region: 'europe-west1',
    image: 'europe-docker.pkg.dev/analytics-prod/flows/etl:2026.1',
    cpu: 2,
    memory: 2048,
    memory_unit: 'Mi',
    timeout: 3600,
    service_account_name: 'prefect-runner@analytics-prod.iam.gserviceaccount.com',
    env: ENV,
    labels: LABELS,
    env_from_secrets: { DB_PASSWORD: { secret: 'db-password', version: 'latest' } },
  },
  'container-instance-job': {
    type: 'container-instance-job',
    subscription_id: '00000000-1111-2222-3333-444444444444',
    resource_group_name: 'prefect-runs',
    image: 'analytics.azurecr.io/flows/etl:2026.1',
    cpu: 2,
    memory: 4,
    identities: [
      '/subscriptions/00000000-1111-2222-3333-444444444444/resourceGroups/prefect/providers/Microsoft.ManagedIdentity/userAssignedIdentities/runner',
    ],
    image_registry: {
      registry_url: 'analytics.azurecr.io',
      identity:
        '/subscriptions/00000000-1111-2222-3333-444444444444/resourceGroups/prefect/providers/Microsoft.ManagedIdentity/userAssignedIdentities/runner',
    },
    subnet_ids: [
      '/subscriptions/00000000-1111-2222-3333-444444444444/resourceGroups/net/providers/Microsoft.Network/virtualNetworks/v/subnets/runs',
    ],
    env: ENV,
    labels: LABELS,
  },
  'docker-container': {
    type: 'docker-container',
    image: 'registry.example.com/flows/etl:2026.1',
    networks: ['flows'],
    volumes: ['/srv/data:/data:ro'],
    mem_limit: '2g',
    auto_remove: false,
    env: ENV,
    labels: { 'io.example/team': 'data' },
  },
  'kubernetes-job': {
    type: 'kubernetes-job',
    image: 'registry.example.com/flows/etl:2026.1',
    namespace: 'flows',
    service_account_name: 'prefect-runner',
    image_pull_policy: 'IfNotPresent',
    finished_job_ttl: 3600,
    env: ENV,
    labels: LABELS,
    customizations: [
      {
        op: 'add',
        path: '/spec/template/spec/containers/0/resources',
        value: { requests: { cpu: '1', memory: '2Gi' }, limits: { memory: '2Gi' } },
      },
    ],
  },
};

const OVERRIDES = {
  'env.RUN_MODE': 'backfill',
  'env.TZ': null,
  'labels.trigger': 'eventbridge',
  env: { FEATURE_FLAGS: 'a,b' },
};

/** A flow-run event for `type`, as a trigger would deliver it (fresh object every call). */
export function sampleEvent(type: BlockType, flowRunId = FLOW_RUN.id): Record<string, unknown> {
  return structuredClone({
    flow_run: { ...FLOW_RUN, id: flowRunId },
    infrastructure: BLOCKS[type],
    infra_overrides: OVERRIDES,
  });
}

/** A UUID (v4 form) from a counter, so runs are distinct and reproducible. */
export function benchUuid(n: number, prefix = 'b0000000'): string {
  return `${prefix}-0000-4000-8000-${n.toString(16).padStart(12, '0')}`;
}
