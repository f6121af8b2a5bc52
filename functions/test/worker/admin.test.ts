import { describe, expect, it } from 'vitest';
import { APPLICATION_ID, admin, call, errorOf, issueToken, supabaseToken } from './helpers.ts';

describe('admin authentication', () => {
  it('refuses an admin call without a token with UNAUTHORIZED', async () => {
    const res = await call('GET', '/api/v1/admin/nodes');
    expect(res.status).toBe(401);
    expect(errorOf(res.body).code).toBe('UNAUTHORIZED');
  });

  it('refuses a token signed with another secret with UNAUTHORIZED', async () => {
    const token = await supabaseToken(undefined, { secret: 'another-secret-another-secret-another-secret' });
    const res = await call('GET', '/api/v1/admin/nodes', { token });
    expect(res.status).toBe(401);
    expect(errorOf(res.body).code).toBe('UNAUTHORIZED');
  });

  it('refuses an expired admin token with UNAUTHORIZED', async () => {
    const token = await supabaseToken(undefined, { expiresIn: '-1m' });
    const res = await call('GET', '/api/v1/admin/nodes', { token });
    expect(res.status).toBe(401);
    expect(errorOf(res.body).code).toBe('UNAUTHORIZED');
  });

  it('refuses a token for another audience with UNAUTHORIZED', async () => {
    const token = await supabaseToken(undefined, { audience: 'anon' });
    expect((await call('GET', '/api/v1/admin/nodes', { token })).status).toBe(401);
  });

  it('refuses a signed-in user without the admin role with FORBIDDEN', async () => {
    const token = await supabaseToken({ app_metadata: { role: 'member' }, user_metadata: { role: 'admin' } });
    const res = await call('GET', '/api/v1/admin/nodes', { token });
    expect(res.status).toBe(403);
    expect(errorOf(res.body).code).toBe('FORBIDDEN');
  });

  it('refuses an admin call from a disallowed origin with FORBIDDEN', async () => {
    const res = await call('GET', '/api/v1/admin/nodes', {
      token: await supabaseToken(),
      headers: { origin: 'https://evil.example' },
    });
    expect(res.status).toBe(403);
    expect(errorOf(res.body).code).toBe('FORBIDDEN');
    expect(res.headers.get('access-control-allow-origin')).toBeNull();
  });

  it('answers CORS preflight and requests from the configured dApp origin', async () => {
    const pre = await call('OPTIONS', '/api/v1/admin/install-tokens', {
      headers: { origin: 'https://dapp.test', 'access-control-request-method': 'POST' },
    });
    expect(pre.status).toBe(204);
    expect(pre.headers.get('access-control-allow-origin')).toBe('https://dapp.test');
    const res = await call('GET', '/api/v1/admin/nodes', {
      token: await supabaseToken(),
      headers: { origin: 'https://dapp.test' },
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('access-control-allow-origin')).toBe('https://dapp.test');
  });
});

describe('admin install tokens', () => {
  it('issues a token shown once and lists it without its value', async () => {
    const res = await admin('POST', '/api/v1/admin/install-tokens', {
      applicationId: APPLICATION_ID,
      tier: 'ORACLE',
      os: 'linux',
      expiresInDays: 3,
    });
    expect(res.status).toBe(201);
    const issued = res.body as { id: string; token: string; tier: string; os: string; expiresAt: string };
    expect(issued.token).toMatch(/^ndr_install_[0-9a-f]{64}$/);
    expect(issued.tier).toBe('ORACLE');
    const days = (Date.parse(issued.expiresAt) - Date.now()) / 86_400_000;
    expect(days).toBeGreaterThan(2.99);
    expect(days).toBeLessThan(3.01);

    const list = await admin('GET', '/api/v1/admin/install-tokens?status=active');
    expect(list.status).toBe(200);
    const items = (list.body as { items: Record<string, unknown>[] }).items;
    const mine = items.find((t) => t.id === issued.id);
    expect(mine).toMatchObject({ status: 'active', tier: 'ORACLE', os: 'linux' });
    expect(JSON.stringify(list.body)).not.toContain(issued.token);
  });

  it('rejects expiresInDays over 7 with VALIDATION_FAILED naming the field', async () => {
    const res = await admin('POST', '/api/v1/admin/install-tokens', {
      applicationId: APPLICATION_ID,
      tier: 'ALL',
      os: 'linux',
      expiresInDays: 8,
    });
    expect(res.status).toBe(400);
    const err = errorOf(res.body);
    expect(err.code).toBe('VALIDATION_FAILED');
    expect(err.details?.issues).toEqual([expect.objectContaining({ path: 'expiresInDays' })]);
  });

  it('revokes a token, which install/config then refuses with INSTALL_TOKEN_REVOKED', async () => {
    const { id, token } = await issueToken();
    const res = await admin('POST', `/api/v1/admin/install-tokens/${id}/revoke`);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ id, status: 'revoked' });
    const cfg = await call('POST', '/api/v1/install/config', { body: { installToken: token } });
    expect(cfg.status).toBe(403);
    expect(errorOf(cfg.body).code).toBe('INSTALL_TOKEN_REVOKED');
  });

  it('answers NOT_FOUND for revoking an unknown token', async () => {
    const res = await admin(
      'POST',
      '/api/v1/admin/install-tokens/00000000-0000-4000-8000-000000000000/revoke',
    );
    expect(res.status).toBe(404);
    expect(errorOf(res.body).code).toBe('NOT_FOUND');
  });
});

