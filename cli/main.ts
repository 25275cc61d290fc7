// `submitter`: run a flow run through the real workflow locally, preview the exact
// provider request, validate input, cancel a run, manage blocks.
import { randomUUID } from 'node:crypto';
import { parseArgs } from 'node:util';
import { InvalidInputError, SubmitterError } from '../core/errors.js';
import { collectSecretValues, maskRequest, redact, scrub } from '../core/secrets.js';
import type { Unwrapped } from '../events/envelopes.js';
import { classify, deploymentToEvent, type InputDocument, readDocumentFile } from '../events/input.js';
import {
  deploymentLabel,
  type PrefectProject,
  type ProjectEntry,
  parseJobVariables,
  projectDeploymentToEvent,
  selectDeployment,
} from '../events/prefect-yaml.js';
import { FLOW_RUN_PLACEHOLDER_ID, type FlowRunEventInput, parseFlowRunEvent } from '../events/schema.js';
import { withPrefectEnv } from '../functions/lib/context.js';
import { storeAt } from '../functions/lib/deps.js';
import { accept } from '../functions/lib/intake.js';
import { cancelKey, type Report } from '../functions/lib/state.js';
import { startExecution } from '../functions/local/runner.js';
import { templateOf, WorkPoolStore } from '../prefect3/work-pool.js';
import { type BlockStore, splitSlug } from '../providers/block-store.js';
import { parseBlock } from '../providers/blocks.js';
import { findProblems, resolveTarget } from '../providers/resolve.js';
import { localDeps } from './local.js';
import { progressPrinter } from './progress.js';

export interface Io {
  out: (text: string) => void;
  err: (text: string) => void;
}

const defaultIo: Io = {
  out: (text) => process.stdout.write(`${text}\n`),
  err: (text) => process.stderr.write(`${text}\n`),
};

const USAGE = `submitter — start flow runs on cloud infrastructure, watched by one workflow

Usage:
  submitter run FILE [--deployment NAME] [--job-variable K=V]… [--new-flow-run | --flow-run-id ID] [--flow-run-name NAME] [--home DIR] [--blocks LOC] [--quiet]
      Run a flow run through the workflow on this machine; exit 0 only when it Completed.
  submitter preview FILE [--deployment NAME] [--job-variable K=V]… [--flow-run-id ID] [--flow-run-name NAME] [--blocks LOC]
      Print {"provider", "request"}: the exact provider request, secrets redacted.
  submitter validate FILE [--deployment NAME] [--job-variable K=V]… [--blocks LOC] [--remote]
      Check an event, block, deployment YAML or prefect.yaml (every deployment, or NAME) and
      print every problem with its path, and the fields accepted but not acted on ("ignored");
      --remote: also ask the provider (cloud-run-job: Google's validateOnly), creating nothing.
  submitter serve [--port N] [--home DIR] [--blocks LOC] [--insecure-no-auth]
      The Pub/Sub push endpoint on this machine (the trigger's handler, OIDC checked as deployed).
  submitter cancel FLOW_RUN_ID [--home DIR | --store s3://bucket/prefix]
      Ask a running flow run to stop; the workflow kills it and reports Cancelled.
  submitter blocks put FILE --name NAME [--blocks LOC] | get SLUG | list
      Save, show (redacted) or list blocks in a block store (a folder, or s3://bucket/prefix).
  submitter work-pools put FILE [--name NAME] [--type TYPE] [--blocks LOC] | get NAME | list
      Save, show (with its base job template, redacted) or list Prefect 3 work pools in the
      block store: FILE is a work pool {"type", "base_job_template"?} (no template: the type's
      default) or a bare base job template with --type.

FILE is a flow-run event (bare, or in an EventBridge / Pub/Sub push / cron envelope),
a block document (has "type"), a Prefect 2 deployment YAML, or a Prefect 3 prefect.yaml
(--deployment NAME: 'deployment-name' or 'flow-name/deployment-name'; needed when it has several;
--job-variable key=value, JSON values allowed, replaces that job variable of the deployment).
Exit codes: 0 ok / Completed, 1 the run did not complete, 2 bad input.`;

const OPTIONS = {
  'new-flow-run': { type: 'boolean' },
  'flow-run-id': { type: 'string' },
  'flow-run-name': { type: 'string' },
  home: { type: 'string' },
  store: { type: 'string' },
  blocks: { type: 'string' },
  name: { type: 'string' },
  type: { type: 'string' },
  deployment: { type: 'string' },
  'job-variable': { type: 'string', multiple: true },
  format: { type: 'string' },
  quiet: { type: 'boolean', short: 'q' },
  remote: { type: 'boolean' },
  port: { type: 'string' },
  'insecure-no-auth': { type: 'boolean' },
  verbose: { type: 'boolean', short: 'v' },
  help: { type: 'boolean', short: 'h' },
} as const;

