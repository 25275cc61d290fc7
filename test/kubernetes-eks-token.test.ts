// The EKS token made in-process, checked against an independent SigV4 implementation
// (@smithy/signature-v4, what the AWS SDK signs with) on the same inputs, and against the
// format `aws eks get-token` prints (k8s-aws-v1. + unpadded base64url of the presigned URL).
import assert from 'node:assert/strict';
import { createHash, createHmac, type Hash, type Hmac } from 'node:crypto';
import { describe, it } from 'node:test';
import { SignatureV4 } from '@smithy/signature-v4';
import { FolderStore } from '../core/store.js';
import { parseBlock } from '../providers/blocks.js';
import {
  EKS_TOKEN_PREFIX,
  eksToken,
  eksTokenSource,
  presignedCallerIdentityUrl,
} from '../providers/kubernetes-job/eks.js';
import { createKubernetesJobProvider } from '../providers/kubernetes-job/index.js';
import { tempDir } from './helpers.js';
import { startKubeFake, steps } from './support/kube-fake.js';
import { selfSignedCert } from './support/tls.js';

const CREDENTIALS = {
  accessKeyId: 'AKIDEXAMPLE',
  secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY',
  sessionToken: 'session/token+with=odd&chars',
};
const NOW = new Date('2024-05-06T07:08:09.123Z');

type SourceData = string | ArrayBuffer | ArrayBufferView;
const bytes = (data: SourceData): string | Uint8Array =>
  typeof data === 'string'
    ? data
    : data instanceof ArrayBuffer
      ? new Uint8Array(data)
      : new Uint8Array(data.buffer, data.byteOffset, data.byteLength);

/** The SDK's Checksum interface over node:crypto. */
class NodeSha256 {
  private hash: Hash | Hmac;
  constructor(secret?: SourceData) {
    this.hash = secret ? createHmac('sha256', bytes(secret)) : createHash('sha256');
  }
  update(data: SourceData): void {
    this.hash.update(bytes(data));
  }
  async digest(): Promise<Uint8Array> {
    return new Uint8Array(this.hash.digest());
  }
  reset(): void {}
}

/** The URL the AWS SDK's signer presigns for the same request. */
async function smithyPresigned(
  clusterName: string,
  region: string,
  sessionToken = true,
  signingDate = NOW,
): Promise<URL> {
  const signer = new SignatureV4({
    credentials: sessionToken
      ? CREDENTIALS
      : { accessKeyId: CREDENTIALS.accessKeyId, secretAccessKey: CREDENTIALS.secretAccessKey },
    region,
    service: 'sts',
    sha256: NodeSha256,
    uriEscapePath: true,
  });
  const hostname = `sts.${region}.amazonaws.com`;
  const signed = await signer.presign(
    {
      method: 'GET',
      protocol: 'https:',
      hostname,
      path: '/',
      query: { Action: 'GetCallerIdentity', Version: '2011-06-15' },
      headers: { host: hostname, 'x-k8s-aws-id': clusterName },
    },
    { expiresIn: 60, signingDate },
  );
  const url = new URL(`https://${hostname}/`);
  for (const [key, value] of Object.entries(signed.query ?? {})) url.searchParams.set(key, String(value));
  return url;
}

describe('the EKS token', () => {
  it('is the presigned GetCallerIdentity URL the AWS SDK signer makes, signature included', async () => {
    for (const [cluster, region, session] of [
      ['flows', 'eu-west-1', true],
      ['prod-cluster', 'us-east-1', false],
    ] as const) {
      const ours = new URL(
        presignedCallerIdentityUrl({
          clusterName: cluster,
          region,
          credentials: session
            ? CREDENTIALS
            : { accessKeyId: CREDENTIALS.accessKeyId, secretAccessKey: CREDENTIALS.secretAccessKey },
          now: NOW,
        }),
      );
      const theirs = await smithyPresigned(cluster, region, session);
      assert.equal(ours.host, `sts.${region}.amazonaws.com`);
      assert.deepEqual(
        Object.fromEntries([...ours.searchParams].sort()),
        Object.fromEntries([...theirs.searchParams].sort()),
      );
      assert.equal(ours.searchParams.get('X-Amz-SignedHeaders'), 'host;x-k8s-aws-id');
      assert.equal(ours.searchParams.get('X-Amz-Date'), '20240506T070809Z');
      assert.equal(
        ours.searchParams.get('X-Amz-Credential'),
        `AKIDEXAMPLE/20240506/${region}/sts/aws4_request`,
      );
    }
  });

  it("has aws eks get-token's format: k8s-aws-v1. + unpadded base64url of the URL", () => {
    const token = eksToken({ clusterName: 'flows', region: 'eu-west-1', credentials: CREDENTIALS, now: NOW });
    assert.ok(token.startsWith(EKS_TOKEN_PREFIX));
    const encoded = token.slice(EKS_TOKEN_PREFIX.length);
    assert.match(encoded, /^[A-Za-z0-9_-]+$/, 'base64url without padding');
    const url = Buffer.from(encoded, 'base64url').toString('utf8');
    assert.equal(
      url,
      presignedCallerIdentityUrl({
        clusterName: 'flows',
        region: 'eu-west-1',
        credentials: CREDENTIALS,
        now: NOW,
      }),
    );
    assert.match(
      url,
      /^https:\/\/sts\.eu-west-1\.amazonaws\.com\/\?Action=GetCallerIdentity&Version=2011-06-15&X-Amz-Algorithm=AWS4-HMAC-SHA256/,
    );
  });

  it('is made again before EKS stops accepting it (15 min), not on every call', async () => {
    let at = NOW.getTime();
    let asked = 0;
    const source = eksTokenSource(
      'flows',
      'eu-west-1',
      async () => {
        asked += 1;
        return CREDENTIALS;
      },
      () => at,
    );
    const first = await source();
    assert.equal(await source(), first);
    at += 11 * 60_000;
    assert.notEqual(await source(), first);
    assert.equal(asked, 2);
  });
});

