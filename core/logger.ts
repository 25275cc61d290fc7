// One JSON line per log entry (what CloudWatch and `jq` read), with secrets redacted
// from fields and scrubbed from messages.
import { redact, scrub, scrubValues } from './secrets.js';

type Level = 'debug' | 'info' | 'warn' | 'error';
const ORDER: Record<Level, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export interface Logger {
  debug(message: string, fields?: Record<string, unknown>): void;
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
  /** A logger that also scrubs these secret values from everything it writes. */
  withSecrets(secrets: readonly string[]): Logger;
}

export function createLogger(
  options: { level?: string; write?: (line: string) => void; secrets?: readonly string[] } = {},
): Logger {
  const threshold =
    ORDER[(options.level ?? process.env.LOG_LEVEL ?? 'info').toLowerCase() as Level] ?? ORDER.info;
  const write = options.write ?? ((line: string) => process.stderr.write(`${line}\n`));
  const secrets = options.secrets ?? [];
  const emit = (level: Level, message: string, fields?: Record<string, unknown>) => {
    if (ORDER[level] < threshold) return;
    // scrubbed as values, before JSON: a secret that is also a key (`password`) leaves the key alone
    const entry = {
      level,
      time: new Date().toISOString(),
      message: secrets.length ? scrub(message, secrets) : message,
      ...(fields ? scrubValues(redact(fields), secrets) : {}),
    };
    write(JSON.stringify(entry));
  };
  return {
    debug: (m, f) => emit('debug', m, f),
    info: (m, f) => emit('info', m, f),
    warn: (m, f) => emit('warn', m, f),
    error: (m, f) => emit('error', m, f),
    withSecrets: (more) => createLogger({ ...options, secrets: [...secrets, ...more] }),
  };
}