type Flags = {
  [K in Exclude<keyof typeof OPTIONS, 'job-variable'>]?: (typeof OPTIONS)[K]['type'] extends 'boolean'
    ? boolean
    : string;
} & { 'job-variable'?: string[] };

function usageError(message: string): InvalidInputError {
  return new InvalidInputError('Usage', [
    { path: 'arguments', message: `${message} (see 'submitter --help')` },
  ]);
}

/** Any input file → the flow-run event it stands for (a block or deployment gets a flow run). */
/** Secret values in the documents a command read: its error messages are scrubbed of them. */
interface Seen {
  secrets: string[];
}

/** The event a file stands for, and the fields it holds that are accepted but not acted on. */
type FileEvent = Unwrapped & { ignored?: string[] };

async function readInput(file: string, seen: Seen): Promise<InputDocument> {
  const raw = await readDocumentFile(file);
  seen.secrets.push(...collectSecretValues(raw));
  return classify(raw);
}

function identityFrom(flags: Flags) {
  return {
    ...(flags['flow-run-id'] ? { id: flags['flow-run-id'] } : {}),
    ...(flags['flow-run-name'] ? { name: flags['flow-run-name'] } : {}),
  };
}

/** One deployment of a prefect.yaml as a flow-run event (file-level ignored keys included). */
function projectEvent(
  project: PrefectProject,
  entry: ProjectEntry,
  flags: Flags,
  placeholderId: string,
): FileEvent {
  const identity = identityFrom(flags);
  const translated = projectDeploymentToEvent(
    entry,
    { id: identity.id ?? placeholderId, name: identity.name },
    parseJobVariables(flags['job-variable'] ?? []),
    process.env,
  );
  return {
    kind: 'flow-run-event',
    event: translated.event,
    ignored: [...project.ignored, ...translated.ignored.map((k) => `deployments[${entry.index}].${k}`)],
  };
}

async function eventFrom(file: string, flags: Flags, placeholderId: string, seen: Seen): Promise<FileEvent> {
  const doc = await readInput(file, seen);
  return eventOf(doc, flags, placeholderId);
}

function eventOf(doc: InputDocument, flags: Flags, placeholderId: string): FileEvent {
  const identity = identityFrom(flags);
  if (flags.deployment !== undefined && doc.kind !== 'project') {
    throw usageError('--deployment picks a deployment of a prefect.yaml; this file is not one');
  }
  if (flags['job-variable'] && doc.kind !== 'project') {
    throw usageError("--job-variable sets a prefect.yaml deployment's job variables; this file is not one");
  }
  if (doc.kind === 'project') {
    return projectEvent(doc.project, selectDeployment(doc.project, flags.deployment), flags, placeholderId);
  }
  if (doc.kind === 'deployment') {
    return {
      kind: 'flow-run-event',
      event: deploymentToEvent(doc.deployment, { id: identity.id ?? placeholderId, ...identity }),
      ignored: doc.ignored,
    };
  }
  if (doc.kind === 'block') {
    const event: FlowRunEventInput = {
      flow_run: { id: identity.id ?? placeholderId, name: identity.name ?? 'preview' },
      infrastructure: doc.block as FlowRunEventInput['infrastructure'] & object,
    };
    return { kind: 'flow-run-event', event };
  }
  const unwrapped = doc.unwrapped;
  const event = unwrapped.event;
  if (
    typeof event === 'object' &&
    event !== null &&
    typeof (event as { flow_run?: unknown }).flow_run === 'object'
  ) {
    const flowRun = { ...(event as { flow_run: Record<string, unknown> }).flow_run };
    if (flags['new-flow-run']) flowRun.id = randomUUID();
    if (identity.id) flowRun.id = identity.id;
    if (identity.name) flowRun.name = identity.name;
    return { ...unwrapped, event: { ...(event as object), flow_run: flowRun } };
  }
  return unwrapped;
}

/** The secrets of the stored block an event names (so an error about that block is scrubbed too). */
async function noteStoredBlock(blocks: BlockStore | undefined, event: unknown, seen: Seen): Promise<void> {
  const slug =
    typeof event === 'object' && event !== null && 'infrastructure_block' in event
      ? event.infrastructure_block
      : undefined;
  if (!blocks || typeof slug !== 'string') return;
  try {
    seen.secrets.push(...collectSecretValues(await blocks.get(slug)));
  } catch {
    // not found or unreadable: the command reports that itself
  }
}

