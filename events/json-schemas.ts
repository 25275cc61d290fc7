// JSON Schema (draft 2020-12) of the contracts, generated from the zod schemas, for people
// writing events outside TypeScript (editors, other languages). `npm run schemas` rewrites
// events/schemas/; a test fails when they are stale.
import { writeFile } from 'node:fs/promises';
import * as z from 'zod';
import { BLOCK_SCHEMAS } from '../providers/blocks.js';
import { CronInputSchema } from './envelopes.js';
import { FlowRunEventSchema } from './schema.js';

export function jsonSchemas(): Record<string, unknown> {
  const out: Record<string, unknown> = {
    'flow-run-event.schema.json': z.toJSONSchema(FlowRunEventSchema, { io: 'input' }),
    'cron-input.schema.json': z.toJSONSchema(CronInputSchema, { io: 'input' }),
  };
  for (const [type, schema] of Object.entries(BLOCK_SCHEMAS)) {
    // transforms (e.g. numbers accepted for env values) are described by their input side
    out[`block-${type}.schema.json`] = z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' });
  }
  return out;
}

export function renderSchema(schema: unknown): string {
  return `${JSON.stringify(schema, null, 2)}\n`;
}

if (process.argv[1] && import.meta.url.endsWith(process.argv[1].split('/').pop() ?? '')) {
  const dir = new URL('./schemas/', import.meta.url);
  for (const [name, schema] of Object.entries(jsonSchemas())) {
    await writeFile(new URL(name, dir), renderSchema(schema));
    console.log(`wrote events/schemas/${name}`);
  }
}
