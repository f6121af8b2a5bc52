import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ApiClient } from '../src/agent/api-client.ts';
import type { AgentContext } from '../src/agent/context.ts';
import { backoffDelay, runDaemon } from '../src/agent/daemon.ts';
import { StateStore } from '../src/agent/state.ts';

/**
 * The daemon's decisions with the API played by a fetch test double (the real Worker path is covered by
 * agent.e2e.test.ts). The session JWT in the state is valid, so no TPM is needed for these beats.
 */

const NODE_ID = `0x${'ab'.repeat(32)}`;
let dir: string | undefined;
afterEach(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
  dir = undefined;
});

function context(fetchImpl: typeof fetch): AgentContext {
  dir = mkdtempSync(join(tmpdir(), 'noderr-daemon-'));
  const store = new StateStore(dir);
  store.writeState({
    version: 1,
    apiUrl: 'http://api.invalid',
    nodeId: NODE_ID,
    tier: 'ALL',
    tpm: 'swtpm:port=1',
    ekKind: 'ecc',
    akHandle: 0x81008001,
    nodeKeyHandle: 0x81008002,
    akPublic: '',
    nodeKeyPublic: '',
    publicKeyPem: '',
    pcrSelection: { sha256: [0] },
    heartbeatIntervalSeconds: 1,
    registeredAt: new Date().toISOString(),
  });
  store.writeCredentials({
    apiKey: `ndr_live_${'0'.repeat(64)}`,
    jwt: 'header.payload.sig',
    jwtExpiresAt: new Date(Date.now() + 3600_000).toISOString(),
  });
  return {
    store,
    tpmSpec: 'swtpm:port=1',
    api: new ApiClient({ baseUrl: 'http://api.invalid', fetchImpl }),
    progress: () => {},
  };
}

const errorBody = (code: string, status: number) =>
  new Response(JSON.stringify({ error: { code, message: code, requestId: 'r' } }), {
    status,
    headers: { 'content-type': 'application/json' },
  });
const ack = () =>
  new Response(
    JSON.stringify({
      acknowledged: true,
      shouldUpdate: false,
      targetVersion: '0.1.0',
      attestation: { required: false },
    }),
    {
      status: 200,
    },
  );

function run(ctx: AgentContext, signal = new AbortController().signal) {
  const events: Record<string, unknown>[] = [];
  const done = runDaemon(ctx, {
    intervalMs: 10,
    backoffBaseMs: 10,
    backoffMaxMs: 80,
    signal,
    event: (e) => events.push(e),
    random: () => 1,
  });
  return { events, done };
}

describe('runDaemon', () => {
  it('exits 11 when the API says NODE_SUSPENDED, and records it for status', async () => {
    const ctx = context(async () => errorBody('NODE_SUSPENDED', 403));
    const { events, done } = run(ctx);
    expect(await done).toBe(11);
    expect(events.at(-1)).toMatchObject({ event: 'suspended' });
    expect(ctx.store.readStatus()).toMatchObject({
      nodeStatus: 'suspended',
      lastError: { code: 'NODE_SUSPENDED' },
    });
  });

  it('exits 10 when the API says NODE_REVOKED', async () => {
    const { done } = run(context(async () => errorBody('NODE_REVOKED', 403)));
    expect(await done).toBe(10);
  });

  it('backs off on 503 and network errors, doubling up to the cap, then recovers', async () => {
    let n = 0;
    const ac = new AbortController();
    const ctx = context(async () => {
      n++;
      if (n <= 2) return errorBody('DATABASE_UNAVAILABLE', 503);
      if (n <= 5) throw new TypeError('fetch failed', { cause: { code: 'ECONNREFUSED' } });
      if (n === 6) return ack();
      ac.abort();
      return ack();
    });
    const { events, done } = run(ctx, ac.signal);
    expect(await done).toBe(0);
    const backoffs = events.filter((e) => e.event === 'backoff');
    expect(backoffs.map((e) => e.delayMs)).toEqual([10, 20, 40, 80, 80]);
    expect(backoffs.map((e) => e.code)).toEqual(Array(5).fill('API_UNREACHABLE'));
    expect(events.find((e) => e.event === 'recovered')).toMatchObject({ afterFailures: 5 });
    expect(events.at(-1)).toMatchObject({ event: 'stopped' });
  });

  it('keeps going (with backoff) when the API rejects a beat for another reason', async () => {
    let n = 0;
    const ac = new AbortController();
    const ctx = context(async () => {
      if (++n === 1) return errorBody('CHALLENGE_EXPIRED', 410);
      ac.abort();
      return ack();
    });
    const { events, done } = run(ctx, ac.signal);
    expect(await done).toBe(0);
    expect(events.find((e) => e.event === 'backoff')).toMatchObject({ code: 'API_REJECTED' });
  });

  it('exits 3 when the state disappears', async () => {
    const ctx = context(async () => ack());
    rmSync(join(ctx.store.dir, 'state.json'));
    const { events, done } = run(ctx);
    expect(await done).toBe(3);
    expect(events.at(-1)).toMatchObject({ event: 'fatal', code: 'NOT_REGISTERED' });
  });
});

describe('backoffDelay', () => {
  it('is exponential with equal jitter and capped', () => {
    expect([1, 2, 3, 4, 10].map((a) => backoffDelay(a, 1000, 5000, () => 1))).toEqual([
      1000, 2000, 4000, 5000, 5000,
    ]);
    expect([1, 2, 3].map((a) => backoffDelay(a, 1000, 5000, () => 0))).toEqual([500, 1000, 2000]);
  });
});

describe('ApiClient', () => {
  const client = (f: () => Promise<Response>) =>
    new ApiClient({ baseUrl: 'http://api.invalid/', fetchImpl: f as typeof fetch });

  it('carries the verifier reason of ATTESTATION_INVALID in details.reason', async () => {
    const body = {
      error: {
        code: 'ATTESTATION_INVALID',
        message: 'rejected',
        requestId: 'r1',
        details: { reason: 'EK_CERT_UNTRUSTED' },
      },
    };
    await expect(
      client(async () => new Response(JSON.stringify(body), { status: 422 })).installConfig('t'),
    ).rejects.toMatchObject({
      code: 'API_REJECTED',
      details: { apiCode: 'ATTESTATION_INVALID', reason: 'EK_CERT_UNTRUSTED', status: 422 },
    });
  });

  it('maps API errors to typed codes with the API code in details', async () => {
    await expect(
      client(async () => errorBody('INSTALL_TOKEN_USED', 409)).installConfig('t'),
    ).rejects.toMatchObject({
      code: 'API_REJECTED',
      details: { apiCode: 'INSTALL_TOKEN_USED', status: 409 },
    });
    await expect(client(async () => errorBody('RATE_LIMITED', 429)).challenge(NODE_ID)).rejects.toMatchObject(
      {
        code: 'API_UNREACHABLE',
      },
    );
    await expect(
      client(async () => new Response('bad gateway', { status: 502 })).challenge(NODE_ID),
    ).rejects.toMatchObject({
      code: 'API_UNREACHABLE',
    });
  });

  it('rejects an answer that breaks the contract: API_RESPONSE_INVALID', async () => {
    await expect(client(async () => new Response('{"nonce": 5}')).challenge(NODE_ID)).rejects.toMatchObject({
      code: 'API_RESPONSE_INVALID',
    });
  });
});
