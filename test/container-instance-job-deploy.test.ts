// The container-instance-job function as deployed: its bundle (built with the CDK app's esbuild
// settings) holds its own provider and the Azure SDK only, without the default credential chain;
// in the stack it gets the service principal's secret by reference, readable by its role only,
// and a sovereign cloud's endpoints when the deployment names them.
import assert from 'node:assert/strict';
import { readFile, stat } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { describe, it } from 'node:test';
import { build } from 'esbuild';
import { familyOf, packageOf } from '../bench/lib/packages.js';
import { esbuildOptions, providerFunction } from '../infra-cdk/bundling.js';
import { ROOT, tempDir } from './helpers.js';
import {
  ACCOUNT,
  grantsNoEcs,
  providerFunctionIn,
  REGION,
  readsOnlySecret,
  synthesize,
  testConfig,
} from './support/cdk.js';

const SECRET = `arn:aws:secretsmanager:${REGION}:${ACCOUNT}:secret:azure-sp-AbC123`;

describe('the container-instance-job function', () => {
  it('bundles its own provider and the Azure SDK, and no other provider’s; the default credential chain stays out', async () => {
    const file = join(await tempDir('submitter-aci-bundle-'), 'infra-container-instance-job.mjs');
    const { metafile } = await build(esbuildOptions(ROOT, providerFunction('container-instance-job'), file));
    const output = metafile.outputs[relative(ROOT, file).replace(/\\/g, '/')];
    const inputs = Object.entries(output?.inputs ?? {})
      .filter(([, input]) => input.bytesInOutput > 0)
      .map(([path]) => path);
    const providers = inputs.filter((path) => /^providers\/[^/]+\/index\.ts$/.test(path));
    assert.deepEqual(providers, ['providers/container-instance-job/index.ts']);
    const families = new Set(inputs.map((path) => familyOf(packageOf(path) ?? '')).filter(Boolean));
    families.delete('aws-platform');
    assert.deepEqual([...families], ['azure']);
    // only the loggers of the other credentials remain (tiny module bodies), not their code
    const text = await readFile(file, 'utf8');
    for (const code of ['class DefaultAzureCredential', 'get-access-token', 'class AzureCliCredential'])
      assert.ok(!text.includes(code), `the bundle holds ${code}`);
    // the figure, for the record (the bench's target is 1 MB; docs/providers.md says where it stands)
    const { size } = await stat(file);
    assert.ok(size < 1_600_000, `bundle ${size} bytes`);
  });

  it('gets the credentials secret and the sovereign cloud by reference and may read that secret only', async () => {
    const config = {
      ...testConfig(['process', 'container-instance-job']),
      azure: {
        credentialsSecretArn: SECRET,
        resourceManagerEndpoint: 'https://management.chinacloudapi.cn',
        authorityHost: 'https://login.chinacloudapi.cn',
      },
    };
    const { json } = await synthesize(config, { bundle: false, validate: false });
    const description = providerFunction('container-instance-job').description;
    const fn = providerFunctionIn(json.Resources, description);
    assert.ok(fn, 'a container-instance-job function');
    const { environment, statements } = fn;
    assert.equal(environment.AZURE_CREDENTIALS_SECRET_ARN, SECRET);
    assert.equal(environment.AZURE_RESOURCE_MANAGER_ENDPOINT, 'https://management.chinacloudapi.cn');
    assert.equal(environment.AZURE_AUTHORITY_HOST, 'https://login.chinacloudapi.cn');
    assert.equal(environment.AZURE_RESOURCE_MANAGER_AUDIENCE, undefined);
    assert.ok(readsOnlySecret(statements, SECRET), JSON.stringify(statements));
    assert.ok(grantsNoEcs(statements), 'no ECS permissions');
  });

  it('a deployment without the azure section, or with an http endpoint, is refused with what to put there', async () => {
    await assert.rejects(
      synthesize(testConfig(['process', 'container-instance-job']), { bundle: false, validate: false }),
      /azure.*required when 'container-instance-job' is enabled/s,
    );
    await assert.rejects(
      synthesize(
        {
          ...testConfig(['process', 'container-instance-job']),
          azure: { credentialsSecretArn: SECRET, resourceManagerEndpoint: 'http://management.example' },
        },
        { bundle: false, validate: false },
      ),
      /azure\.resourceManagerEndpoint/,
    );
  });
});
