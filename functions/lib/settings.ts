// Deployment settings, read from the environment (Lambda env vars; the CLI sets them too).
import type { BlockType } from '../../providers/blocks.js';

export interface Settings {
  /** Cap of the poll interval (seconds): the worst-case detection lag. */
  pollCapSeconds: number;
  pollGrowth: number;
  /** Default run timeout when the event gives none (seconds from submission). */
  runTimeoutSeconds: number;
  killGraceSeconds: number;
  /** Which function runs each provider's operations. */
  providerFunction: (type: BlockType) => string;
  /** Providers this deployment runs (PROVIDER_FUNCTIONS' keys); undefined: all (local). */
  enabledProviders: BlockType[] | undefined;
  prepareFunction: string;
  reportFunction: string;
}

function num(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value <= 0)
    throw new Error(`${name} must be a positive number of seconds, got '${raw}'`);
  return value;
}

export const FUNCTION_PREFIX = 'submitter';

export function settingsFromEnv(env: NodeJS.ProcessEnv = process.env): Settings {
  let functions: Record<string, string> = {};
  if (env.PROVIDER_FUNCTIONS) {
    try {
      functions = JSON.parse(env.PROVIDER_FUNCTIONS) as Record<string, string>;
    } catch {
      throw new Error('PROVIDER_FUNCTIONS must be a JSON object {"ecs-task": "function-name", …}');
    }
  }
  return {
    pollCapSeconds: num(env, 'POLL_CAP_SECONDS', 120),
    pollGrowth: num(env, 'POLL_GROWTH', 2),
    runTimeoutSeconds: num(env, 'RUN_TIMEOUT_SECONDS', 86_400),
    killGraceSeconds: num(env, 'KILL_GRACE_SECONDS', 30),
    providerFunction: (type) => functions[type] ?? `${FUNCTION_PREFIX}-infra-${type}`,
    enabledProviders: env.PROVIDER_FUNCTIONS ? (Object.keys(functions) as BlockType[]) : undefined,
    prepareFunction: env.PREPARE_FUNCTION ?? `${FUNCTION_PREFIX}-prepare`,
    reportFunction: env.REPORT_FUNCTION ?? `${FUNCTION_PREFIX}-report`,
  };
}
