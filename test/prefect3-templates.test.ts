// The default base job templates as data (prefect3/templates/, Prefect ce79dd3) and the
// variables added from the worker classes of the same revision (templates/additions.json).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FolderStore } from '../core/store.js';
import { renderJobConfiguration } from '../prefect3/render.js';
import { defaultTemplate, WORK_POOL_TYPES } from '../prefect3/work-pool.js';
import { BlockStore } from '../providers/block-store.js';
import { tempDir } from './helpers.js';

async function render(type: string, jobVariables: Record<string, unknown>) {
  return renderJobConfiguration(defaultTemplate(type, 'work_pool'), jobVariables, {
    blocks: new BlockStore(new FolderStore(await tempDir())),
    path: 'work_pool',
    ignoreRequired: true,
  });
}

describe('default base job templates', () => {
  it('every type renders with no job variables', async () => {
    for (const type of WORK_POOL_TYPES) {
      const config = await render(type, {});
      assert.ok(Object.keys(config).length > 0, type);
    }
  });

  it("kubernetes: backoffLimit defaults to the worker's 0; annotations only when given", async () => {
    const plain = await render('kubernetes', {});
    const manifest = plain.job_manifest as {
      spec: Record<string, unknown>;
      metadata: Record<string, unknown>;
    };
    assert.equal(manifest.spec.backoffLimit, 0);
    assert.equal('annotations' in manifest.metadata, false);
    const annotated = await render('kubernetes', { annotations: { team: 'data' }, backoff_limit: 3 });
    const m = annotated.job_manifest as { spec: Record<string, unknown>; metadata: Record<string, unknown> };
    assert.deepEqual(m.metadata.annotations, { team: 'data' });
    assert.equal(m.spec.backoffLimit, 3);
    await assert.rejects(render('kubernetes', { backoff_limit: -1 }), /job_variables\.backoff_limit/);
  });

  it('ecs and cloud-run-v2: the API key secret variables of the newer workers are job variables', async () => {
    const arn = 'arn:aws:secretsmanager:us-east-1:123456789012:secret:prefect-key-AbCdEf';
    assert.equal((await render('ecs', { prefect_api_key_secret_arn: arn })).prefect_api_key_secret_arn, arn);
    const v2 = await render('cloud-run-v2', {
      prefect_api_key_secret: { secret: 'prefect-api-key', version: 'latest' },
      cloudsql_instances: ['p:r:i'],
    });
    assert.deepEqual(v2.prefect_api_key_secret, { secret: 'prefect-api-key', version: 'latest' });
    assert.deepEqual(v2.cloudsql_instances, ['p:r:i']);
    await assert.rejects(
      render('cloud-run-v2', { prefect_api_key_secret: { secret: 'x' } }),
      /job_variables\.prefect_api_key_secret/,
    );
  });

  it('azure-container-instance: keep_container_group defaults to false', async () => {
    assert.equal((await render('azure-container-instance', {})).keep_container_group, false);
  });
});
