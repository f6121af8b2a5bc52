import { env } from 'cloudflare:test';
import { decodeProtectedHeader, importJWK, type JWK, SignJWT } from 'jose';
import { describe, expect, it } from 'vitest';
import { createPostgresStorage } from '../../src/storage/postgres.ts';
import { admin, call, dashboardSql, errorOf } from './helpers.ts';

// NODE_JWT_KEYS of the Worker under test holds two keys (vitest.config.ts): `first` is activated on
// first use (the shared test database is in bootstrap: no admin has a security key), `second` stays
// pending until this file activates it with one admin. The quorum path (202, approvals, execution) runs
// with real security keys in clients/dapp/test/approvals.browser.e2e.test.ts.

const testEnv = env as unknown as { NODE_JWT_KEYS: string; HYPERDRIVE: { connectionString: string } };
const [first, second] = (JSON.parse(testEnv.NODE_JWT_KEYS) as { keys: (JWK & { kid: string })[] }).keys as [
  JWK & { kid: string },
  JWK & { kid: string },
];
const path = (kid: string) => `/api/v1/admin/session-keys/${encodeURIComponent(kid)}/activate`;

interface KeyView {
  kid: string;
  status: string;
  inSecret: boolean;
  signing: boolean;
  published: boolean;
  activationMode: string | null;
  activatedBy: string | null;
  publicJwk: Record<string, unknown>;
}

const b64 = (b: Uint8Array) => btoa(String.fromCharCode(...b));
const hex = (b: Uint8Array) => Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
const random = (n = 32) => hex(crypto.getRandomValues(new Uint8Array(n)));
const sha256 = async (s: string) =>
  hex(new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(s))));

/** ECDSA raw r||s → DER, as a TPM-less node would send it. */
function der(raw: Uint8Array): Uint8Array {
  const int = (x: Uint8Array) => {
    let v = x;
    while (v.length > 1 && v[0] === 0 && v[1]! < 0x80) v = v.subarray(1);
    return v[0]! >= 0x80 ? Uint8Array.of(0, ...v) : v;
  };
  const [r, s] = [int(raw.subarray(0, 32)), int(raw.subarray(32))];
  return Uint8Array.of(0x30, r.length + s.length + 4, 0x02, r.length, ...r, 0x02, s.length, ...s);
}

/** A node registered through the SQL functions, with a real P-256 key; opens sessions via the API. */
async function nodeWithKey() {
  const pair = (await crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, [
    'sign',
    'verify',
  ])) as CryptoKeyPair;
  const spki = new Uint8Array((await crypto.subtle.exportKey('spki', pair.publicKey)) as ArrayBuffer);
  const pem = `-----BEGIN PUBLIC KEY-----\n${b64(spki)}\n-----END PUBLIC KEY-----\n`;
  // Registration as the Worker drives it, through the storage port (the TPM part is not this file's concern).
  const storage = createPostgresStorage(testEnv.HYPERDRIVE.connectionString);
  const tokenHash = await sha256(`ndr_install_${random()}`);
  await storage.issueInstallToken({
    tokenHash,
    applicationId: '11111111-2222-4333-8444-555555555555',
    tier: 'ALL',
    os: 'linux',
    expiresInDays: 1,
    actor: 'test',
  });
  const nonceHash = await sha256(random());
  await storage.beginInstall({ tokenHash, nonceHash });
  await storage.consumeChallenge({ purpose: 'install', nonceHash, installTokenHash: tokenHash });
  const secretHash = await sha256(random());
  const nodeId = `0x${random()}`;
  const { activationId } = await storage.storePendingActivation({
    installTokenHash: tokenHash,
    nodeId,
    publicKey: pem,
    ekFingerprint: await sha256(random()),
    akPublic: 'AAEACwAFBHIAAAAQ',
    akName: `000b${random()}`,
    pcrBaseline: { sha256: { '0': 'aa'.repeat(32) } },
    attestationData: {},
    policyVersion: 1,
    clockInfo: { clock: 1, resetCount: 0, restartCount: 0, safe: true },
    secretHash,
  });
  const apiKey = `ndr_live_${random()}`;
  await storage.completeRegistration({ activationId, secretHash, apiKeyHash: await sha256(apiKey) });
  const node = { nodeId, apiKey };
  return async (): Promise<string> => {
    const ch = await call('POST', '/api/v1/auth/challenge', { body: { nodeId: node.nodeId } });
    expect(ch.status).toBe(200);
    const nonce = (ch.body as { nonce: string }).nonce;
    const nonceBytes = Uint8Array.from(atob(nonce), (c) => c.charCodeAt(0));
    const message = new Uint8Array([
      ...new TextEncoder().encode(`noderr-verify-v1:${node.nodeId}:`),
      ...nonceBytes,
    ]);
    const raw = new Uint8Array(
      await crypto.subtle.sign({ name: 'ECDSA', hash: 'SHA-256' }, pair.privateKey, message),
    );
    const res = await call('POST', '/api/v1/auth/verify', {
      body: { nodeId: node.nodeId, apiKey: node.apiKey, challenge: nonce, signature: b64(der(raw)) },
    });
    expect(res.status).toBe(200);
    return (res.body as { jwtToken: string }).jwtToken;
  };
}

async function jwtSignedWith(key: JWK & { kid: string }): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({ tier: 'ALL', cnf: { jkt: 'x' } })
    .setProtectedHeader({ alg: 'ES256', kid: key.kid })
    .setIssuer('https://noderr-trust.test')
    .setAudience('noderr-nodes')
    .setSubject(`0x${'c3'.repeat(32)}`)
    .setIssuedAt(now)
    .setExpirationTime(now + 600)
    .setJti(crypto.randomUUID())
    .sign(await importJWK({ ...key, alg: 'ES256' }, 'ES256'));
}

