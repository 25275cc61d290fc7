// Certificates for HTTPS fakes, made with openssl in a temporary folder (removed when the
// test process ends). Azure's SDK sends bearer tokens only over https; the Docker provider
// talks mutual TLS (DOCKER_CERT_PATH holds ca.pem, cert.pem and key.pem).
import { execFile } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { tempDir } from '../helpers.js';

const run = promisify(execFile);

async function openssl(dir: string, args: string[]): Promise<void> {
  await run('openssl', args, { cwd: dir });
}

const DAYS = ['-days', '2'];
const KEY = ['-newkey', 'rsa:2048', '-nodes'];

export interface SelfSignedCert {
  /** PEM; also the CA a client must trust. */
  cert: string;
  key: string;
  certPath: string;
  keyPath: string;
}

/** A self-signed server certificate for 127.0.0.1 (SAN IP:127.0.0.1 and DNS:localhost). */
export async function selfSignedCert(): Promise<SelfSignedCert> {
  const dir = await tempDir('submitter-tls-');
  const certPath = join(dir, 'cert.pem');
  const keyPath = join(dir, 'key.pem');
  await openssl(dir, [
    'req',
    '-x509',
    ...KEY,
    '-keyout',
    keyPath,
    '-out',
    certPath,
    ...DAYS,
    '-subj',
    '/CN=127.0.0.1',
    '-addext',
    'subjectAltName=IP:127.0.0.1,DNS:localhost',
  ]);
  return { cert: await readFile(certPath, 'utf8'), key: await readFile(keyPath, 'utf8'), certPath, keyPath };
}

export interface MutualTlsMaterial {
  /** The folder, laid out like DOCKER_CERT_PATH: ca.pem, cert.pem, key.pem (the client's). */
  dir: string;
  /** PEM texts. `ca` signs both the server's and the client's certificates. */
  ca: string;
  client: { cert: string; key: string };
  server: { cert: string; key: string };
}

/** Signs `name`'s key with the CA: a certificate with the given extensions. */
async function signed(dir: string, name: string, subject: string, extensions: string): Promise<void> {
  await openssl(dir, ['req', ...KEY, '-keyout', `${name}-key.pem`, '-out', `${name}.csr`, '-subj', subject]);
  await writeFile(join(dir, `${name}.ext`), extensions);
  await openssl(dir, [
    'x509',
    '-req',
    '-in',
    `${name}.csr`,
    '-CA',
    'ca.pem',
    '-CAkey',
    'ca-key.pem',
    '-CAcreateserial',
    '-out',
    `${name}-cert.pem`,
    ...DAYS,
    '-extfile',
    `${name}.ext`,
  ]);
}

/**
 * A CA, a server certificate for 127.0.0.1 and a client certificate, all signed by the CA, in
 * `dir`: `ca.pem`, `cert.pem` and `key.pem` for the client (Docker's layout), and
 * `server-cert.pem`, `server-key.pem` for the fake (`tls: {...server, ca, requestCert: true}`).
 */
export async function mutualTlsMaterial(dir: string): Promise<MutualTlsMaterial> {
  await openssl(dir, [
    'req',
    '-x509',
    ...KEY,
    '-keyout',
    'ca-key.pem',
    '-out',
    'ca.pem',
    ...DAYS,
    '-subj',
    '/CN=submitter test CA',
    '-addext',
    'basicConstraints=critical,CA:TRUE',
    '-addext',
    'keyUsage=critical,keyCertSign,cRLSign',
  ]);
  await signed(
    dir,
    'server',
    '/CN=127.0.0.1',
    'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n',
  );
  await signed(dir, 'client', '/CN=submitter test client', 'extendedKeyUsage=clientAuth\n');
  // the client's pair under the names Docker's clients look for
  await writeFile(join(dir, 'cert.pem'), await readFile(join(dir, 'client-cert.pem')));
  await writeFile(join(dir, 'key.pem'), await readFile(join(dir, 'client-key.pem')));
  const text = (name: string) => readFile(join(dir, name), 'utf8');
  return {
    dir,
    ca: await text('ca.pem'),
    client: { cert: await text('cert.pem'), key: await text('key.pem') },
    server: { cert: await text('server-cert.pem'), key: await text('server-key.pem') },
  };
}
