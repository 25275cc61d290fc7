// The deployment's configuration: one typed, validated document (a JSON file for the app,
// props for the construct). Every problem names its field and says what to put there.
import { readFileSync } from 'node:fs';
import * as z from 'zod';
import { InvalidInputError } from '../core/errors.js';
import { problemsFrom } from '../core/zod-problems.js';
import { CronInputSchema } from '../events/envelopes.js';
import {
  countWatchPolls,
  EVENTS_PER_POLL,
  EXECUTION_HISTORY_LIMIT,
  HISTORY_RESERVE,
  MAX_POLLS,
  POLL_BUCKETS,
} from '../functions/lib/poll.js';
import {
  type CredentialName,
  type KeyReferenceInput,
  keyReferenceSettings,
  keyReferencesFromEnv,
  PrefectConfigError,
} from '../functions/lib/prefect/config.js';
import { BLOCK_TYPES, type BlockType } from '../providers/blocks.js';
import { SecretArnSchema } from '../providers/config-schemas.js';
import { EcsConfigSchema } from '../providers/ecs-task/manifest.js';
import type { AnyManifest, ConfigSection } from '../providers/manifest.js';
import { MANIFESTS, type Manifests } from '../providers/manifests.js';

const Arn = z.string().regex(/^arn:aws[a-z-]*:[a-z0-9-]+:/, { message: "must be an ARN ('arn:aws:…')" });

/** Retention periods CloudWatch Logs accepts. */
export const LOG_RETENTION_DAYS = [
  1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653,
] as const;

/** What the deployed functions use when the configuration leaves these unset (settings.ts). */
export const DEFAULT_RUN_TIMEOUT_SECONDS = 86_400;
export const DEFAULT_KILL_GRACE_SECONDS = 30;
const POLL_GROWTH = 2;

/** The history budget and its count live with the schedule (functions/lib/poll.ts); Prepare checks an event's own timeout with them. */
export { EVENTS_PER_POLL, EXECUTION_HISTORY_LIMIT, HISTORY_RESERVE, MAX_POLLS };

/** The worst-case polls of a deployment's schedule (the smallest first interval any block asks, 1 s). */
export function watchPolls(
  pollCapSeconds: number,
  runTimeoutSeconds: number,
  killGraceSeconds: number,
  limit = Number.POSITIVE_INFINITY,
): { polls: number; reached: number } {
  return countWatchPolls(
    { first_seconds: POLL_BUCKETS[0], cap_seconds: pollCapSeconds, growth: POLL_GROWTH },
    runTimeoutSeconds,
    killGraceSeconds,
    limit,
  );
}

/** The problem with a poll cap and run timeout whose polls do not fit one execution's history, if any. */
function historyProblem(config: {
  pollCapSeconds: number;
  runTimeoutSeconds?: number | undefined;
  killGraceSeconds?: number | undefined;
}): string | undefined {
  const timeout = config.runTimeoutSeconds ?? DEFAULT_RUN_TIMEOUT_SECONDS;
  const grace = config.killGraceSeconds ?? DEFAULT_KILL_GRACE_SECONDS;
  const { polls } = watchPolls(config.pollCapSeconds, timeout, grace, MAX_POLLS + 1);
  if (polls <= MAX_POLLS) return undefined;
  const cap = POLL_BUCKETS.find(
    (bucket) =>
      bucket >= config.pollCapSeconds && watchPolls(bucket, timeout, grace, MAX_POLLS + 1).polls <= MAX_POLLS,
  );
  // the longest timeout whose polls fit at this cap: where the count stopped, less one poll
  const { reached } = watchPolls(config.pollCapSeconds, Number.POSITIVE_INFINITY, grace, MAX_POLLS);
  const longest = Math.max(0, reached - config.pollCapSeconds - 1);
  const timeoutText = config.runTimeoutSeconds === undefined ? `${timeout} (the default)` : String(timeout);
  return (
    `with pollCapSeconds ${config.pollCapSeconds} and runTimeoutSeconds ${timeoutText}, a run watched to its timeout takes more than ${MAX_POLLS} polls (≥ ${EVENTS_PER_POLL} history events each); ` +
    `a Standard execution holds ${EXECUTION_HISTORY_LIMIT} events and ${HISTORY_RESERVE} are kept for the other states: ` +
    `${cap === undefined ? 'no pollCapSeconds up to 600 fits; ' : `raise pollCapSeconds to at least ${cap}, or `}lower runTimeoutSeconds to at most ${longest}`
  );
}

/** ECS's section (`ecs`), declared by its manifest; re-exported for code that imported it from here. */
export { EcsConfigSchema };

/** Per provider with a section in its manifest (`ecs`, `google`, `azure`): its key and schema. */
type SectionKey<T extends BlockType> = Manifests[T] extends { config: ConfigSection<infer K> } ? K : never;
type SectionSchema<T extends BlockType> = Manifests[T] extends { config: ConfigSection<string, infer S> }
  ? S
  : never;
