import { describe, expect, it } from 'vitest';
import { call, errorOf } from './helpers.ts';

describe('request handling', () => {
  it('rejects malformed JSON with VALIDATION_FAILED', async () => {
    const res = await call('POST', '/api/v1/install/config', { rawBody: '{"installToken": ' });
    expect(res.status).toBe(400);
    expect(errorOf(res.body).code).toBe('VALIDATION_FAILED');
  });

  it('rejects unknown fields with VALIDATION_FAILED', async () => {
    const res = await call('POST', '/api/v1/auth/challenge', {
      body: { nodeId: `0x${'a'.repeat(64)}`, extra: 1 },
    });
    expect(res.status).toBe(400);
    expect(errorOf(res.body).code).toBe('VALIDATION_FAILED');
  });

  it('rejects a body that is not JSON with UNSUPPORTED_MEDIA_TYPE', async () => {
    const res = await call('POST', '/api/v1/install/config', {
      rawBody: 'installToken=x',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    });
    expect(res.status).toBe(415);
    expect(errorOf(res.body).code).toBe('UNSUPPORTED_MEDIA_TYPE');
  });

  it('rejects a body over 256 KiB with PAYLOAD_TOO_LARGE', async () => {
    const res = await call('POST', '/api/v1/auth/register', {
      rawBody: JSON.stringify({ pad: 'x'.repeat(300 * 1024) }),
    });
    expect(res.status).toBe(413);
    expect(errorOf(res.body).code).toBe('PAYLOAD_TOO_LARGE');
  });

  it('answers a wrong method on a known path with METHOD_NOT_ALLOWED and Allow', async () => {
    const res = await call('GET', '/api/v1/auth/register');
    expect(res.status).toBe(405);
    expect(errorOf(res.body).code).toBe('METHOD_NOT_ALLOWED');
    expect(res.headers.get('allow')).toBe('POST');
  });

  it('puts the request id on every error', async () => {
    const res = await call('POST', '/api/v1/install/config', { rawBody: '[' });
    expect(errorOf(res.body).requestId).toBe(res.headers.get('x-request-id'));
  });
});

describe('service documents', () => {
  it('serves an OpenAPI 3.1 document generated from the schemas, covering every API.md path', async () => {
    const res = await call('GET', '/openapi.json');
    expect(res.status).toBe(200);
    const doc = res.body as { openapi: string; paths: Record<string, Record<string, unknown>> };
    expect(doc.openapi).toBe('3.1.0');
    const paths = Object.entries(doc.paths).flatMap(([p, ops]) =>
      Object.keys(ops).map((m) => `${m.toUpperCase()} ${p}`),
    );
    expect(paths).toEqual(
      expect.arrayContaining([
        'POST /api/v1/install/config',
        'POST /api/v1/auth/register',
        'POST /api/v1/auth/activate',
        'POST /api/v1/auth/challenge',
        'POST /api/v1/auth/verify',
        'POST /api/v1/auth/heartbeat',
        'POST /api/v1/admin/install-tokens',
        'GET /api/v1/admin/install-tokens',
        'POST /api/v1/admin/install-tokens/{id}/revoke',
        'GET /api/v1/admin/nodes',
        'POST /api/v1/admin/nodes/{nodeId}/status',
        'GET /api/v1/admin/policies/{tier}',
        'PUT /api/v1/admin/policies/{tier}',
        'GET /api/v1/admin/ek-anchors',
        'POST /api/v1/admin/ek-anchors',
        'DELETE /api/v1/admin/ek-anchors/{id}',
      ]),
    );
  });

  it('serves a docs page that renders the document', async () => {
    const res = await call('GET', '/docs');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/text\/html/);
    expect(String(res.body)).toContain("fetch('/openapi.json')");
  });

  it('publishes the node-session public keys as a JWKS without private parts', async () => {
    const res = await call('GET', '/.well-known/jwks.json');
    expect(res.status).toBe(200);
    const { keys } = res.body as { keys: Record<string, string>[] };
    expect(keys.length).toBeGreaterThanOrEqual(1);
    for (const k of keys) {
      expect(k).toMatchObject({ kty: 'EC', crv: 'P-256', alg: 'ES256', use: 'sig' });
      expect(k.kid).toBeTruthy();
      expect(k.d).toBeUndefined();
    }
  });
});