function describeSource(source: string): string {
  if (source === 'inline') return '';
  return source.startsWith('work-pool') ? ` (${source})` : ` block ${source}`;
}

async function runCommand(file: string, flags: Flags, io: Io, seen: Seen): Promise<number> {
  let report: Report | undefined;
  const deps = await localDeps({
    ...(flags.home ? { home: flags.home } : {}),
    ...(flags.blocks ? { blocks: flags.blocks } : {}),
    verbose: flags.verbose ?? false,
    onReport: (r) => {
      report = r;
    },
  });
  const unwrapped = await eventFrom(file, flags, randomUUID(), seen);
  await noteStoredBlock(deps.blocks, unwrapped.event, seen);
  const accepted = await accept(deps, unwrapped);
  const say = flags.quiet ? () => undefined : io.err;
  say(
    `flow run ${accepted.input.flow_run_id}${accepted.event.flow_run.name ? ` (${accepted.event.flow_run.name})` : ''} on ${accepted.target.block.type}${describeSource(accepted.target.source)}`,
  );

  let cancelled = false;
  const onSigint = () => {
    if (cancelled) process.exit(130);
    cancelled = true;
    say('cancelling: the workflow will stop the run at its next check (Ctrl-C again to leave it running)');
    void deps.store.put(
      cancelKey(accepted.input.flow_run_id),
      JSON.stringify({ requested_at: new Date().toISOString(), by: 'ctrl-c' }),
    );
  };
  process.on('SIGINT', onSigint);
  try {
    const outcome = await startExecution(accepted.input, {
      deps,
      onEvent: progressPrinter(say),
      onAdopt: () =>
        say(
          `an execution for this flow run already exists (${`fr-${accepted.input.flow_run_id}`}); adopting it instead of starting another`,
        ),
      onResume: (orphan) =>
        say(
          `the submitter that ran it (pid ${orphan.owner_pid}) is gone; resuming the execution: the running flow run is adopted and watched to its end`,
        ),
    });
    const final = report ?? outcome.state?.report;
    if (!final) {
      io.err(`the workflow did not produce a report: ${outcome.error ?? 'unknown error'}`);
      return 1;
    }
    io.out(JSON.stringify(final, null, 2));
    say(
      `${final.state}${final.status_code !== null ? ` (status code ${final.status_code})` : ''}${final.reason ? `: ${final.reason}` : ''}${outcome.transitions ? ` — ${outcome.transitions} state transitions` : ''}`,
    );
    return final.state === 'Completed' ? 0 : 1;
  } finally {
    process.off('SIGINT', onSigint);
  }
}

async function previewCommand(file: string, flags: Flags, io: Io, seen: Seen): Promise<number> {
  const deps = await localDeps({ ...(flags.blocks ? { blocks: flags.blocks } : {}) });
  const unwrapped = await eventFrom(file, flags, FLOW_RUN_PLACEHOLDER_ID, seen);
  await noteStoredBlock(deps.blocks, unwrapped.event, seen);
  const event = parseFlowRunEvent(unwrapped.event);
  // what `run` sends: with a Prefect API configured, its URL (and the key, by reference) included
  const target = await withPrefectEnv(deps, await resolveTarget(event, deps.blocks));
  seen.secrets.push(...collectSecretValues(target.block));
  const provider = await deps.loadSpec(target.block.type);
  // the exact request, only the values that came from the block's secrets masked
  const request = maskRequest(target.block, (block) => provider.build({ ...target, block }));
  io.out(JSON.stringify({ provider: target.block.type, request }, null, 2));
  return 0;
}

