// Where the final report goes: EventBridge in AWS, a callback (the CLI prints it) locally.
import type { Report } from './state.js';

export interface ReportSink {
  emit(report: Report): Promise<void>;
}

export const REPORT_SOURCE = 'flow-run-submitter';
export const REPORT_DETAIL_TYPE = 'Flow Run Finished';

export function callbackSink(onReport: (report: Report) => void): ReportSink {
  return {
    async emit(report) {
      onReport(report);
    },
  };
}

/** PutEvents on a bus; the SDK is loaded on first use only. */
export function eventBridgeSink(busName: string): ReportSink {
  let client: import('@aws-sdk/client-eventbridge').EventBridgeClient | undefined;
  return {
    async emit(report) {
      const sdk = await import('@aws-sdk/client-eventbridge');
      client ??= new sdk.EventBridgeClient({});
      const out = await client.send(
        new sdk.PutEventsCommand({
          Entries: [
            {
              EventBusName: busName,
              Source: REPORT_SOURCE,
              DetailType: REPORT_DETAIL_TYPE,
              Detail: JSON.stringify(report),
            },
          ],
        }),
      );
      if (out.FailedEntryCount) {
        const entry = out.Entries?.[0];
        throw new Error(
          `EventBridge rejected the report: ${entry?.ErrorCode ?? ''} ${entry?.ErrorMessage ?? ''}`.trim(),
        );
      }
    },
  };
}
