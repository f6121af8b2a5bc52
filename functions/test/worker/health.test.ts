import { SELF } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';

describe('GET /api/v1/health', () => {
  it('answers ok after a round trip to the database', async () => {
    const res = await SELF.fetch('https://api.test/api/v1/health');
    expect(res.status).toBe(200);
    expect(res.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
    expect(await res.json()).toEqual({ status: 'ok', version: '0.1.0', database: 'ok' });
  });
});

describe('the error shape', () => {
  it('answers an unknown path with a JSON 404 carrying the request id', async () => {
    const res = await SELF.fetch('https://api.test/api/v1/nope', {
      headers: { 'x-request-id': 'client-req-0001' },
    });
    expect(res.status).toBe(404);
    expect(res.headers.get('x-request-id')).toBe('client-req-0001');
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    const body = (await res.json()) as { error: Record<string, unknown> };
    expect(body).toEqual({
      error: {
        code: 'NOT_FOUND',
        message: expect.stringContaining('/api/v1/nope'),
        requestId: 'client-req-0001',
      },
    });
  });

  it('replaces a malformed incoming request id with its own', async () => {
    const res = await SELF.fetch('https://api.test/api/v1/health', {
      headers: { 'x-request-id': 'bad id\n' },
    });
    expect(res.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
  });
});