type ProviderSections = { [T in BlockType as SectionKey<T>]: z.ZodOptional<SectionSchema<T>> };

/** The providers' sections, each optional here and required (superRefine) when its provider is enabled. */
function providerSections(): ProviderSections {
  const manifests: readonly AnyManifest[] = BLOCK_TYPES.map((type) => MANIFESTS[type]);
  const entries = manifests.flatMap(({ config }) => (config ? [[config.key, config.schema.optional()]] : []));
  // one entry per manifest section, keyed and typed as that manifest declares it
  return Object.fromEntries(entries) as ProviderSections;
}

export const ScheduleConfigSchema = z.strictObject({
  /** Schedule name: letters, digits, `-_.`; unique in this deployment. */
  name: z.string().regex(/^[0-9A-Za-z_.-]{1,64}$/, 'must be 1–64 letters, digits, `-`, `_` or `.`'),
  /** `cron(…)` or `rate(…)`, as EventBridge Scheduler reads it, e.g. `cron(0 6 * * ? *)`. */
  expression: z.string().regex(/^(cron\(.+\)|rate\(\d+ (minute|minutes|hour|hours|day|days)\))$/, {
    message: "must be 'cron(MIN HOUR DOM MONTH DOW YEAR)' or 'rate(N minutes|hours|days)'",
  }),
  timezone: z.string().min(1).default('UTC'),
  enabled: z.boolean().default(true),
  description: z.string().optional(),
  /**
   * The cron input (deployment + block), as the trigger reads it. `scheduled_time` is filled
   * by the scheduler at each tick, so repeated deliveries of one tick are the same flow run.
   */
  input: CronInputSchema.omit({ scheduled_time: true }),
});

export const EventBusConfigSchema = z.strictObject({
  /** The bus flow-run events arrive on and reports are sent to. */
  name: z.string().regex(/^[A-Za-z0-9/._-]{1,256}$/, 'must be an event bus name'),
  /** Create the bus (not possible for `default`), or use an existing one. */
  create: z.boolean().default(false),
  /** Flow-run events are matched by their `detail-type`… */
  detailTypes: z.array(z.string().min(1)).min(1).default(['Flow Run Requested']),
  /** …and, when given, their `source`. */
  sources: z.array(z.string().min(1)).optional(),
});

export const PubSubConfigSchema = z.strictObject({
  /** The service accounts whose OIDC tokens the push endpoint accepts (the subscription's). */
  serviceAccountEmails: z
    .array(z.email('must be a service account email'))
    .min(1, 'required: at least one service account email (the push subscription authenticates as it)'),
  /** Expected token audience; default: the push endpoint's own URL (what Pub/Sub sends by default). */
  audience: z.string().min(1).optional(),
  jwksUrl: z.url().default('https://www.googleapis.com/oauth2/v3/certs'),
  issuers: z.array(z.string().min(1)).min(1).default(['https://accounts.google.com', 'accounts.google.com']),
});