describe('admin policies', () => {
  it('has the documented defaults before any PUT', async () => {
    const oracle = await admin('GET', '/api/v1/admin/policies/ORACLE');
    expect(oracle.status).toBe(200);
    expect(oracle.body).toMatchObject({
      tier: 'ORACLE',
      requireEkCertificate: true,
      pcrMode: 'baseline',
      pcrSelection: { sha256: [0, 1, 2, 3, 4, 5, 6, 7] },
      reattestationIntervalSeconds: 3600,
      sessionTtlSeconds: 900,
    });
    const all = await admin('GET', '/api/v1/admin/policies/ALL');
    expect(all.body).toMatchObject({ requireEkCertificate: false });
  });

  it('replaces a policy and bumps its version', async () => {
    const before = (await admin('GET', '/api/v1/admin/policies/GUARDIAN')).body as { version: number };
    const body = {
      requireEkCertificate: true,
      pcrSelection: { sha256: [0, 7] },
      pcrMode: 'allowlist',
      allowedPcrValues: { sha256: { '0': ['00'.repeat(32)], '7': ['11'.repeat(32)] } },
      reattestationIntervalSeconds: 600,
      sessionTtlSeconds: 300,
    };
    const res = await admin('PUT', '/api/v1/admin/policies/GUARDIAN', body);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ ...body, tier: 'GUARDIAN', version: before.version + 1 });
  });

  it('rejects an unknown tier with VALIDATION_FAILED', async () => {
    const res = await admin('GET', '/api/v1/admin/policies/PLATINUM');
    expect(res.status).toBe(400);
    expect(errorOf(res.body).code).toBe('VALIDATION_FAILED');
  });
});

describe('admin EK trust anchors', () => {
  const pem = `-----BEGIN CERTIFICATE-----
MIIBhTCCASugAwIBAgIUIKpFj3eqWcRuZWbVF8lbjo/a1BIwCgYIKoZIzj0EAwIw
GDEWMBQGA1UEAwwNVGVzdCBFSyBSb290MB4XDTI2MDEwMTAwMDAwMFoXDTM2MDEw
MTAwMDAwMFowGDEWMBQGA1UEAwwNVGVzdCBFSyBSb290MFkwEwYHKoZIzj0CAQYI
KoZIzj0DAQcDQgAE
-----END CERTIFICATE-----`;

  it('rejects a PEM that is not a certificate with VALIDATION_FAILED', async () => {
    const res = await admin('POST', '/api/v1/admin/ek-anchors', { label: 'broken', pem });
    expect(res.status).toBe(400);
    expect(errorOf(res.body).code).toBe('VALIDATION_FAILED');
  });
});

async function selfSignedCa(cn: string): Promise<string> {
  const { X509CertificateGenerator, BasicConstraintsExtension, KeyUsagesExtension, KeyUsageFlags } =
    await import('@peculiar/x509');
  const alg = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;
  const keys = (await crypto.subtle.generateKey(alg, true, ['sign', 'verify'])) as CryptoKeyPair;
  const cert = await X509CertificateGenerator.createSelfSigned({
    serialNumber: '01',
    name: `CN=${cn}`,
    notBefore: new Date(Date.now() - 86_400_000),
    notAfter: new Date(Date.now() + 365 * 86_400_000),
    keys,
    signingAlgorithm: alg,
    extensions: [
      new BasicConstraintsExtension(true, undefined, true),
      new KeyUsagesExtension(KeyUsageFlags.keyCertSign | KeyUsageFlags.cRLSign, true),
    ],
  });
  return cert.toString('pem');
}

describe('admin EK trust anchors (lifecycle)', () => {
  it('adds, lists and deletes an anchor; a duplicate is a CONFLICT', async () => {
    const pem = await selfSignedCa('Private vTPM CA');
    const added = await admin('POST', '/api/v1/admin/ek-anchors', { label: 'private cloud', pem });
    expect(added.status).toBe(201);
    const anchor = added.body as { id: string; subject: string; fingerprint: string };
    expect(anchor.subject).toBe('CN=Private vTPM CA');
    expect(anchor.fingerprint).toMatch(/^[0-9a-f]{64}$/);

    const dup = await admin('POST', '/api/v1/admin/ek-anchors', { label: 'again', pem });
    expect(dup.status).toBe(409);
    expect(errorOf(dup.body).code).toBe('CONFLICT');

    const list = await admin('GET', '/api/v1/admin/ek-anchors');
    expect((list.body as { items: { id: string }[] }).items.map((i) => i.id)).toContain(anchor.id);

    const del = await admin('DELETE', `/api/v1/admin/ek-anchors/${anchor.id}`);
    expect(del.status).toBe(204);
    const again = await admin('DELETE', `/api/v1/admin/ek-anchors/${anchor.id}`);
    expect(again.status).toBe(404);
    expect(errorOf(again.body).code).toBe('NOT_FOUND');
  });
});
