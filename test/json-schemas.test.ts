import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { jsonSchemas, renderSchema } from '../events/json-schemas.js';
import { ROOT } from './helpers.js';

describe('JSON Schemas of the contracts', () => {
  it('events/schemas/ is what the zod schemas generate (run `npm run schemas` after changing them)', async () => {
    for (const [name, schema] of Object.entries(jsonSchemas())) {
      const committed = await readFile(join(ROOT, 'events', 'schemas', name), 'utf8');
      assert.equal(committed, renderSchema(schema), `${name} is stale`);
    }
  });

  it('describes the event contract users write: fields, required ones, no extra fields', () => {
    const event = jsonSchemas()['flow-run-event.schema.json'] as {
      properties: Record<string, unknown>;
      required: string[];
      additionalProperties: boolean;
    };
    assert.deepEqual(Object.keys(event.properties).sort(), [
      'flow_run',
      'infra_overrides',
      'infrastructure',
      'infrastructure_block',
      'job_variables',
      'timeouts',
      'work_pool',
    ]);
    assert.deepEqual(event.required, ['flow_run']);
    assert.equal(event.additionalProperties, false);
  });
});
