import { describe, expect, it } from 'vitest';
import { call, dashboardSql, errorOf, issueToken } from './helpers.ts';

describe('POST /api/v1/install/config', () => {
  it('returns the tier, config and a fresh 32-byte nonce for each call without consuming the token', async () => {
    const { token } = await issueToken('ORACLE', 'linux');
    const first = await call('POST', '/api/v1/install/config', { body: { installToken: token } });
    expect(first.status).toBe(200);
    const body = first.body as {
      tier: string;
      os: string;
      config: Record<string, string>;
      challenge: { nonce: string; expiresAt: string };
      attestation: { pcrSelection: Record<string, number[]>; requireEkCertificate: boolean };
    };
    expect(body).toMatchObject({
      tier: 'ORACLE',
      os: 'linux',
      attestation: { pcrSelection: { sha256: [0, 1, 2, 3, 4, 5, 6, 7] }, requireEkCertificate: true },
    });
    expect(body.config.authApiUrl).toBe('https://api.test');
    expect(atob(body.challenge.nonce)).toHaveLength(32);
    const lifetime = Date.parse(body.challenge.expiresAt) - Date.now();
    expect(lifetime).toBeGreaterThan(9 * 60_000);
    expect(lifetime).toBeLessThanOrEqual(10 * 60_000);

    const second = await call('POST', '/api/v1/install/config', { body: { installToken: token } });
    expect(second.status).toBe(200);
    expect((second.body as typeof body).challenge.nonce).not.toBe(body.challenge.nonce);
  });

  it('refuses an unknown token with INSTALL_TOKEN_INVALID', async () => {
    const res = await call('POST', '/api/v1/install/config', {
      body: { installToken: `ndr_install_${'ab'.repeat(32)}` },
    });
    expect(res.status).toBe(401);
    expect(errorOf(res.body).code).toBe('INSTALL_TOKEN_INVALID');
  });

  it('refuses a malformed token with VALIDATION_FAILED', async () => {
    const res = await call('POST', '/api/v1/install/config', { body: { installToken: 'ndr_install_XYZ' } });
    expect(res.status).toBe(400);
    expect(errorOf(res.body).code).toBe('VALIDATION_FAILED');
    expect(JSON.stringify(res.body)).not.toContain('ndr_install_XYZ');
  });

  it('refuses an expired token with INSTALL_TOKEN_EXPIRED', async () => {
    const { id, token } = await issueToken();
    await dashboardSql(
      (sql) =>
        sql`update install_tokens set created_at = now() - interval '2 days', expires_at = now() - interval '1 second' where id = ${id} returning id`,
    );
    const res = await call('POST', '/api/v1/install/config', { body: { installToken: token } });
    expect(res.status).toBe(410);
    expect(errorOf(res.body).code).toBe('INSTALL_TOKEN_EXPIRED');
  });

  it('refuses a used token with INSTALL_TOKEN_USED', async () => {
    const { id, token } = await issueToken();
    await dashboardSql(
      (sql) => sql`update install_tokens set is_used = true, used_at = now() where id = ${id} returning id`,
    );
    const res = await call('POST', '/api/v1/install/config', { body: { installToken: token } });
    expect(res.status).toBe(409);
    expect(errorOf(res.body).code).toBe('INSTALL_TOKEN_USED');
  });
});
