// The kubernetes-job function in the CDK app: its entry bundled, the deployment's kubeconfig
// secret given by reference (environment) and readable by its role only, nothing else of AWS.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { providerFunction } from '../infra-cdk/bundling.js';
import { ACCOUNT, props, REGION, resourcesOfType, synthesize, testConfig } from './support/cdk.js';

const SECRET = `arn:aws:secretsmanager:${REGION}:${ACCOUNT}:secret:kubeconfig-AbC123`;

describe('the kubernetes-job function in the stack', () => {
  it('gets the kubeconfig secret by reference and may read that secret', async () => {
    const config = {
      ...testConfig(['process', 'kubernetes-job']),
      kubernetes: { kubeconfigSecretArn: SECRET },
    };
    const { json } = await synthesize(config, { bundle: false, validate: false });
    const description = providerFunction('kubernetes-job').description;
    const fn = resourcesOfType(json.Resources, 'AWS::Lambda::Function').find(
      ([, resource]) => props<{ Description?: string }>(resource).Description === description,
    );
    assert.ok(fn, 'a kubernetes-job function');
    const { Environment, Role } = props<{
      Environment: { Variables: Record<string, unknown> };
      Role: { 'Fn::GetAtt': [string, string] };
    }>(fn[1]);
    assert.equal(Environment.Variables.KUBERNETES_KUBECONFIG_SECRET_ARN, SECRET);
    assert.equal(Environment.Variables.KUBERNETES_ALLOW_INSECURE_TLS, undefined);
    const role = Role['Fn::GetAtt'][0];
    const statements = resourcesOfType(json.Resources, 'AWS::IAM::Policy')
      .map(([, policy]) =>
        props<{
          Roles: { Ref: string }[];
          PolicyDocument: { Statement: { Action: unknown; Resource: unknown }[] };
        }>(policy),
      )
      .filter((policy) => policy.Roles.some((r) => r.Ref === role))
      .flatMap((policy) => policy.PolicyDocument.Statement);
    const reads = statements.filter((s) => [s.Action].flat().includes('secretsmanager:GetSecretValue'));
    assert.ok(
      reads.some((s) => JSON.stringify(s.Resource).includes(SECRET)),
      JSON.stringify(statements),
    );
    assert.ok(
      statements.every((s) => [s.Action].flat().every((a) => typeof a === 'string' && !a.startsWith('ecs:'))),
      'no ECS permissions',
    );
  });

  it('a deployment without the kubernetes section is refused with what to put there', async () => {
    await assert.rejects(
      synthesize(testConfig(['process', 'kubernetes-job']), { bundle: false, validate: false }),
      /kubernetes.*required when 'kubernetes-job' is enabled/s,
    );
  });
});
