import { env } from 'cloudflare:test';
import { base64url, exportJWK, generateKeyPair, importJWK, SignJWT } from 'jose';
import { describe, expect, it } from 'vitest';
import { call, errorOf } from './helpers.ts';

const NODE_A = `0x${'a1'.repeat(32)}`;
const NODE_B = `0x${'b2'.repeat(32)}`;
const keys = JSON.parse((env as unknown as { NODE_JWT_KEYS: string }).NODE_JWT_KEYS) as {
  keys: Record<string, string>[];
};
const current = keys.keys[0]!;

async function sessionJwt(
  claims: Record<string, unknown> = {},
  options: { exp?: number; iss?: string; aud?: string } = {},
) {
  const key = await importJWK({ ...current, alg: 'ES256' }, 'ES256');
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({ tier: 'ALL', cnf: { jkt: 'x' }, ...claims })
    .setProtectedHeader({ alg: 'ES256', kid: current.kid! })
    .setIssuer(options.iss ?? 'https://noderr-trust.test')
    .setAudience(options.aud ?? 'noderr-nodes')
    .setSubject(NODE_A)
    .setIssuedAt(now)
    .setExpirationTime(options.exp ?? now + 600)
    .setJti(crypto.randomUUID())
    .sign(key);
}

async function heartbeat(jwt: string | undefined, nodeId = NODE_A) {
  return call('POST', '/api/v1/auth/heartbeat', {
    body: { nodeId, metrics: { uptime: 1 } },
    ...(jwt ? { headers: { authorization: `Bearer ${jwt}` } } : {}),
  });
}

function expectSessionInvalid(res: { status: number; body: unknown }) {
  expect(res.status).toBe(401);
  expect(errorOf(res.body).code).toBe('SESSION_INVALID');
}

describe('node session JWTs on heartbeat', () => {
  it('refuses a heartbeat without a session with SESSION_INVALID', async () => {
    expectSessionInvalid(await heartbeat(undefined));
  });

  it('refuses a JWT for node A used on node B with SESSION_FORBIDDEN', async () => {
    const res = await heartbeat(await sessionJwt(), NODE_B);
    expect(res.status).toBe(403);
    expect(errorOf(res.body).code).toBe('SESSION_FORBIDDEN');
  });

  it('refuses alg none with SESSION_INVALID', async () => {
    const header = base64url.encode(JSON.stringify({ alg: 'none', typ: 'JWT' }));
    const now = Math.floor(Date.now() / 1000);
    const payload = base64url.encode(
      JSON.stringify({
        sub: NODE_A,
        iss: 'https://noderr-trust.test',
        aud: 'noderr-nodes',
        iat: now,
        exp: now + 600,
        jti: 'x',
        tier: 'ALL',
        cnf: { jkt: 'x' },
      }),
    );
    expectSessionInvalid(await heartbeat(`${header}.${payload}.`));
  });

  it('refuses HS256 signed with the published public key with SESSION_INVALID', async () => {
    const jwks = (await call('GET', '/.well-known/jwks.json')).body as { keys: Record<string, string>[] };
    const secret = new TextEncoder().encode(JSON.stringify(jwks.keys[0]));
    const now = Math.floor(Date.now() / 1000);
    const forged = await new SignJWT({ tier: 'ALL', cnf: { jkt: 'x' } })
      .setProtectedHeader({ alg: 'HS256', kid: current.kid! })
      .setIssuer('https://noderr-trust.test')
      .setAudience('noderr-nodes')
      .setSubject(NODE_A)
      .setIssuedAt(now)
      .setExpirationTime(now + 600)
      .setJti('forged')
      .sign(secret);
    expectSessionInvalid(await heartbeat(forged));
  });

  it('refuses an expired JWT with SESSION_INVALID', async () => {
    expectSessionInvalid(await heartbeat(await sessionJwt({}, { exp: Math.floor(Date.now() / 1000) - 5 })));
  });

  it('refuses a JWT from another issuer or audience with SESSION_INVALID', async () => {
    expectSessionInvalid(await heartbeat(await sessionJwt({}, { iss: 'https://elsewhere.test' })));
    expectSessionInvalid(await heartbeat(await sessionJwt({}, { aud: 'authenticated' })));
  });

  it('refuses a JWT signed by a key that is not ours with SESSION_INVALID', async () => {
    const { privateKey } = await generateKeyPair('ES256', { extractable: true });
    const jwk = await exportJWK(privateKey);
    const now = Math.floor(Date.now() / 1000);
    const jwt = await new SignJWT({ tier: 'ALL', cnf: { jkt: 'x' } })
      .setProtectedHeader({ alg: 'ES256', kid: current.kid! })
      .setIssuer('https://noderr-trust.test')
      .setAudience('noderr-nodes')
      .setSubject(NODE_A)
      .setIssuedAt(now)
      .setExpirationTime(now + 600)
      .setJti('other')
      .sign(await importJWK(jwk, 'ES256'));
    expectSessionInvalid(await heartbeat(jwt));
  });

  it('answers NODE_NOT_FOUND for a valid session of a node that does not exist', async () => {
    const res = await heartbeat(await sessionJwt());
    expect(res.status).toBe(404);
    expect(errorOf(res.body).code).toBe('NODE_NOT_FOUND');
  });
});

describe('node challenges', () => {
  it('answers NODE_NOT_FOUND for an unknown node', async () => {
    const res = await call('POST', '/api/v1/auth/challenge', { body: { nodeId: NODE_B } });
    expect(res.status).toBe(404);
    expect(errorOf(res.body).code).toBe('NODE_NOT_FOUND');
  });

  it('refuses verify with unknown credentials with CREDENTIALS_INVALID', async () => {
    const res = await call('POST', '/api/v1/auth/verify', {
      body: {
        nodeId: NODE_B,
        apiKey: `ndr_live_${'0'.repeat(64)}`,
        challenge: btoa('x'.repeat(32)),
        signature: btoa('sig'),
      },
    });
    expect(res.status).toBe(401);
    expect(errorOf(res.body).code).toBe('CREDENTIALS_INVALID');
  });
});

describe('rate limits', () => {
  it('stops API key guessing on auth/verify with RATE_LIMITED and retry-after', async () => {
    const statuses: number[] = [];
    let last: Awaited<ReturnType<typeof call>> | undefined;
    for (let i = 0; i < 12; i++) {
      last = await call('POST', '/api/v1/auth/verify', {
        headers: { 'cf-connecting-ip': '203.0.113.7' },
        body: {
          nodeId: NODE_B,
          apiKey: `ndr_live_${i.toString(16).padStart(64, '0')}`,
          challenge: btoa('x'.repeat(32)),
          signature: btoa('sig'),
        },
      });
      statuses.push(last.status);
    }
    expect(statuses.slice(0, 10)).toEqual(Array(10).fill(401));
    expect(statuses.slice(10)).toEqual([429, 429]);
    expect(errorOf(last!.body).code).toBe('RATE_LIMITED');
    expect(last!.headers.get('retry-after')).toBe('60');
  });

  it('stops install token guessing on install/config with RATE_LIMITED', async () => {
    let status = 0;
    for (let i = 0; i < 31; i++) {
      const res = await call('POST', '/api/v1/install/config', {
        headers: { 'cf-connecting-ip': '203.0.113.8' },
        body: { installToken: `ndr_install_${i.toString(16).padStart(64, '0')}` },
      });
      status = res.status;
    }
    expect(status).toBe(429);
  });
});