/** `validate` on a prefect.yaml without --deployment: each deployment checked and reported. */
async function validateProject(
  file: string,
  project: PrefectProject,
  flags: Flags,
  io: Io,
  seen: Seen,
): Promise<number> {
  const deps = await localDeps({ ...(flags.blocks ? { blocks: flags.blocks } : {}) });
  let failed = 0;
  if (project.ignored.length > 0) io.out(`ignored (accepted, not acted on): ${project.ignored.join(', ')}`);
  for (const entry of project.deployments) {
    const label = deploymentLabel(entry);
    try {
      const fileEvent = projectEvent(project, entry, flags, FLOW_RUN_PLACEHOLDER_ID);
      await noteStoredBlock(deps.blocks, fileEvent.event, seen);
      const problems = await findProblems(fileEvent.event, deps.blocks, deps.loadSpec);
      if (problems.length > 0)
        throw new InvalidInputError(`${label}: ${problemCount(problems.length)}`, problems);
      const event = parseFlowRunEvent(fileEvent.event);
      const target = await resolveTarget(event, deps.blocks);
      io.out(`valid: ${label} on a ${target.block.type} block (${target.source})`);
      const own = (fileEvent.ignored ?? []).filter((k) => !project.ignored.includes(k));
      if (own.length > 0) io.out(`  ignored (accepted, not acted on): ${own.join(', ')}`);
    } catch (error) {
      if (!(error instanceof InvalidInputError) && !(error instanceof SubmitterError)) throw error;
      failed++;
      io.err(
        scrub(
          error instanceof InvalidInputError ? error.message : `${error.name}: ${error.message}`,
          seen.secrets,
        ),
      );
    }
  }
  if (failed > 0) {
    io.err(`${file}: ${failed} of ${project.deployments.length} deployments invalid`);
    return 2;
  }
  return 0;
}

const problemCount = (n: number) => `${n} problem${n > 1 ? 's' : ''}`;

async function validateCommand(file: string, flags: Flags, io: Io, seen: Seen): Promise<number> {
  const doc = await readInput(file, seen);
  if (doc.kind === 'project' && flags.deployment === undefined) {
    return validateProject(file, doc.project, flags, io, seen);
  }
  const deps = await localDeps({ ...(flags.blocks ? { blocks: flags.blocks } : {}) });
  const unwrapped = eventOf(doc, flags, FLOW_RUN_PLACEHOLDER_ID);
  await noteStoredBlock(deps.blocks, unwrapped.event, seen);
  const problems = await findProblems(unwrapped.event, deps.blocks, deps.loadSpec);
  if (problems.length > 0) {
    throw new InvalidInputError(
      `${file}: ${problems.length} problem${problems.length > 1 ? 's' : ''}`,
      problems,
    );
  }
  const event = parseFlowRunEvent(unwrapped.event);
  const target = await resolveTarget(event, deps.blocks);
  io.out(
    `valid: ${unwrapped.kind} for flow run ${event.flow_run.id} on a ${target.block.type} block (${target.source})`,
  );
  if (unwrapped.ignored && unwrapped.ignored.length > 0) {
    io.out(`ignored (accepted, not acted on): ${unwrapped.ignored.join(', ')}`);
  }
  if (!flags.remote) return 0;
  const remote = await (await import('./remote.js')).remoteValidate(target);
  (remote.ok ? io.out : io.err)(remote.line);
  return remote.ok ? 0 : 1;
}

async function blocksCommand(args: string[], flags: Flags, io: Io, seen: Seen): Promise<number> {
  const [action, arg] = args;
  const deps = await localDeps({
    ...(flags.blocks ? { blocks: flags.blocks } : {}),
    ...(flags.home ? { home: flags.home } : {}),
  });
  switch (action) {
    case 'put': {
      if (!arg || !flags.name) throw usageError("'blocks put' needs FILE and --name NAME");
      const doc = await readDocumentFile(arg);
      seen.secrets.push(...collectSecretValues(doc));
      const block = parseBlock(doc, { path: arg });
      const slug = `${block.type}/${flags.name}`;
      splitSlug(slug);
      const key = await deps.blocks.put(
        slug,
        doc as Record<string, unknown>,
        flags.format === 'yaml' ? 'yaml' : 'json',
      );
      io.out(`saved ${slug} (${deps.blocks.store.location}/${key})`);
      return 0;
    }
    case 'get': {
      if (!arg) throw usageError("'blocks get' needs a slug 'type/name'");
      const block = await deps.blocks.get(arg);
      seen.secrets.push(...collectSecretValues(block));
      io.out(JSON.stringify(redact(block), null, 2));
      return 0;
    }
    case 'list': {
      for (const slug of await deps.blocks.list()) io.out(slug);
      return 0;
    }
    default:
      throw usageError(`unknown blocks action '${action ?? ''}': use put, get or list`);
  }
}

/**
 * `work-pools put FILE --name NAME`: FILE is a work-pool document (`{"type", "base_job_template"?}`,
 * what `prefect work-pool inspect` shows) or a bare base job template (`{"job_configuration",
 * "variables"}`, what `prefect work-pool get-default-base-job-template` prints) with --type.
 */
