// The cloud-run-job function in the CDK app: the service-account key's secret given by
// reference (environment) and readable by its role only, another API endpoint when configured,
// nothing else of AWS.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { providerFunction } from '../infra-cdk/bundling.js';
import {
  ACCOUNT,
  grantsNoEcs,
  providerFunctionIn,
  REGION,
  readsOnlySecret,
  synthesize,
  testConfig,
} from './support/cdk.js';

const SECRET = `arn:aws:secretsmanager:${REGION}:${ACCOUNT}:secret:google-key-AbC123`;

describe('the cloud-run-job function in the stack', () => {
  it('gets the key secret by reference (and the endpoint), and may read that secret only', async () => {
    const config = {
      ...testConfig(['process', 'cloud-run-job']),
      google: { credentialsSecretArn: SECRET, apiEndpoint: 'https://europe-west1-run.googleapis.com' },
    };
    const { json } = await synthesize(config, { bundle: false, validate: false });
    const description = providerFunction('cloud-run-job').description;
    const fn = providerFunctionIn(json.Resources, description);
    assert.ok(fn, 'a cloud-run-job function');
    const { environment, statements } = fn;
    assert.equal(environment.GOOGLE_CREDENTIALS_SECRET_ARN, SECRET);
    assert.equal(environment.CLOUD_RUN_API_ENDPOINT, 'https://europe-west1-run.googleapis.com');
    assert.ok(readsOnlySecret(statements, SECRET), JSON.stringify(statements));
    assert.ok(grantsNoEcs(statements), 'no ECS permissions');
  });

  it('a deployment without the google section, or with an endpoint that is not a URL, is refused', async () => {
    await assert.rejects(
      synthesize(testConfig(['process', 'cloud-run-job']), { bundle: false, validate: false }),
      /google.*required when 'cloud-run-job' is enabled/s,
    );
    await assert.rejects(
      synthesize(
        {
          ...testConfig(['process', 'cloud-run-job']),
          google: { credentialsSecretArn: SECRET, apiEndpoint: 'run.googleapis.com' },
        },
        { bundle: false, validate: false },
      ),
      /apiEndpoint/,
    );
  });
});