export const SubmitterConfigSchema = z
  .strictObject({
    /** Provider functions to deploy, one per type. */
    providers: z
      .array(z.enum(BLOCK_TYPES as [BlockType, ...BlockType[]]))
      .min(1, 'required: at least one provider, e.g. ["ecs-task"]'),
    ...providerSections(),
    eventBus: EventBusConfigSchema.default(() => EventBusConfigSchema.parse({ name: 'default' })),
    /** Omit to deploy no Pub/Sub push endpoint. */
    pubsub: PubSubConfigSchema.optional(),
    schedules: z.array(ScheduleConfigSchema).default([]),
    prefect: z
      .strictObject({
        apiUrl: z.url(
          'must be the Prefect API URL, e.g. https://api.prefect.cloud/api/accounts/A/workspaces/W',
        ),
        /** Prefect Cloud: a Secrets Manager secret holding the API key (sent as `Authorization: Bearer`). */
        apiKeySecretArn: SecretArnSchema.optional(),
        /** Self-hosted with basic auth: a secret holding `user:password` (PREFECT_API_AUTH_STRING). */
        apiAuthStringSecretArn: SecretArnSchema.optional(),
        /**
         * Where flow runs on Cloud Run and Kubernetes read that credential, for the platform to inject
         * (docs/prefect.md): a Secret Manager secret, a Kubernetes Secret and its key. ECS flow runs get
         * the ARN above; ACI ones the value as a secureValue.
         */
        flowRunSecret: z
          .strictObject({
            cloudRun: z.strictObject({ secret: z.string(), version: z.string().optional() }).optional(),
            kubernetes: z.strictObject({ name: z.string(), key: z.string() }).optional(),
          })
          .optional(),
      })
      .refine((p) => !(p.apiKeySecretArn && p.apiAuthStringSecretArn), {
        message:
          'give apiKeySecretArn (Prefect Cloud) or apiAuthStringSecretArn (self-hosted basic auth), not both',
        path: ['apiAuthStringSecretArn'],
      })
      .superRefine((p, ctx) => {
        if (!p.flowRunSecret) return;
        try {
          keyReferencesFromEnv(prefectFlowRunSecretEnv(p));
        } catch (error) {
          if (!(error instanceof PrefectConfigError)) throw error;
          ctx.addIssue({ code: 'custom', path: ['flowRunSecret'], message: error.message });
        }
      })
      .optional(),
    logRetentionDays: z
      .number()
      .refine((days) => (LOG_RETENTION_DAYS as readonly number[]).includes(days), {
        message: `must be one of ${LOG_RETENTION_DAYS.join(', ')}`,
      })
      .default(30),
    /** Cap of the poll interval: the worst-case lag between a run ending and its report. */
    pollCapSeconds: z.number().int().min(1).max(600).default(120),
    runTimeoutSeconds: z.number().int().positive().optional(),
    /** Seconds between SIGTERM and SIGKILL on cancel; under the provider function timeout. */
    killGraceSeconds: z.number().int().nonnegative().max(240).optional(),
    stateMachine: z
      .strictObject({
        tracing: z.boolean().default(false),
        logLevel: z.enum(['OFF', 'ERROR', 'ALL']).default('ERROR'),
        includeExecutionData: z.boolean().default(true),
      })
      .default({ tracing: false, logLevel: 'ERROR', includeExecutionData: true }),
    /** Key prefix in the bucket for blocks, parked events, cancel markers, rejected deliveries. */
    storePrefix: z
      .string()
      .regex(/^([A-Za-z0-9_.=-]+(\/[A-Za-z0-9_.=-]+)*)?$/, "must be '' or a key prefix like 'submitter'")
      .default(''),
    /** Keep the bucket (and its blocks) when the stack is deleted. */
    retainBucket: z.boolean().default(true),
    /** SNS topic for the alarms (dead letters, failed executions); none: alarms only show in the console. */
    alarmTopicArn: Arn.optional(),
    /** Lambda memory (MB) per function. */
    memoryMb: z.number().int().min(128).max(10_240).default(512),
  })
  .superRefine((config, ctx) => {
    const sections: Readonly<Record<string, unknown>> = config;
    for (const type of config.providers) {
      const section: AnyManifest['config'] = MANIFESTS[type].config;
      if (section && sections[section.key] === undefined)
        ctx.addIssue({ code: 'custom', path: [section.key], message: section.required });
    }
    if (new Set(config.providers).size !== config.providers.length) {
      ctx.addIssue({ code: 'custom', path: ['providers'], message: 'lists a provider twice' });
    }
    const names = config.schedules.map((s) => s.name);
    names.forEach((name, i) => {
      if (names.indexOf(name) !== i)
        ctx.addIssue({ code: 'custom', path: ['schedules', i, 'name'], message: `'${name}' is used twice` });
    });
    const history = historyProblem(config);
    if (history) ctx.addIssue({ code: 'custom', path: ['pollCapSeconds'], message: history });
    if (config.eventBus.create && config.eventBus.name === 'default') {
      ctx.addIssue({
        code: 'custom',
        path: ['eventBus', 'create'],
        message: "the 'default' bus always exists: set create to false or pick another name",
      });
    }
  });

export type SubmitterConfigInput = z.input<typeof SubmitterConfigSchema>;
export type SubmitterConfig = z.output<typeof SubmitterConfigSchema>;

export function parseConfig(input: unknown, where = 'submitter configuration'): SubmitterConfig {
  const parsed = SubmitterConfigSchema.safeParse(input);
  if (!parsed.success) {
    throw new InvalidInputError(`Invalid ${where}`, problemsFrom(parsed.error), { cause: parsed.error });
  }
  return parsed.data;
}

export function loadConfig(path: string): SubmitterConfig {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (cause) {
    throw new InvalidInputError(
      'Cannot read the submitter configuration',
      [{ path, message: 'file not found: pass -c config=PATH to cdk, or copy infra-cdk/config.sample.json' }],
      { cause },
    );
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (cause) {
    throw new InvalidInputError(
      'Invalid submitter configuration',
      [{ path, message: `not valid JSON: ${cause instanceof Error ? cause.message : String(cause)}` }],
      { cause },
    );
  }
  return parseConfig(doc, `submitter configuration ${path}`);
}

/** The settings that tell every function where flow runs read the credential (`prefect.flowRunSecret`). */
export function prefectFlowRunSecretEnv(prefect: {
  apiAuthStringSecretArn?: string | undefined;
  flowRunSecret?: KeyReferenceInput | undefined;
}): Record<string, string> {
  if (!prefect.flowRunSecret) return {};
  const credential: CredentialName = prefect.apiAuthStringSecretArn
    ? 'PREFECT_API_AUTH_STRING'
    : 'PREFECT_API_KEY';
  return keyReferenceSettings(credential, prefect.flowRunSecret);
}
