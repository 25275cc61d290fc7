// The kubernetes-job function in the CDK app: its entry bundled, the deployment's kubeconfig
// secret given by reference (environment) and readable by its role only, nothing else of AWS.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { providerFunction } from '../infra-cdk/bundling.js';
import {
  ACCOUNT,
  grantsNoEcs,
  providerFunctionIn,
  REGION,
  secretReads,
  synthesize,
  testConfig,
} from './support/cdk.js';

const SECRET = `arn:aws:secretsmanager:${REGION}:${ACCOUNT}:secret:kubeconfig-AbC123`;

describe('the kubernetes-job function in the stack', () => {
  it('gets the kubeconfig secret by reference and may read that secret', async () => {
    const config = {
      ...testConfig(['process', 'kubernetes-job']),
      kubernetes: { kubeconfigSecretArn: SECRET },
    };
    const { json } = await synthesize(config, { bundle: false, validate: false });
    const description = providerFunction('kubernetes-job').description;
    const fn = providerFunctionIn(json.Resources, description);
    assert.ok(fn, 'a kubernetes-job function');
    const { environment, statements } = fn;
    assert.equal(environment.KUBERNETES_KUBECONFIG_SECRET_ARN, SECRET);
    assert.equal(environment.KUBERNETES_ALLOW_INSECURE_TLS, undefined);
    const reads = secretReads(statements);
    assert.ok(
      reads.some((s) => JSON.stringify(s.Resource).includes(SECRET)),
      JSON.stringify(statements),
    );
    assert.ok(grantsNoEcs(statements), 'no ECS permissions');
  });

  it('a deployment without the kubernetes section is refused with what to put there', async () => {
    await assert.rejects(
      synthesize(testConfig(['process', 'kubernetes-job']), { bundle: false, validate: false }),
      /kubernetes.*required when 'kubernetes-job' is enabled/s,
    );
  });
});
