import { afterEach, describe, expect, it } from 'vitest';
import { ApiError } from '../src/api-error.ts';
import { createDappClient } from '../src/client.ts';
import { sendApiError, startTestDouble, type TestDouble } from './http-test-doubles.ts';

// The admin endpoints are not rate-limited server-side today, so a local HTTP server plays a
// rate-limited deployment: it answers 429 RATE_LIMITED with `retry-after` exactly as API.md specifies.

const EMPTY_LIST = JSON.stringify({ items: [] });
let double: TestDouble | undefined;

afterEach(async () => {
  await double?.close();
  double = undefined;
});

function client(url: string, options: { maxRateLimitRetries?: number; maxRetryDelaySeconds?: number } = {}) {
  return createDappClient({ baseUrl: url, accessToken: () => 'header.payload.signature', ...options });
}

describe('RATE_LIMITED (a rate-limited deployment played by a local test double)', () => {
  it('waits out retry-after, then retries and returns the result', async () => {
    double = await startTestDouble((_req, res, i) => {
      if (i === 0) return sendApiError(res, 429, 'RATE_LIMITED', { 'retry-after': '1' });
      res.writeHead(200, { 'content-type': 'application/json', 'x-request-id': 'ok' }).end(EMPTY_LIST);
    });
    const started = Date.now();
    expect(await client(double.url).nodes.list()).toEqual({ items: [] });
    expect(Date.now() - started).toBeGreaterThanOrEqual(950);
    expect(double.requests.map((r) => r.url)).toEqual(['/api/v1/admin/nodes', '/api/v1/admin/nodes']);
  });

  it('accepts retry-after as an HTTP date', async () => {
    double = await startTestDouble((_req, res, i) => {
      if (i === 0) {
        return sendApiError(res, 429, 'RATE_LIMITED', {
          'retry-after': new Date(Date.now() + 1000).toUTCString(),
        });
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end(EMPTY_LIST);
    });
    expect(await client(double.url).ekAnchors.list()).toEqual({ items: [] });
    expect(double.requests).toHaveLength(2);
  });

  it('gives up after maxRateLimitRetries and surfaces RATE_LIMITED (429) with retryAfterSeconds', async () => {
    double = await startTestDouble((_req, res) =>
      sendApiError(res, 429, 'RATE_LIMITED', { 'retry-after': '0' }),
    );
    const err = await client(double.url, { maxRateLimitRetries: 2 })
      .installTokens.list()
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApiError);
    expect(err).toMatchObject({ code: 'RATE_LIMITED', status: 429, retryAfterSeconds: 0 });
    expect((err as ApiError).requestId).toMatch(/^double-/);
    expect(double.requests).toHaveLength(3);
  });

  it('does not wait out a retry-after longer than maxRetryDelaySeconds', async () => {
    double = await startTestDouble((_req, res) =>
      sendApiError(res, 429, 'RATE_LIMITED', { 'retry-after': '3600' }),
    );
    const started = Date.now();
    const err = await client(double.url)
      .policies.get('ALL')
      .catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'RATE_LIMITED', status: 429, retryAfterSeconds: 3600 });
    expect(Date.now() - started).toBeLessThan(1000);
    expect(double.requests).toHaveLength(1);
  });

  it('retries a POST that was rate-limited (a 429 means it was not processed)', async () => {
    const issued = {
      id: crypto.randomUUID(),
      token: `ndr_install_${'a'.repeat(64)}`,
      tier: 'ALL',
      os: 'linux',
      expiresAt: new Date().toISOString(),
    };
    double = await startTestDouble((_req, res, i) => {
      if (i === 0) return sendApiError(res, 429, 'RATE_LIMITED', { 'retry-after': '0' });
      res.writeHead(201, { 'content-type': 'application/json' }).end(JSON.stringify(issued));
    });
    const result = await client(double.url).installTokens.issue({
      applicationId: crypto.randomUUID(),
      tier: 'ALL',
      os: 'linux',
    });
    expect(result).toEqual(issued);
    expect(double.requests.map((r) => r.method)).toEqual(['POST', 'POST']);
  });
});
