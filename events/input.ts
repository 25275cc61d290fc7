// Reading what a user hands the CLI: a flow-run event in any envelope, a bare block
// document, a Prefect 2 deployment YAML or a Prefect 3 prefect.yaml — JSON or YAML.

import { randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import * as z from 'zod';
import { InvalidInputError } from '../core/errors.js';
import { parseJsonText, parseYamlText } from '../core/input-guard.js';
import { problemsFrom } from '../core/zod-problems.js';
import { type Unwrapped, unwrap } from './envelopes.js';
import { ignoredPrefect2Keys, isPrefectYaml, type PrefectProject, readProject } from './prefect-yaml.js';
import type { FlowRunEventInput } from './schema.js';

export type InputDocument =
  | { kind: 'event'; unwrapped: Unwrapped }
  | { kind: 'block'; block: Record<string, unknown> }
  | { kind: 'deployment'; deployment: Deployment; ignored: string[] }
  | { kind: 'project'; project: PrefectProject };

/**
 * The part of a Prefect 2 deployment YAML that matters here; the rest is accepted and listed
 * as ignored by `validate` (ignoredPrefect2Keys).
 */
export const DeploymentSchema = z.looseObject({
  name: z.string().min(1).optional(),
  flow_name: z.string().min(1).optional(),
  parameters: z.record(z.string(), z.unknown()).nullable().default({}),
  tags: z.array(z.string()).nullable().default([]),
  infra_overrides: z.record(z.string(), z.unknown()).nullable().default({}),
  infrastructure: z.looseObject(
    { type: z.string() },
    { message: "required: the deployment's infrastructure block" },
  ),
});
export type Deployment = z.infer<typeof DeploymentSchema>;

export async function readDocumentFile(path: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new InvalidInputError(`Cannot read ${path}`, [
      {
        path,
        message: code === 'ENOENT' ? 'no such file' : `${code ?? 'error'}: ${(error as Error).message}`,
      },
    ]);
  }
  const what = `Invalid input in ${path}`;
  return path.endsWith('.json') ? parseJsonText(text, what, path) : parseYamlText(text, what, path);
}

export function classify(doc: unknown): InputDocument {
  if (typeof doc === 'object' && doc !== null && !Array.isArray(doc)) {
    const record = doc as Record<string, unknown>;
    if ('type' in record && !('flow_run' in record) && !('detail' in record))
      return { kind: 'block', block: record };
    if ('infrastructure' in record && !('flow_run' in record) && !('deployment' in record)) {
      const parsed = DeploymentSchema.safeParse(record);
      if (!parsed.success) throw new InvalidInputError('Invalid deployment YAML', problemsFrom(parsed.error));
      return { kind: 'deployment', deployment: parsed.data, ignored: ignoredPrefect2Keys(record) };
    }
    if (isPrefectYaml(record)) return { kind: 'project', project: readProject(record) };
  }
  return { kind: 'event', unwrapped: unwrap(doc) };
}

export interface FlowRunIdentity {
  id?: string;
  name?: string;
}

/** A deployment YAML run once: a flow-run event on its infrastructure, with its overrides. */
export function deploymentToEvent(deployment: Deployment, flowRun: FlowRunIdentity = {}): FlowRunEventInput {
  return {
    flow_run: {
      id: flowRun.id ?? randomUUID(),
      name: flowRun.name ?? `${deployment.name ?? 'deployment'}-run`,
      ...(deployment.flow_name ? { flow_name: deployment.flow_name } : {}),
      ...(deployment.name ? { deployment_name: deployment.name } : {}),
      parameters: deployment.parameters ?? {},
      tags: deployment.tags ?? [],
    },
    infrastructure: deployment.infrastructure,
    infra_overrides: deployment.infra_overrides ?? {},
  };
}