async function heartbeatCode(jwt: string): Promise<string> {
  const res = await call('POST', '/api/v1/auth/heartbeat', {
    body: { nodeId: `0x${'c3'.repeat(32)}`, metrics: { uptime: 1 } },
    headers: { authorization: `Bearer ${jwt}` },
  });
  return errorOf(res.body).code;
}

const jwksKids = async () =>
  ((await call('GET', '/.well-known/jwks.json')).body as { keys: { kid: string; d?: string }[] }).keys;

async function listed(): Promise<KeyView[]> {
  const res = await admin('GET', '/api/v1/admin/session-keys');
  expect(res.status).toBe(200);
  return (res.body as { items: KeyView[] }).items;
}

describe('node-session signing keys under the quorum (workerd, bootstrap)', () => {
  let session: () => Promise<string>;

  it('activates the first key on first use; the second is registered as pending and neither signs nor is published', async () => {
    session = await nodeWithKey();
    expect(decodeProtectedHeader(await session()).kid).toBe(first.kid);
    const keys = await jwksKids();
    expect(keys.map((k) => k.kid)).toEqual([first.kid]);
    expect(keys.every((k) => k.d === undefined)).toBe(true);
    const items = await listed();
    expect(items.find((k) => k.kid === first.kid)).toMatchObject({
      status: 'active',
      signing: true,
      published: true,
      inSecret: true,
      activationMode: 'auto',
      activatedBy: 'worker (first use)',
    });
    const pending = items.find((k) => k.kid === second.kid)!;
    expect(pending).toMatchObject({ status: 'pending', signing: false, published: false, inSecret: true });
    expect(pending.publicJwk.d).toBeUndefined();
    // A session signed with the pending key is refused: holding the secret is not enough.
    expect(await heartbeatCode(await jwtSignedWith(second))).toBe('SESSION_INVALID');
  });

  it('refuses to activate a kid that is not in NODE_JWT_KEYS (NOT_FOUND) or a key that is not pending (CONFLICT)', async () => {
    const unknown = await admin('POST', path('not-in-the-secret'));
    expect(unknown.status).toBe(404);
    expect(errorOf(unknown.body).code).toBe('NOT_FOUND');
    const active = await admin('POST', path(first.kid));
    expect(active.status).toBe(409);
    expect(errorOf(active.body).code).toBe('CONFLICT');
    expect(errorOf(active.body).details).toEqual({ status: 'active' });
    const anonymous = await call('POST', path(second.kid));
    expect(anonymous.status).toBe(401);
    expect(errorOf(anonymous.body).code).toBe('UNAUTHORIZED');
  });

  it('in bootstrap one admin activates the pending key: it signs at once, JWKS publishes it and the previous key', async () => {
    const res = await admin('POST', path(second.kid));
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      kid: second.kid,
      status: 'active',
      signing: true,
      published: true,
      activationMode: 'single_admin',
      activatedBy: 'admin@noderr.test (00000000-0000-4000-8000-0000000000a1)',
    });
    expect(decodeProtectedHeader(await session()).kid).toBe(second.kid);
    expect((await jwksKids()).map((k) => k.kid)).toEqual([second.kid, first.kid]);
    // Both the new and the previous key verify (NODE_NOT_FOUND: the session passed, the node is unknown).
    expect(await heartbeatCode(await jwtSignedWith(second))).toBe('NODE_NOT_FOUND');
    expect(await heartbeatCode(await jwtSignedWith(first))).toBe('NODE_NOT_FOUND');
    expect((await listed()).find((k) => k.kid === first.kid)).toMatchObject({
      status: 'retired',
      signing: false,
      published: true,
    });
    const again = await admin('POST', path(second.kid));
    expect(again.status).toBe(409);
    expect(errorOf(again.body).code).toBe('CONFLICT');
  });

  it('lands every registration, activation and retirement in audit_events (hence the signed log)', async () => {
    const rows = await dashboardSql(
      (sql) => sql<
        { action: string; source: string; kid: string; mode: string | null; previous: string | null }[]
      >`
        select action, source, details->>'kid' as kid, details->>'mode' as mode, details->>'previous_kid' as previous
        from public.audit_events where action like 'session_key.%'
          and details->>'kid' in (${first.kid}, ${second.kid}) order by id`,
    );
    expect(rows).toEqual(
      expect.arrayContaining([
        { action: 'session_key.registered', source: 'system', kid: first.kid, mode: null, previous: null },
        { action: 'session_key.registered', source: 'system', kid: second.kid, mode: null, previous: null },
        { action: 'session_key.activated', source: 'system', kid: first.kid, mode: 'auto', previous: null },
        {
          action: 'session_key.activated',
          source: 'admin_api',
          kid: second.kid,
          mode: 'single_admin',
          previous: first.kid,
        },
        { action: 'session_key.retired', source: 'admin_api', kid: first.kid, mode: null, previous: null },
      ]),
    );
    expect(rows).toHaveLength(5);
  });

  it('documents the endpoints, the quorum and the cache in the OpenAPI output', async () => {
    const doc = (await call('GET', '/openapi.json')).body as {
      paths: Record<string, Record<string, { description?: string; responses: Record<string, unknown> }>>;
    };
    const activate = doc.paths['/api/v1/admin/session-keys/{kid}/activate']!.post!;
    expect(Object.keys(activate.responses)).toEqual(expect.arrayContaining(['200', '202', '404', '409']));
    expect(activate.description).toMatch(/bootstrap/);
    expect(activate.description).toMatch(/caches the key state for 30 s/);
    expect(doc.paths['/api/v1/admin/session-keys']!.get).toBeDefined();
  });
});