/** What EKS's authenticator checks before asking STS: the format, the cluster, and (as STS would) the signature. */
async function stsAccepts(authorization: string | undefined, cluster: string): Promise<boolean> {
  if (!authorization?.startsWith(`Bearer ${EKS_TOKEN_PREFIX}`)) return false;
  const url = new URL(
    Buffer.from(authorization.slice(`Bearer ${EKS_TOKEN_PREFIX}`.length), 'base64url').toString('utf8'),
  );
  const stamp = url.searchParams.get('X-Amz-Date') ?? '';
  const date = new Date(
    `${stamp.slice(0, 4)}-${stamp.slice(4, 6)}-${stamp.slice(6, 8)}T${stamp.slice(9, 11)}:${stamp.slice(11, 13)}:${stamp.slice(13, 15)}Z`,
  );
  const region = url.host.split('.')[1] ?? '';
  const expected = await smithyPresigned(cluster, region, true, date);
  return url.searchParams.get('X-Amz-Signature') === expected.searchParams.get('X-Amz-Signature');
}

describe('an EKS cluster through its kubeconfig (aws eks get-token)', () => {
  it('the provider signs a token from the role credentials; the API server accepts it; another cluster name is refused', async () => {
    const cert = await selfSignedCert();
    const kube = await startKubeFake({
      tls: { cert: cert.cert, key: cert.key },
      authenticate: (authorization) => stsAccepts(authorization, 'flows'),
    });
    kube.state.defaultPlan = [steps.run()];
    try {
      const blockFor = (cluster: string) =>
        parseBlock({
          type: 'kubernetes-job',
          namespace: 'flows',
          cluster_config: {
            context_name: 'eks',
            config: {
              clusters: [
                {
                  name: 'eks',
                  cluster: {
                    server: kube.url,
                    'certificate-authority-data': Buffer.from(cert.cert).toString('base64'),
                  },
                },
              ],
              users: [
                {
                  name: 'eks',
                  user: {
                    exec: {
                      apiVersion: 'client.authentication.k8s.io/v1beta1',
                      command: 'aws',
                      args: [
                        '--region',
                        'eu-west-1',
                        'eks',
                        'get-token',
                        '--cluster-name',
                        cluster,
                        '--output',
                        'json',
                      ],
                    },
                  },
                },
              ],
              contexts: [{ name: 'eks', context: { cluster: 'eks', user: 'eks' } }],
            },
          },
        });
      const provider = createKubernetesJobProvider({
        awsCredentials: async () => CREDENTIALS,
        retry: { baseMs: 1, capMs: 5, attempts: 1 },
      });
      const store = new FolderStore(await tempDir());
      const block = blockFor('flows');
      assert.ok(block.type === 'kubernetes-job');
      const flowRun = {
        id: '7a1c2d3e-4b5a-4c6d-8e7f-0a1b2c3d4e99',
        name: 'eks-run',
        parameters: {},
        tags: [],
      };
      const { handle } = await provider.submit({ block, flowRun }, { store });
      assert.equal((await provider.status({ block, flowRun }, handle)).phase, 'running');
      const other = blockFor('another');
      assert.ok(other.type === 'kubernetes-job');
      await assert.rejects(
        provider.submit(
          { block: other, flowRun: { ...flowRun, id: '7a1c2d3e-4b5a-4c6d-8e7f-0a1b2c3d4e98' } },
          { store },
        ),
        /HTTP 401/,
      );
    } finally {
      await kube.close();
    }
  });
});