async function workPoolsCommand(args: string[], flags: Flags, io: Io, seen: Seen): Promise<number> {
  const [action, arg] = args;
  const deps = await localDeps({
    ...(flags.blocks ? { blocks: flags.blocks } : {}),
    ...(flags.home ? { home: flags.home } : {}),
  });
  const pools = new WorkPoolStore(deps.blocks.store);
  switch (action) {
    case 'put': {
      if (!arg) throw usageError("'work-pools put' needs FILE (and --name NAME unless the file has a name)");
      const doc = await readDocumentFile(arg);
      seen.secrets.push(...collectSecretValues(doc));
      const record = typeof doc === 'object' && doc !== null && !Array.isArray(doc) ? doc : {};
      const bareTemplate = 'job_configuration' in record && !('type' in record);
      if (bareTemplate && !flags.type) {
        throw usageError(
          `'${arg}' is a base job template: say which work-pool type it is for with --type, e.g. --type ecs`,
        );
      }
      const pool = bareTemplate
        ? { type: flags.type, base_job_template: record }
        : { ...record, ...(flags.type ? { type: flags.type } : {}) };
      const name =
        flags.name ?? ('name' in record && typeof record.name === 'string' ? record.name : undefined);
      if (!name) throw usageError("'work-pools put' needs --name NAME (the file has no name)");
      const key = await pools.put(name, pool, flags.format === 'yaml' ? 'yaml' : 'json');
      io.out(`saved work pool ${name} (${pools.store.location}/${key})`);
      return 0;
    }
    case 'get': {
      if (!arg) throw usageError("'work-pools get' needs a work-pool NAME");
      const pool = await pools.get(arg);
      seen.secrets.push(...collectSecretValues(pool));
      io.out(
        JSON.stringify(
          redact({ ...pool, base_job_template: templateOf(pool, `work_pool(${arg})`) }),
          null,
          2,
        ),
      );
      return 0;
    }
    case 'list': {
      for (const name of await pools.list()) io.out(name);
      return 0;
    }
    default:
      throw usageError(`unknown work-pools action '${action ?? ''}': use put, get or list`);
  }
}

export async function main(argv: string[], io: Io = defaultIo): Promise<number> {
  const seen: Seen = { secrets: [] };
  try {
    const { values, positionals } = parseArgs({
      args: argv,
      options: OPTIONS,
      allowPositionals: true,
      strict: true,
    });
    const flags = values as Flags;
    const [command, ...rest] = positionals;
    if (flags.help || !command || command === 'help') {
      io.out(USAGE);
      return command || flags.help ? 0 : 2;
    }
    const file = rest[0];
    switch (command) {
      case 'run':
        if (!file) throw usageError("'run' needs a FILE");
        return await runCommand(file, flags, io, seen);
      case 'preview':
        if (!file) throw usageError("'preview' needs a FILE");
        return await previewCommand(file, flags, io, seen);
      case 'validate':
        if (!file) throw usageError("'validate' needs a FILE");
        return await validateCommand(file, flags, io, seen);
      case 'cancel': {
        if (!file) throw usageError("'cancel' needs a FLOW_RUN_ID");
        if (!/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(file)) {
          throw usageError(`'${file}' is not a flow-run id (a UUID)`);
        }
        // --store: the deployed store (s3://bucket/prefix, as `cdk deploy` printed it); default: local
        const store = flags.store
          ? await storeAt(flags.store)
          : (await localDeps({ ...(flags.home ? { home: flags.home } : {}) })).store;
        await store.put(
          cancelKey(file),
          JSON.stringify({ requested_at: new Date().toISOString(), by: 'cli' }),
        );
        io.out(
          `cancellation requested for flow run ${file} in ${store.location}; the workflow stops it at its next check`,
        );
        return 0;
      }
      case 'blocks':
        return await blocksCommand(rest, flags, io, seen);
      case 'work-pools':
        return await workPoolsCommand(rest, flags, io, seen);
      case 'serve':
        return await (await import('./serve.js')).serveCommand(flags, io);
      default:
        throw usageError(`unknown command '${command}'`);
    }
  } catch (error) {
    const message = (text: string) => scrub(text, seen.secrets);
    if (error instanceof InvalidInputError) {
      io.err(message(error.message));
      return 2;
    }
    if (error instanceof SubmitterError) {
      io.err(message(`${error.name}: ${error.message}`));
      return error.name === 'BlockNotFoundError' ? 2 : 1;
    }
    if (error instanceof TypeError && (error as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
      io.err(`${error.message} (see 'submitter --help')`);
      return 2;
    }
    io.err(message(`internal error: ${error instanceof Error ? error.message : String(error)}`));
    if (flagsVerbose(argv) && error instanceof Error && error.stack) io.err(message(error.stack));
    return 1;
  }
}

function flagsVerbose(argv: string[]): boolean {
  return argv.includes('--verbose') || argv.includes('-v');
}
