import { afterEach, describe, expect, it } from 'vitest';
import { ApiError } from '../src/api-error.ts';
import { createDappClient } from '../src/client.ts';
import { closedPort, startTestDouble, type TestDouble } from './http-test-doubles.ts';

// Failures where no API error body can be read: nothing listening, or a base URL that points at
// something other than the API (here a local server playing the dApp's own static host).

let double: TestDouble | undefined;

afterEach(async () => {
  await double?.close();
  double = undefined;
});

const TOKEN = 'header.payload.signature';

describe('failures without an API error body', () => {
  it('nothing listening at the base URL is NETWORK_ERROR with status 0', async () => {
    const port = await closedPort();
    const dapp = createDappClient({ baseUrl: `http://127.0.0.1:${port}`, accessToken: () => TOKEN });
    const err = await dapp.nodes.list().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApiError);
    expect(err).toMatchObject({ code: 'NETWORK_ERROR', status: 0, requestId: undefined });
    expect((err as ApiError).message).toContain(`127.0.0.1:${port}`);
  });

  it('a base URL serving an HTML page (200) is INVALID_RESPONSE with the HTTP status', async () => {
    double = await startTestDouble((_req, res) =>
      res.writeHead(200, { 'content-type': 'text/html' }).end('<!doctype html><title>dApp</title>'),
    );
    const dapp = createDappClient({ baseUrl: double.url, accessToken: () => TOKEN });
    const err = await dapp.installTokens.list().catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'INVALID_RESPONSE', status: 200 });
    expect((err as ApiError).message).toMatch(/base URL/);
  });

  it('a base URL answering 404 without the error body is INVALID_RESPONSE (404)', async () => {
    double = await startTestDouble((_req, res) =>
      res.writeHead(404, { 'content-type': 'text/plain' }).end('Not Found'),
    );
    const dapp = createDappClient({ baseUrl: double.url, accessToken: () => TOKEN });
    await expect(dapp.ekAnchors.delete(crypto.randomUUID())).rejects.toMatchObject({
      code: 'INVALID_RESPONSE',
      status: 404,
    });
  });

  it('JSON that does not match the contract is INVALID_RESPONSE with the mismatching paths', async () => {
    double = await startTestDouble((_req, res) =>
      res
        .writeHead(200, { 'content-type': 'application/json' })
        .end(JSON.stringify({ items: [{ nodeId: 'n1' }] })),
    );
    const dapp = createDappClient({ baseUrl: double.url, accessToken: () => TOKEN });
    const err = (await dapp.nodes.list().catch((e: unknown) => e)) as ApiError;
    expect(err).toMatchObject({ code: 'INVALID_RESPONSE', status: 200 });
    expect((err.details?.issues as { path: string }[] | undefined)?.map((i) => i.path)).toContain(
      'items.0.nodeId',
    );
  });

  it('an error code added to the API after this SDK still reaches the caller', async () => {
    double = await startTestDouble((_req, res) =>
      res
        .writeHead(418, { 'content-type': 'application/json' })
        .end(
          JSON.stringify({ error: { code: 'TEAPOT_REQUIRED', message: 'a newer code', requestId: 'r-418' } }),
        ),
    );
    const dapp = createDappClient({ baseUrl: double.url, accessToken: () => TOKEN });
    await expect(dapp.nodes.list()).rejects.toMatchObject({
      code: 'TEAPOT_REQUIRED',
      status: 418,
      requestId: 'r-418',
    });
  });
});
