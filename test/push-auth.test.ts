// Pub/Sub push authentication on the trigger's function URL: Google-signed OIDC tokens,
// checked against a JWKS served over HTTP by a local server, with keys made here.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { after, before, describe, it } from 'node:test';
import type { Context } from 'aws-lambda';
import { exportJWK, generateKeyPair, type JWTPayload, SignJWT } from 'jose';
import {
  oidcPushVerifier,
  PUSH_AUTH_ENV,
  type PushVerifier,
  pushVerifierFromEnv,
} from '../functions/lib/push-auth.js';
import type { ExecutionInput } from '../functions/lib/state.js';
import { createTriggerHandler, type ExecutionStarter } from '../functions/trigger.js';
import { sample, testDeps } from './helpers.js';

const DOMAIN = 'abc123.lambda-url.us-east-1.on.aws';
const ENDPOINT = `https://${DOMAIN}/`;
const PUSHER = 'push@project.iam.gserviceaccount.com';
const ISSUER = 'https://accounts.google.com';
const KID = 'test-key-1';

type KeyPair = Awaited<ReturnType<typeof generateKeyPair>>;
let google: KeyPair;
let impostor: KeyPair;
let server: Server;
let jwksUrl: string;
let jwksRequests = 0;

async function token(
  claims: JWTPayload = {},
  options: { key?: KeyPair; kid?: string } = {},
): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({ email: PUSHER, email_verified: true, ...claims })
    .setProtectedHeader({ alg: 'RS256', kid: options.kid ?? KID, typ: 'JWT' })
    .setIssuer(typeof claims.iss === 'string' ? claims.iss : ISSUER)
    .setAudience(claims.aud ?? ENDPOINT)
    .setIssuedAt(typeof claims.iat === 'number' ? claims.iat : now)
    .setExpirationTime(typeof claims.exp === 'number' ? claims.exp : now + 3600)
    .sign((options.key ?? google).privateKey);
}

async function pushRequest(authorization?: string, domain = DOMAIN) {
  const event = await sample('process-flow-run.json');
  (event.flow_run as Record<string, unknown>).id = randomUUID();
  const body = {
    subscription: 'projects/p/subscriptions/flow-runs',
    message: { data: Buffer.from(JSON.stringify(event)).toString('base64'), messageId: '42' },
  };
  return {
    version: '2.0',
    rawPath: '/',
    headers: {
      'content-type': 'application/json',
      ...(authorization ? { authorization } : {}),
    },
    requestContext: { domainName: domain, http: { method: 'POST', path: '/' } },
    body: JSON.stringify(body),
    isBase64Encoded: false,
  };
}

function recordingStarter() {
  const started: string[] = [];
  const starter: ExecutionStarter = {
    async start(name: string, _input: ExecutionInput) {
      started.push(name);
      return { id: `arn:aws:states:local:0:execution:sm:${name}`, duplicate: false };
    },
  };
  return { started, starter };
}

async function deliver(verifier: PushVerifier, request: unknown) {
  const { deps } = await testDeps();
  const { started, starter } = recordingStarter();
  const handler = createTriggerHandler(deps, () => starter, { verifyPush: () => verifier });
  const response = (await handler(request, {} as Context)) as { statusCode: number; body: string };
  const stored = await deps.store.list('');
  return { response, started, stored };
}

const verifier = () => oidcPushVerifier({ serviceAccounts: [PUSHER], jwksUrl, issuers: [ISSUER] });

