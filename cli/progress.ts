// Live progress for `submitter run`: each state as it is entered, the infrastructure id
// once submitted, and what every poll saw — with the elapsed time.
import type { WorkflowEvent } from '../functions/local/runner.js';

function stamp(start: number): string {
  return `[${((Date.now() - start) / 1000).toFixed(1).padStart(6)}s]`;
}

function causeText(cause: unknown): string {
  if (typeof cause !== 'string') return '';
  try {
    const parsed = JSON.parse(cause) as { errorMessage?: string };
    return parsed.errorMessage ?? cause;
  } catch {
    return cause;
  }
}

export function progressPrinter(
  write: (line: string) => void,
  start = Date.now(),
): (event: WorkflowEvent) => void {
  return (event) => {
    const at = stamp(start);
    switch (event.type) {
      case 'StateEntered':
        write(`${at} ${event.state.name}`);
        break;
      case 'StateExited': {
        const output = event.state.output as
          | { infra?: { identifier: string; adopted: boolean }; run?: { provider: string } }
          | undefined;
        if (event.state.name === 'Submit' && output?.infra) {
          write(
            `${at}   ${output.infra.adopted ? 'adopted' : 'submitted'}: ${output.run?.provider ?? ''} ${output.infra.identifier}`,
          );
        }
        break;
      }
      case 'StateFailed': {
        if (event.Error.startsWith('PollAgainIn'))
          write(`${at}   ${event.state.name}: ${causeText(event.Cause)}`);
        else
          write(
            `${at}   ${event.state.name} failed: ${event.Error}: ${causeText(event.Cause).split('\n')[0]}`,
          );
        break;
      }
      case 'StateCaught':
        write(`${at}   caught by ${event.catch.catcher.Next}`);
        break;
      default:
        break;
    }
  };
}
