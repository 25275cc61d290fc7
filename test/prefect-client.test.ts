// The Prefect API client and its configuration: auth headers, the setting named on 401,
// profiles.toml, Prefect Cloud UI links, and the key going to ECS by reference only.
import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { unwrap } from '../events/envelopes.js';
import { loadRun } from '../functions/lib/context.js';
import { accept } from '../functions/lib/intake.js';
import { prefectApi } from '../functions/lib/prefect/client.js';
import { prefectConfig } from '../functions/lib/prefect/config.js';
import { profileSettings } from '../functions/lib/prefect/profiles.js';
import { flowRunUiUrl } from '../functions/lib/prefect/urls.js';
import { prefectFromEnv } from '../functions/lib/prefect-from-env.js';
import { sample, tempDir, testDeps } from './helpers.js';
import { type PrefectFake, startPrefectFake } from './support/prefect-fake.js';

describe('Prefect API client', () => {
  let fake: PrefectFake;
  before(async () => {
    fake = await startPrefectFake({ authorization: `Basic ${Buffer.from('admin:pass').toString('base64')}` });
  });
  after(() => fake.close());

  it('PREFECT_API_AUTH_STRING is sent as Basic; a wrong credential names the setting to fix, not its value', async () => {
    const run = fake.addFlowRun();
    const ok = prefectFromEnv({ PREFECT_API_URL: fake.apiUrl, PREFECT_API_AUTH_STRING: 'admin:pass' });
    assert.equal((await ok?.readFlowRun(run.id))?.id, run.id);
    const bad = prefectFromEnv({ PREFECT_API_URL: fake.apiUrl, PREFECT_API_KEY: 'pnu_wrong_secret' });
    await assert.rejects(bad?.readFlowRun(run.id) ?? Promise.reject(), (error: Error) => {
      assert.match(error.message, /HTTP 401\): fix PREFECT_API_KEY/);
      assert.equal(error.message.includes('pnu_wrong_secret'), false);
      return true;
    });
  });

  it('a deleted flow run reads as undefined; 503 is tried again, Retry-After honoured', async () => {
    const api = prefectFromEnv({ PREFECT_API_URL: fake.apiUrl, PREFECT_API_AUTH_STRING: 'admin:pass' });
    assert.equal(await api?.readFlowRun('00000000-0000-4000-8000-000000000000'), undefined);
    const run = fake.addFlowRun();
    fake.http.inject({ route: 'GET /api/flow_runs/:id', status: 503, retryAfter: 0, times: 2 });
    assert.equal((await api?.readFlowRun(run.id))?.id, run.id);
  });

  it('reads the active profile of PREFECT_HOME/profiles.toml', async () => {
    const home = await tempDir();
    await mkdir(home, { recursive: true });
    await writeFile(
      join(home, 'profiles.toml'),
      `active = "cloud"\n[profiles.local]\nPREFECT_API_URL = "http://x/api"\n[profiles.cloud]\nPREFECT_API_URL = "${fake.apiUrl}"\nPREFECT_API_AUTH_STRING = "admin:pass"\n`,
    );
    const config = prefectConfig(
      { PREFECT_HOME: home },
      { profile: profileSettings({ PREFECT_HOME: home }) },
    );
    assert.equal(config?.apiUrl, fake.apiUrl);
    assert.equal(config?.credentialSetting, 'PREFECT_API_AUTH_STRING');
    assert.equal(prefectConfig({ PREFECT_HOME: home }), undefined, 'deployed functions read only their env');
    const run = fake.addFlowRun();
    assert.equal((await prefectApi(config ?? assert.fail()).readFlowRun(run.id))?.id, run.id);
  });

  it('links to the flow run in the UI, Prefect Cloud included', () => {
    assert.equal(
      flowRunUiUrl('https://api.prefect.cloud/api/accounts/A1/workspaces/W1', 'r1'),
      'https://app.prefect.cloud/account/A1/workspace/W1/runs/flow-run/r1',
    );
    assert.equal(flowRunUiUrl('http://127.0.0.1:4200/api/', 'r1'), 'http://127.0.0.1:4200/runs/flow-run/r1');
  });

  it('ECS gets PREFECT_API_URL and the key as a container secret reference, never its value', async () => {
    const arn = 'arn:aws:secretsmanager:us-east-1:123456789012:secret:prefect-key-AbCdEf';
    const { deps: base } = await testDeps();
    const prefect = prefectFromEnv(
      { PREFECT_API_URL: fake.apiUrl, PREFECT_API_KEY_SECRET_ARN: arn },
      { secrets: { read: async () => 'pnu_never_in_the_request' } },
    );
    assert.ok(prefect);
    const deps = { ...base, prefect };
    const event = await sample('ecs-task.json');
    // the sample names its own key secret (a block's own reference wins): without it, ours is used
    const infrastructure = event.infrastructure as { secrets: Record<string, string> };
    delete infrastructure.secrets.PREFECT_API_KEY;
    const accepted = await accept(deps, unwrap(event));
    const run = await loadRun(deps, accepted.input.event_ref);
    const spec = await deps.loadSpec('ecs-task');
    const request = JSON.stringify(spec.build(run));
    assert.ok(
      request.includes(JSON.stringify({ name: 'PREFECT_API_KEY', valueFrom: arn })),
      request.slice(0, 400),
    );
    assert.ok(request.includes(fake.apiUrl), 'PREFECT_API_URL');
    assert.equal(request.includes('pnu_never_in_the_request'), false);
  });
});
