// Real Docker engines for tests: Debian's dockerd started by hand with its own data and exec
// roots, pidfile and socket (no iptables, no bridge), optionally also on TCP (plain, or with
// --tlsverify and certificates from mutualTlsMaterial), stopped by PID. Images are made
// locally: a busybox-static rootfs tarball, `docker import`ed.
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { copyFile, mkdir, mkdtemp, rm, symlink } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { type MutualTlsMaterial, mutualTlsMaterial } from './tls.js';

const run = promisify(execFile);

export const BUSYBOX_IMAGE = 'local/busybox:test';
const BUSYBOX = '/usr/bin/busybox';
const APPLETS = ['sh', 'echo', 'sleep', 'cat', 'head', 'tail', 'env', 'printenv', 'ls', 'true', 'false'];

export interface Dockerd {
  /** DOCKER_HOST for the unix socket. */
  socketHost: string;
  /** `tcp://127.0.0.1:PORT`, when it listens on TCP. */
  tcpHost?: string;
  tls?: MutualTlsMaterial;
  /** Runs the Docker CLI against this engine (TCP with TLS when it has TLS, else the socket). */
  docker(args: string[]): Promise<string>;
  stop(): Promise<void>;
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  const address = server.address();
  await new Promise<void>((done) => server.close(() => done()));
  if (!address || typeof address === 'string') throw new Error('no port');
  return address.port;
}

/** Why dockerd cannot run here, or undefined when it can be tried. */
export async function dockerdMissing(): Promise<string | undefined> {
  try {
    await run('dockerd', ['--version']);
    await run('docker', ['--version']);
    await run(BUSYBOX, ['true']);
  } catch (error) {
    return `dockerd, docker or ${BUSYBOX} is not installed (apt-get install docker.io busybox-static): ${String(error)}`;
  }
  if (process.getuid?.() !== 0) return 'dockerd needs root';
  return undefined;
}

export async function startDockerd(options: { tcp?: 'plain' | 'tls' } = {}): Promise<Dockerd> {
  const dir = await mkdtemp(join(tmpdir(), 'sdk-'));
  const socket = join(dir, 'docker.sock');
  const args = [
    '--data-root',
    join(dir, 'root'),
    '--exec-root',
    join(dir, 'exec'),
    '--pidfile',
    join(dir, 'pid'),
    '-H',
    `unix://${socket}`,
    '--iptables=false',
    '--ip6tables=false',
    '--bridge=none',
    '--shutdown-timeout=1',
  ];
  let tcpHost: string | undefined;
  let tls: MutualTlsMaterial | undefined;
  if (options.tcp) {
    tcpHost = `tcp://127.0.0.1:${await freePort()}`;
    args.push('-H', tcpHost);
    if (options.tcp === 'tls') {
      await mkdir(join(dir, 'certs'));
      tls = await mutualTlsMaterial(join(dir, 'certs'));
      const certs = join(dir, 'certs');
      args.push(
        '--tlsverify',
        '--tlscacert',
        join(certs, 'ca.pem'),
        '--tlscert',
        join(certs, 'server-cert.pem'),
        '--tlskey',
        join(certs, 'server-key.pem'),
      );
    }
  }
  const child: ChildProcess = spawn('dockerd', args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-4000);
  });
  const exited = new Promise<void>((done) => child.once('exit', () => done()));
  const cliEnv: NodeJS.ProcessEnv = tls
    ? { ...process.env, DOCKER_HOST: tcpHost, DOCKER_TLS_VERIFY: '1', DOCKER_CERT_PATH: tls.dir }
    : { ...process.env, DOCKER_HOST: `unix://${socket}` };
  delete cliEnv.DOCKER_CONTEXT;
  const docker = async (cli: string[]) => (await run('docker', cli, { env: cliEnv })).stdout;
  const stop = async () => {
    if (child.exitCode === null && child.pid !== undefined) {
      process.kill(child.pid, 'SIGTERM');
      const timer = setTimeout(() => child.pid !== undefined && process.kill(child.pid, 'SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    }
    await rm(dir, { recursive: true, force: true }).catch(() => undefined);
  };
  for (let i = 0; ; i++) {
    if (child.exitCode !== null) throw new Error(`dockerd exited at start: ${stderr}`);
    try {
      await docker(['version', '--format', '{{.Server.Version}}']);
      break;
    } catch (error) {
      if (i > 150) {
        await stop();
        throw new Error(`dockerd did not answer in 15 s: ${String(error)}\n${stderr}`);
      }
      await new Promise((done) => setTimeout(done, 100));
    }
  }
  return {
    socketHost: `unix://${socket}`,
    ...(tcpHost ? { tcpHost } : {}),
    ...(tls ? { tls } : {}),
    docker,
    stop,
  };
}

/** A busybox-static rootfs as an image on the engine. */
export async function importBusybox(engine: Dockerd, tag = BUSYBOX_IMAGE): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'sdk-rootfs-'));
  try {
    await mkdir(join(dir, 'rootfs', 'bin'), { recursive: true });
    await mkdir(join(dir, 'rootfs', 'tmp'));
    await copyFile(BUSYBOX, join(dir, 'rootfs', 'bin', 'busybox'));
    for (const applet of APPLETS) await symlink('busybox', join(dir, 'rootfs', 'bin', applet));
    const tar = join(dir, 'rootfs.tar');
    await run('tar', ['-C', join(dir, 'rootfs'), '-cf', tar, '.']);
    await engine.docker(['import', '--change', 'CMD ["/bin/sh"]', tar, tag]);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

export interface EngineEvent {
  Type?: string;
  Action: string;
  Actor: { ID: string; Attributes?: Record<string, string> };
}

/** Every event of the engine from now on, as it comes (`GET /events` streamed over the socket). */
export function watchEvents(engine: Dockerd): { events: EngineEvent[]; close(): void } {
  const events: EngineEvent[] = [];
  let buffered = '';
  const call = httpRequest(
    { socketPath: engine.socketHost.replace('unix://', ''), path: '/v1.41/events', method: 'GET' },
    (response) => {
      response.on('data', (chunk: Buffer) => {
        buffered += chunk.toString('utf8');
        const lines = buffered.split('\n');
        buffered = lines.pop() ?? '';
        for (const line of lines) if (line.trim()) events.push(JSON.parse(line) as EngineEvent);
      });
      response.on('error', () => undefined);
    },
  );
  call.on('error', () => undefined);
  call.end();
  return { events, close: () => call.destroy() };
}
