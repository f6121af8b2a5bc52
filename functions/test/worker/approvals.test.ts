import { describe, expect, it } from 'vitest';
import { admin, call, errorOf } from './helpers.ts';

// The shared test database has no enrolled security key, so the quorum is in bootstrap here (the other
// Worker tests rely on that). Enrolment and approvals end to end run in Chromium:
// clients/dapp/test/approvals.browser.e2e.test.ts.

const b64url = (s: string) => btoa(s).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');

describe('admin security keys and approvals (workerd)', () => {
  it('refuses the security-key endpoints without an admin token (UNAUTHORIZED)', async () => {
    const res = await call('POST', '/api/v1/admin/security-keys/registration-options');
    expect(res.status).toBe(401);
    expect(errorOf(res.body).code).toBe('UNAUTHORIZED');
  });

  it('gives WebAuthn creation options for the dApp relying party (@simplewebauthn/server in workerd)', async () => {
    const res = await admin('POST', '/api/v1/admin/security-keys/registration-options');
    expect(res.status).toBe(200);
    const { options, expiresAt } = res.body as {
      options: {
        rp: { id: string; name: string };
        challenge: string;
        pubKeyCredParams: { alg: number }[];
        attestation: string;
      };
      expiresAt: string;
    };
    expect(options.rp).toEqual({ id: 'dapp.test', name: 'noderr-trust' });
    expect(options.challenge).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(options.pubKeyCredParams.map((p) => p.alg)).toEqual([-8, -7]);
    expect(options.attestation).toBe('none');
    expect(Date.parse(expiresAt) - Date.now()).toBeGreaterThan(4 * 60_000);
  });

  it('refuses a registration response that does not verify with WEBAUTHN_REGISTRATION_FAILED', async () => {
    const { options } = (await admin('POST', '/api/v1/admin/security-keys/registration-options')).body as {
      options: { challenge: string };
    };
    const clientDataJSON = b64url(
      JSON.stringify({ type: 'webauthn.create', challenge: options.challenge, origin: 'https://dapp.test' }),
    );
    const res = await admin('POST', '/api/v1/admin/security-keys', {
      label: 'forged',
      response: {
        id: 'AAAA',
        rawId: 'AAAA',
        type: 'public-key',
        response: { clientDataJSON, attestationObject: 'AAAA' },
        clientExtensionResults: {},
      },
    });
    expect(res.status).toBe(400);
    expect(errorOf(res.body).code).toBe('WEBAUTHN_REGISTRATION_FAILED');
    const keys = await admin('GET', '/api/v1/admin/security-keys');
    expect((keys.body as { items: { label: string }[] }).items.map((k) => k.label)).not.toContain('forged');
  });

  it('answers ACTION_NOT_FOUND for an unknown pending action, on read and on approve', async () => {
    const id = crypto.randomUUID();
    const get = await admin('GET', `/api/v1/admin/approvals/${id}`);
    expect(get.status).toBe(404);
    expect(errorOf(get.body).code).toBe('ACTION_NOT_FOUND');
    const approve = await admin('POST', `/api/v1/admin/approvals/${id}/approve`, {
      response: { id: 'x', response: {} },
    });
    expect(approve.status).toBe(404);
    expect(errorOf(approve.body).code).toBe('ACTION_NOT_FOUND');
  });

  it('documents the quorum in the OpenAPI output', async () => {
    const res = await call('GET', '/openapi.json');
    const doc = res.body as {
      paths: Record<string, Record<string, { description?: string; responses: Record<string, unknown> }>>;
    };
    const status = doc.paths['/api/v1/admin/nodes/{nodeId}/status']!.post!;
    expect(Object.keys(status.responses)).toContain('202');
    expect(status.description).toMatch(/ADMIN_APPROVAL_THRESHOLD/);
    expect(status.description).toMatch(/bootstrap/);
    expect(doc.paths['/api/v1/admin/approvals/{id}/approve']).toBeDefined();
    expect(doc.paths['/api/v1/admin/audit/export']).toBeDefined();
    expect(doc.paths['/api/v1/admin/audit/head']).toBeDefined();
  });
});