before(async () => {
  google = await generateKeyPair('RS256', { extractable: true });
  impostor = await generateKeyPair('RS256', { extractable: true });
  const jwk = { ...(await exportJWK(google.publicKey)), kid: KID, alg: 'RS256', use: 'sig' };
  server = createServer((request, response) => {
    jwksRequests++;
    if (request.url !== '/oauth2/v3/certs') {
      response.writeHead(404).end();
      return;
    }
    response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: [jwk] }));
  });
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  const address = server.address();
  jwksUrl = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}/oauth2/v3/certs`;
});

after(async () => {
  await new Promise<void>((done) => server.close(() => done()));
});

describe('Pub/Sub push authentication', () => {
  it('accepts a Google-signed token for the allowed service account with this endpoint as audience', async () => {
    const { response, started } = await deliver(verifier(), await pushRequest(`Bearer ${await token()}`));
    assert.equal(response.statusCode, 200);
    assert.equal(JSON.parse(response.body).status, 'started');
    assert.equal(started.length, 1);
  });

  it('accepts the endpoint URL without the trailing slash as audience too', async () => {
    const { response } = await deliver(
      verifier(),
      await pushRequest(`Bearer ${await token({ aud: `https://${DOMAIN}` })}`),
    );
    assert.equal(response.statusCode, 200);
  });

  const refusals: [string, () => Promise<string | undefined>][] = [
    ['no Authorization header', async () => undefined],
    ['a token that is not a JWT', async () => 'Bearer not-a-token'],
    ['a Basic credential', async () => `Basic ${Buffer.from('a:b').toString('base64')}`],
    ['another audience', async () => `Bearer ${await token({ aud: 'https://elsewhere.example.com/' })}`],
    [
      'an expired token',
      async () => {
        const now = Math.floor(Date.now() / 1000);
        return `Bearer ${await token({ iat: now - 7200, exp: now - 3600 })}`;
      },
    ],
    [
      'another service account',
      async () => `Bearer ${await token({ email: 'intruder@evil.iam.gserviceaccount.com' })}`,
    ],
    ['an unverified email', async () => `Bearer ${await token({ email_verified: false })}`],
    ['another issuer', async () => `Bearer ${await token({ iss: 'https://evil.example.com' })}`],
    [
      'a token signed with another key (same key id)',
      async () => `Bearer ${await token({}, { key: impostor })}`,
    ],
    ['a key id the key set does not have', async () => `Bearer ${await token({}, { kid: 'unknown' })}`],
  ];
  for (const [what, authorization] of refusals) {
    it(`answers 401 and reads nothing for ${what}`, async () => {
      const { response, started, stored } = await deliver(
        verifier(),
        await pushRequest(await authorization()),
      );
      assert.equal(response.statusCode, 401);
      assert.deepEqual(JSON.parse(response.body), { error: 'unauthorized' });
      assert.equal(started.length, 0);
      assert.deepEqual(stored, [], 'nothing parked or kept as rejected');
    });
  }

  it('checks a configured audience instead of the endpoint URL', async () => {
    const configured = oidcPushVerifier({
      serviceAccounts: [PUSHER],
      jwksUrl,
      issuers: [ISSUER],
      audience: 'flow-runs',
    });
    const ok = await deliver(configured, await pushRequest(`Bearer ${await token({ aud: 'flow-runs' })}`));
    assert.equal(ok.response.statusCode, 200);
    const endpoint = await deliver(configured, await pushRequest(`Bearer ${await token()}`));
    assert.equal(endpoint.response.statusCode, 401);
  });

  it('answers 500 (Pub/Sub redelivers) when the key set cannot be fetched', async () => {
    const unreachable = oidcPushVerifier({
      serviceAccounts: [PUSHER],
      jwksUrl: jwksUrl.replace('/oauth2/v3/certs', '/missing'),
      issuers: [ISSUER],
    });
    const { response, started } = await deliver(unreachable, await pushRequest(`Bearer ${await token()}`));
    assert.equal(response.statusCode, 500);
    assert.equal(started.length, 0);
  });

  it('fetches the key set once and reuses it across deliveries', async () => {
    const shared = verifier();
    const before = jwksRequests;
    for (let i = 0; i < 3; i++) {
      const { response } = await deliver(shared, await pushRequest(`Bearer ${await token()}`));
      assert.equal(response.statusCode, 200);
    }
    assert.equal(jwksRequests - before, 1);
  });

  it('is configured from the environment, and refuses every push when no service account is set', async () => {
    const fromEnv = pushVerifierFromEnv({
      [PUSH_AUTH_ENV.serviceAccounts]: ` other@x.iam.gserviceaccount.com, ${PUSHER.toUpperCase()} `,
      [PUSH_AUTH_ENV.jwksUrl]: jwksUrl,
      [PUSH_AUTH_ENV.issuers]: ISSUER,
    });
    assert.equal(
      (await deliver(fromEnv, await pushRequest(`Bearer ${await token()}`))).response.statusCode,
      200,
    );
    const unconfigured = pushVerifierFromEnv({});
    assert.equal(
      (await deliver(unconfigured, await pushRequest(`Bearer ${await token()}`))).response.statusCode,
      401,
    );
  });

  it('does not apply to EventBridge and schedule deliveries (they arrive through AWS, not HTTP)', async () => {
    let calls = 0;
    const counting: PushVerifier = async () => {
      calls++;
      throw new Error('must not be called');
    };
    const { deps } = await testDeps();
    const { started, starter } = recordingStarter();
    const handler = createTriggerHandler(deps, () => starter, { verifyPush: () => counting });
    const event = await sample('process-flow-run.json');
    (event.flow_run as Record<string, unknown>).id = randomUUID();
    await handler({ 'detail-type': 'Flow Run Requested', source: 'test', detail: event }, {} as Context);
    assert.equal(calls, 0);
    assert.equal(started.length, 1);
  });
});
