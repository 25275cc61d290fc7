// The one workflow definition (workflow.asl.json), with its placeholders filled.
// The CDK app fills them with function ARNs; the local runner with local names.
import { readFileSync } from 'node:fs';

export const WORKFLOW_FILE = new URL('./workflow.asl.json', import.meta.url);

export interface WorkflowSubstitutions {
  PrepareFunction: string;
  ReportFunction: string;
}

export function workflowText(): string {
  return readFileSync(WORKFLOW_FILE, 'utf8');
}

export function placeholders(text = workflowText()): string[] {
  return [...new Set([...text.matchAll(/\$\{([A-Za-z0-9_]+)\}/g)].map((m) => m[1] ?? ''))].sort();
}

export function substitute(text: string, values: Record<string, string>): string {
  const out = text.replace(/\$\{([A-Za-z0-9_]+)\}/g, (whole, name: string) => values[name] ?? whole);
  const left = placeholders(out);
  if (left.length) throw new Error(`workflow definition placeholders without a value: ${left.join(', ')}`);
  return out;
}

export function workflowDefinition(values: WorkflowSubstitutions): Record<string, unknown> {
  return JSON.parse(substitute(workflowText(), { ...values })) as Record<string, unknown>;
}
