// docker-container's connection and wire helpers: DOCKER_HOST forms, mutual-TLS material from
// DOCKER_CERT_PATH or the deployment's secret, the logs stream demultiplexed, the manifest's
// environment and IAM (the TLS secret only).
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import {
  connectionFromEnv,
  demultiplex,
  EngineConfigError,
  parseDockerHost,
} from '../providers/docker-container/engine.js';
import { DOCKER_CONFIG, dockerContainerManifest } from '../providers/docker-container/manifest.js';
import { tempDir } from './helpers.js';

const PEM = {
  ca: '-----BEGIN CERTIFICATE-----\nca\n-----END CERTIFICATE-----\n',
  cert: '-----BEGIN CERTIFICATE-----\nclient\n-----END CERTIFICATE-----\n',
  key: '-----BEGIN PRIVATE KEY-----\nkey\n-----END PRIVATE KEY-----\n',
};
const ARN = 'arn:aws:secretsmanager:us-east-1:123456789012:secret:docker-tls-AbC123';

function frame(stream: 1 | 2, text: string): Buffer {
  const payload = Buffer.from(text);
  const header = Buffer.alloc(8);
  header[0] = stream;
  header.writeUInt32BE(payload.length, 4);
  return Buffer.concat([header, payload]);
}

describe('docker-container connection', () => {
  it('reads DOCKER_HOST as Docker does, and refuses what it cannot speak by name', () => {
    assert.deepEqual(parseDockerHost('unix:///var/run/docker.sock'), {
      kind: 'unix',
      socketPath: '/var/run/docker.sock',
      label: 'unix:///var/run/docker.sock',
    });
    assert.deepEqual(parseDockerHost('tcp://10.0.0.5:2376'), {
      kind: 'tcp',
      host: '10.0.0.5',
      port: 2376,
      label: 'tcp://10.0.0.5:2376',
    });
    assert.throws(
      () => parseDockerHost('ssh://me@host'),
      (e) => e instanceof EngineConfigError && /ssh/.test(e.message),
    );
    assert.throws(() => parseDockerHost('not a host'), /DOCKER_HOST='not a host'/);
  });

  it('takes the PEMs from DOCKER_CERT_PATH with DOCKER_TLS_VERIFY, and names a missing file', async () => {
    const dir = await tempDir('submitter-certs-');
    await writeFile(join(dir, 'ca.pem'), PEM.ca);
    await writeFile(join(dir, 'cert.pem'), PEM.cert);
    const env = { DOCKER_HOST: 'tcp://127.0.0.1:2376', DOCKER_TLS_VERIFY: '1', DOCKER_CERT_PATH: dir };
    await assert.rejects(
      connectionFromEnv(env),
      (e) => e instanceof EngineConfigError && e.message.includes('key.pem'),
    );
    await writeFile(join(dir, 'key.pem'), PEM.key);
    assert.deepEqual((await connectionFromEnv(env)).tls, PEM);
    assert.equal((await connectionFromEnv({ DOCKER_HOST: 'tcp://127.0.0.1:2375' })).tls, undefined);
  });

  it('takes the PEMs from the deployment’s secret, and says what the secret must hold', async () => {
    const reads: string[] = [];
    const reader = (value: string) => ({
      read: async (arn: string) => {
        reads.push(arn);
        return value;
      },
    });
    const env = { DOCKER_HOST: 'tcp://10.0.0.5:2376', DOCKER_TLS_SECRET_ARN: ARN };
    assert.deepEqual((await connectionFromEnv(env, reader(JSON.stringify(PEM)))).tls, PEM);
    assert.deepEqual(reads, [ARN]);
    await assert.rejects(
      connectionFromEnv(env, reader(JSON.stringify({ ca: PEM.ca }))),
      (e) => e instanceof EngineConfigError && e.message.includes(ARN) && /cert/.test(e.message),
    );
  });

  it('demultiplexes the logs stream in order; a TTY stream is taken as it is', () => {
    const stream = Buffer.concat([frame(1, 'out 1\n'), frame(2, 'err 1\n'), frame(1, 'out 2\n')]);
    assert.equal(demultiplex(stream), 'out 1\nerr 1\nout 2\n');
    assert.equal(demultiplex(Buffer.from('plain tty output\n')), 'plain tty output\n');
  });
});

describe('docker-container manifest', () => {
  it('gives the function DOCKER_HOST and the secret reference, and may read only that secret', () => {
    const config = DOCKER_CONFIG.schema.parse({ host: 'tcp://10.0.1.5:2376', tlsSecretArn: ARN });
    const arn = () => 'unused';
    assert.deepEqual(dockerContainerManifest.environment(config, arn), {
      DOCKER_HOST: 'tcp://10.0.1.5:2376',
      DOCKER_TLS_SECRET_ARN: ARN,
    });
    const statements = dockerContainerManifest.statements(config, arn);
    assert.deepEqual(
      statements.map((s) => [s.actions, s.resources]),
      [[['secretsmanager:GetSecretValue'], [ARN, `${ARN}-??????`]]],
    );
    assert.deepEqual(
      dockerContainerManifest.statements(DOCKER_CONFIG.schema.parse({ host: 'tcp://h:2375' }), arn),
      [],
    );
    assert.equal(DOCKER_CONFIG.schema.safeParse({ host: 'unix:///var/run/docker.sock' }).success, false);
  });
});
