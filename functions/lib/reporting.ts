// How the deployed Report function reports: the EventBridge bus when EVENT_BUS_NAME is set
// (else a log line), and Crashed proposed to the Prefect API when it is configured. Kept
// apart from deps.ts so only Report's bundle holds the EventBridge and Secrets Manager SDKs.
import type { ReportingFromEnv } from './deps.js';
import { prefectFromEnv } from './prefect-from-env.js';
import { callbackSink, eventBridgeSink } from './report-sink.js';

export const reportingFromEnv: ReportingFromEnv = {
  sink: (env, log) =>
    env.EVENT_BUS_NAME
      ? eventBridgeSink(env.EVENT_BUS_NAME)
      : callbackSink((report) => log.info('flow run finished', { report })),
  prefect: (env) => prefectFromEnv(env),
};
