import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createLogger } from '../core/logger.js';
import { collectSecretValues, isSecretEnvName, REDACTED, redact, scrub } from '../core/secrets.js';

const CANARY = 'canary-7f3a9d';

describe('secrets', () => {
  it('recognises secret-looking env names', () => {
    for (const name of [
      'AWS_SECRET_ACCESS_KEY',
      'API_KEY',
      'DB_PASSWORD',
      'PASSWORD_FILE',
      'GITHUB_TOKEN',
      'PREFECT_API_KEY',
      'client_secret',
    ]) {
      assert.equal(isSecretEnvName(name), true, name);
    }
    for (const name of ['PATH', 'EXTRA_PIP_PACKAGES', 'PREFECT_API_URL', 'KEYBOARD'])
      assert.equal(isSecretEnvName(name), false, name);
  });

  it('redacts credential fields, secret env maps, name/value env lists and Docker Env strings', () => {
    const doc = {
      aws_credentials: { aws_access_key_id: 'AKIA', aws_secret_access_key: CANARY },
      aci_credentials: { client_secret: CANARY },
      subscription_id: CANARY,
      image_registry: { username: 'u', password: CANARY },
      cluster_config: { config: { users: [{ user: { token: CANARY } }] } },
      env: { PREFECT_API_KEY: CANARY, MY_TOKEN: CANARY, SAFE: 'visible' },
      containerOverrides: [
        {
          environment: [
            { name: 'DB_PASSWORD', value: CANARY },
            { name: 'MODE', value: 'x' },
          ],
        },
      ],
      Env: [`API_KEY=${CANARY}`, 'MODE=x'],
      secrets: [{ name: 'DB_PASSWORD', valueFrom: 'arn:aws:secretsmanager:us-east-1:1:secret:db' }],
    };
    const out = redact(doc);
    assert.equal(JSON.stringify(out).includes(CANARY), false, JSON.stringify(out));
    assert.equal(out.env.SAFE, 'visible');
    assert.equal(out.env.PREFECT_API_KEY, REDACTED);
    assert.deepEqual(out.Env, [`API_KEY=${REDACTED}`, 'MODE=x']);
    assert.equal(
      out.secrets[0]?.valueFrom,
      'arn:aws:secretsmanager:us-east-1:1:secret:db',
      'references stay readable',
    );
    assert.equal(doc.env.PREFECT_API_KEY, CANARY, 'the original is untouched');
  });

  it('scrubs known secret values from free text, and the logger does both', () => {
    const secrets = collectSecretValues({ env: { API_TOKEN: CANARY } });
    assert.deepEqual(secrets, [CANARY]);
    assert.equal(scrub(`the token ${CANARY} leaked`, secrets), `the token ${REDACTED} leaked`);
    const lines: string[] = [];
    const log = createLogger({ level: 'debug', write: (line) => lines.push(line) }).withSecrets(secrets);
    log.info(`printing ${CANARY}`, { block: { env: { OTHER_SECRET: 'other-canary' } } });
    assert.equal(lines.length, 1);
    assert.equal(lines[0]?.includes(CANARY), false);
    assert.equal(lines[0]?.includes('other-canary'), false);
  });
});
