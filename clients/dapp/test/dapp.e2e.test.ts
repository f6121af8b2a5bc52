import { createClient } from '@supabase/supabase-js';
import { afterAll, beforeAll, describe, expect, expectTypeOf, it, type MockInstance, vi } from 'vitest';
import { Stack, TpmNode } from '../../../functions/test/node/stack.ts';
import type { SupabaseAuthClient } from '../src/access-token.ts';
import { ApiError, isApiError } from '../src/api-error.ts';
import { createDappClient, type DappClient } from '../src/client.ts';
import type { FetchLike } from '../src/request.ts';
import { signAccessToken } from './access-tokens.ts';
import { SupabaseAuthStandIn } from './supabase-auth-stand-in.ts';

// The SDK against the real Worker under `wrangler dev`, a real PostgreSQL 15 and one real swtpm node.
// Tests run in order: later ones use the node, anchors and tokens earlier ones created, and the last
// one stops the database.

const APPLICATION_ID = '6f1c1d2e-0000-4000-8000-00000000da99';

async function rejection(promise: Promise<unknown>): Promise<ApiError> {
  const err = await promise.then(
    () => {
      throw new Error('expected the call to reject');
    },
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ApiError);
  return err as ApiError;
}

/** An error the API sent: code, status, and a request id equal to the response's x-request-id. */
async function apiRejection(promise: Promise<unknown>, code: string, status: number): Promise<ApiError> {
  const err = await rejection(promise);
  expect({ code: err.code, status: err.status }).toEqual({ code, status });
  expect(err.requestId).toMatch(/\S{8,}/);
  expect(err.message.length).toBeGreaterThan(10);
  return err;
}

let stack: Stack;
let node: TpmNode;
let dapp: DappClient;
const sent: { method: string; url: string }[] = [];
/** Every secret the suite handled: none may reach the console. */
const secrets: string[] = [];
const consoleSpies: MockInstance[] = [];

const countingFetch: FetchLike = (input, init) => {
  sent.push({ method: init.method ?? 'GET', url: input });
  return fetch(input, init);
};

beforeAll(async () => {
  for (const level of ['log', 'info', 'warn', 'error', 'debug'] as const) {
    consoleSpies.push(vi.spyOn(console, level));
  }
  [stack, node] = await Promise.all([Stack.start(), TpmNode.create()]);
  secrets.push(stack.adminToken);
  dapp = createDappClient({
    baseUrl: stack.api.url,
    accessToken: () => stack.adminToken,
    fetch: countingFetch,
  });
}, 180_000);

afterAll(async () => {
  for (const spy of consoleSpies) spy.mockRestore();
  await Promise.all([stack?.stop(), node?.stop()]);
}, 60_000);

describe('EK trust anchors', () => {
  let issuerAnchorId = '';

  it('add returns the anchor, and list shows it', async () => {
    const root = await dapp.ekAnchors.add({ label: 'swtpm root', pem: node.tpm.caRootPem });
    const issuer = await dapp.ekAnchors.add({ label: 'swtpm issuer', pem: node.tpm.caIssuerPem });
    issuerAnchorId = issuer.id;
    expect(root).toMatchObject({ label: 'swtpm root', fingerprint: expect.stringMatching(/^[0-9a-f]{64}$/) });
    const { items } = await dapp.ekAnchors.list();
    expect(items.map((a) => a.id).sort()).toEqual([root.id, issuer.id].sort());
  });

  it('add of a certificate already trusted is CONFLICT (409)', async () => {
    await apiRejection(dapp.ekAnchors.add({ label: 'again', pem: node.tpm.caRootPem }), 'CONFLICT', 409);
  });

  it('add of a PEM that is not a readable certificate is VALIDATION_FAILED (400) from the API', async () => {
    const pem = '-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydGlmaWNhdGU=\n-----END CERTIFICATE-----\n';
    const err = await apiRejection(dapp.ekAnchors.add({ label: 'junk', pem }), 'VALIDATION_FAILED', 400);
    expect(err.details).toEqual({ issues: [{ path: 'pem', message: expect.any(String) }] });
  });

  it('delete answers nothing; deleting again is NOT_FOUND (404)', async () => {
    await expect(dapp.ekAnchors.delete(issuerAnchorId)).resolves.toBeUndefined();
    await apiRejection(dapp.ekAnchors.delete(issuerAnchorId), 'NOT_FOUND', 404);
    // Put it back: the node registers through this issuer below.
    await dapp.ekAnchors.add({ label: 'swtpm issuer', pem: node.tpm.caIssuerPem });
  });
});

describe('install tokens', () => {
  let activeId = '';

  it('issue hands out the token value once, with the 7-day default', async () => {
    const before = Date.now();
    const issued = await dapp.installTokens.issue({
      applicationId: APPLICATION_ID,
      tier: 'ALL',
      os: 'windows',
    });
    secrets.push(issued.token);
    activeId = issued.id;
    expect(issued).toMatchObject({
      tier: 'ALL',
      os: 'windows',
      token: expect.stringMatching(/^ndr_install_[0-9a-f]{64}$/),
    });
    const days = (Date.parse(issued.expiresAt) - before) / 86_400_000;
    expect(days).toBeGreaterThan(6.99);
    expect(days).toBeLessThan(7.01);
  });

  it('list filters by status and never carries token values', async () => {
    const active = await dapp.installTokens.list({ status: 'active' });
    expect(active.items.map((t) => t.id)).toContain(activeId);
    expect(JSON.stringify(active)).not.toMatch(/ndr_install_/);
    const revoked = await dapp.installTokens.list({ status: 'revoked' });
    expect(revoked.items.map((t) => t.id)).not.toContain(activeId);
    const all = await dapp.installTokens.list();
    expect(all.items.find((t) => t.id === activeId)).toMatchObject({
      applicationId: APPLICATION_ID,
      status: 'active',
    });
  });

  it('revoke marks the token revoked; revoking twice is a no-op', async () => {
    const first = await dapp.installTokens.revoke(activeId);
    expect(first).toMatchObject({ id: activeId, status: 'revoked', revokedAt: expect.any(String) });
    expect(await dapp.installTokens.revoke(activeId)).toMatchObject({ status: 'revoked' });
  });

  it('revoke of an unknown id is NOT_FOUND (404)', async () => {
    await apiRejection(dapp.installTokens.revoke(crypto.randomUUID()), 'NOT_FOUND', 404);
  });

  it('keeps no copy of an issued token anywhere in the client', async () => {
    const issued = await dapp.installTokens.issue({
      applicationId: APPLICATION_ID,
      tier: 'GUARDIAN',
      os: 'linux',
      expiresInDays: 1,
    });
    secrets.push(issued.token);
    const seen = new Set<unknown>();
    const walk = (v: unknown): string[] => {
      if (typeof v === 'string') return [v];
      if ((typeof v !== 'object' && typeof v !== 'function') || v === null || seen.has(v)) return [];
      seen.add(v);
      return Reflect.ownKeys(v).flatMap((k) => walk((v as Record<PropertyKey, unknown>)[k]));
    };
    expect(walk(dapp).filter((s) => s.includes(issued.token))).toEqual([]);
  });
});

describe('nodes', () => {
  let tokenId = '';

  it('list shows a node registered with an SDK-issued token, by status', async () => {
    const issued = await dapp.installTokens.issue({
      applicationId: APPLICATION_ID,
      tier: 'ORACLE',
      os: 'linux',
      expiresInDays: 1,
    });
    secrets.push(issued.token);
    tokenId = issued.id;
    const res = await node.register(stack, issued.token);
    expect(res.status).toBe(201);
    secrets.push(node.apiKey, node.jwt);
    const { items } = await dapp.nodes.list();
    expect(items).toEqual([
      expect.objectContaining({ nodeId: node.nodeId, tier: 'ORACLE', status: 'active' }),
    ]);
    expect((await dapp.nodes.list({ status: 'suspended' })).items).toEqual([]);
  });

  it('revoke of a used install token is CONFLICT (409)', async () => {
    await apiRejection(dapp.installTokens.revoke(tokenId), 'CONFLICT', 409);
  });

  it('setStatus suspends, reactivates and revokes; a revoked node cannot come back (CONFLICT 409)', async () => {
    const suspended = await dapp.nodes.setStatus(node.nodeId, {
      status: 'suspended',
      reason: 'sdk test: maintenance',
    });
    expect(suspended).toMatchObject({ nodeId: node.nodeId, status: 'suspended' });
    expect((await dapp.nodes.list({ status: 'suspended' })).items.map((n) => n.nodeId)).toEqual([
      node.nodeId,
    ]);
    expect(await dapp.nodes.setStatus(node.nodeId, { status: 'active', reason: 'back' })).toMatchObject({
      status: 'active',
    });
    expect(
      await dapp.nodes.setStatus(node.nodeId, { status: 'revoked', reason: 'decommissioned' }),
    ).toMatchObject({
      status: 'revoked',
    });
    await apiRejection(
      dapp.nodes.setStatus(node.nodeId, { status: 'active', reason: 'undo' }),
      'CONFLICT',
      409,
    );
  });

  it('setStatus of an unknown node is NODE_NOT_FOUND (404)', async () => {
    await apiRejection(
      dapp.nodes.setStatus(`0x${'ab'.repeat(32)}`, { status: 'suspended', reason: 'x' }),
      'NODE_NOT_FOUND',
      404,
    );
  });
});

describe('policies', () => {
  it('get returns the default policy of a tier', async () => {
    const policy = await dapp.policies.get('ORACLE');
    expect(policy).toMatchObject({
      tier: 'ORACLE',
      requireEkCertificate: true,
      pcrMode: 'baseline',
      pcrSelection: { sha256: [0, 1, 2, 3, 4, 5, 6, 7] },
      reattestationIntervalSeconds: 3600,
      sessionTtlSeconds: 900,
    });
  });

  it('put replaces the policy and get reads it back with a new version', async () => {
    const before = await dapp.policies.get('GUARDIAN');
    const put = await dapp.policies.put('GUARDIAN', {
      requireEkCertificate: true,
      pcrSelection: { sha256: [7] },
      pcrMode: 'allowlist',
      allowedPcrValues: { sha256: { '7': ['ab'.repeat(32)] } },
      reattestationIntervalSeconds: 1800,
      sessionTtlSeconds: 600,
    });
    expect(put).toMatchObject({
      tier: 'GUARDIAN',
      pcrMode: 'allowlist',
      sessionTtlSeconds: 600,
      version: before.version + 1,
    });
    expect(await dapp.policies.get('GUARDIAN')).toEqual(put);
  });

  it('put of an allowlist that leaves a selected PCR without values is VALIDATION_FAILED (400)', async () => {
    const err = await apiRejection(
      dapp.policies.put('GUARDIAN', {
        requireEkCertificate: true,
        pcrSelection: { sha256: [0, 7] },
        pcrMode: 'allowlist',
        allowedPcrValues: { sha256: { '7': ['ab'.repeat(32)] } },
        reattestationIntervalSeconds: 1800,
        sessionTtlSeconds: 600,
      }),
      'VALIDATION_FAILED',
      400,
    );
    expect(err.message).toMatch(/details\.issues|schema/);
  });

  it('put of a body over 256 KiB is PAYLOAD_TOO_LARGE (413)', async () => {
    const values = Array.from({ length: 4200 }, (_, i) => i.toString(16).padStart(64, '0'));
    await apiRejection(
      dapp.policies.put('ALL', {
        requireEkCertificate: false,
        pcrSelection: { sha256: [7] },
        pcrMode: 'allowlist',
        allowedPcrValues: { sha256: { '7': values } },
        reattestationIntervalSeconds: 3600,
        sessionTtlSeconds: 900,
      }),
      'PAYLOAD_TOO_LARGE',
      413,
    );
  });
});

describe('input checked before sending', () => {
  it('an invalid input is VALIDATION_FAILED with status 0 and no request is sent', async () => {
    const count = sent.length;
    const bad = dapp.installTokens.issue({
      applicationId: 'not-a-uuid',
      tier: 'ORACLE',
      os: 'linux',
      expiresInDays: 9,
    });
    const err = await rejection(bad);
    expect({ code: err.code, status: err.status, requestId: err.requestId }).toEqual({
      code: 'VALIDATION_FAILED',
      status: 0,
      requestId: undefined,
    });
    expect(((err.details?.issues ?? []) as { path: string }[]).map((i) => i.path).sort()).toEqual([
      'applicationId',
      'expiresInDays',
    ]);
    await rejection(dapp.nodes.setStatus('../../install-tokens', { status: 'active', reason: 'x' }));
    await rejection(dapp.ekAnchors.delete('1 OR 1=1'));
    expect(sent.length).toBe(count);
  });
});

describe('admin authentication (token function)', () => {
  it('a token function returning nothing is UNAUTHORIZED with status 0, nothing sent', async () => {
    const count = sent.length;
    const anon = createDappClient({ baseUrl: stack.api.url, accessToken: () => null, fetch: countingFetch });
    const err = await rejection(anon.nodes.list());
    expect({ code: err.code, status: err.status }).toEqual({ code: 'UNAUTHORIZED', status: 0 });
    expect(sent.length).toBe(count);
  });

  it('an expired access token is UNAUTHORIZED (401) from the API', async () => {
    const { token } = await signAccessToken(stack.jwtSecret, { role: 'admin', ttlSeconds: -120 });
    secrets.push(token);
    const expired = createDappClient({ baseUrl: stack.api.url, accessToken: async () => token });
    const err = await apiRejection(expired.installTokens.list(), 'UNAUTHORIZED', 401);
    expect(JSON.stringify(err)).not.toContain(token);
    expect(`${err.message}\n${err.stack}`).not.toContain(token);
  });

  it('a signed-in user who is not an admin is FORBIDDEN (403)', async () => {
    const { token } = await signAccessToken(stack.jwtSecret, { role: 'member', ttlSeconds: 600 });
    secrets.push(token);
    const member = createDappClient({ baseUrl: stack.api.url, accessToken: () => token });
    await apiRejection(member.policies.get('ALL'), 'FORBIDDEN', 403);
  });

  it('errors are ApiError instances that isApiError recognises, also as plain copies', async () => {
    const err = await rejection(dapp.installTokens.revoke(crypto.randomUUID()));
    expect(isApiError(err)).toBe(true);
    expect(isApiError({ ...err.toJSON() })).toBe(true);
    expect(isApiError(new Error('x'))).toBe(false);
  });
});

describe('admin authentication (supabase-js client)', () => {
  const session = async (role: 'admin' | 'member', ttlSeconds: number) => {
    const { token, expiresAt } = await signAccessToken(stack.jwtSecret, { role, ttlSeconds });
    secrets.push(token);
    return { access_token: token, expires_at: expiresAt };
  };

  it('a real supabase-js client type-checks as the auth client', () => {
    expectTypeOf<ReturnType<typeof createClient>>().toExtend<SupabaseAuthClient>();
  });

  it('a real supabase-js client with nobody signed in is UNAUTHORIZED with status 0, nothing sent', async () => {
    const supabase = createClient('http://127.0.0.1:9', 'anon-key', {
      auth: { persistSession: false, autoRefreshToken: false },
      realtime: { transport: class NoRealtimeTransport {} as never },
    });
    const count = sent.length;
    const client = createDappClient({ baseUrl: stack.api.url, supabase, fetch: countingFetch });
    const err = await rejection(client.nodes.list());
    expect({ code: err.code, status: err.status }).toEqual({ code: 'UNAUTHORIZED', status: 0 });
    expect(sent.length).toBe(count);
  });

  it("uses the current session's access token", async () => {
    const standIn = new SupabaseAuthStandIn(await session('admin', 600), null);
    const client = createDappClient({ baseUrl: stack.api.url, supabase: standIn });
    expect((await client.policies.get('ALL')).tier).toBe('ALL');
    expect(standIn.refreshCalls).toBe(0);
  });

  it('refreshes an expired session before the call, once for parallel calls', async () => {
    const standIn = new SupabaseAuthStandIn(await session('admin', -60), await session('admin', 600));
    const client = createDappClient({ baseUrl: stack.api.url, supabase: standIn });
    const results = await Promise.all([
      client.nodes.list(),
      client.ekAnchors.list(),
      client.policies.get('ORACLE'),
    ]);
    expect(results).toHaveLength(3);
    expect(standIn.refreshCalls).toBe(1);
  });

  it('refreshes once and retries when the API rejects a session that looked valid', async () => {
    const stale = await session('admin', -60);
    // The session claims 10 more minutes (a skewed clock), but the API knows the token has expired.
    const standIn = new SupabaseAuthStandIn(
      { ...stale, expires_at: stale.expires_at + 660 },
      await session('admin', 600),
    );
    const client = createDappClient({ baseUrl: stack.api.url, supabase: standIn });
    expect((await client.ekAnchors.list()).items.length).toBeGreaterThan(0);
    expect(standIn.refreshCalls).toBe(1);
  });

  it('a session that cannot be refreshed is UNAUTHORIZED with status 0', async () => {
    const standIn = new SupabaseAuthStandIn(await session('admin', -60), null);
    const client = createDappClient({ baseUrl: stack.api.url, supabase: standIn });
    const err = await rejection(client.nodes.list());
    expect({ code: err.code, status: err.status }).toEqual({ code: 'UNAUTHORIZED', status: 0 });
  });

  it("a member's session is FORBIDDEN (403), without a pointless refresh", async () => {
    const standIn = new SupabaseAuthStandIn(await session('member', 600), await session('admin', 600));
    const client = createDappClient({ baseUrl: stack.api.url, supabase: standIn });
    await apiRejection(client.nodes.list(), 'FORBIDDEN', 403);
    expect(standIn.refreshCalls).toBe(0);
  });
});

describe('server failures', () => {
  it('a failing SQL function is INTERNAL (500) with a message that says nothing internal', async () => {
    await stack.sql('alter function public.list_ek_anchors() rename to list_ek_anchors_broken');
    try {
      const err = await apiRejection(dapp.ekAnchors.list(), 'INTERNAL', 500);
      expect(err.message).not.toMatch(/list_ek_anchors|function|sql/i);
    } finally {
      await stack.sql('alter function public.list_ek_anchors_broken() rename to list_ek_anchors');
    }
    expect((await dapp.ekAnchors.list()).items.length).toBeGreaterThan(0);
  });

  it('a stopped database is DATABASE_UNAVAILABLE (503)', async () => {
    stack.pg.stop();
    await apiRejection(dapp.nodes.list(), 'DATABASE_UNAVAILABLE', 503);
  });
});

describe('secrets', () => {
  it('no token, API key or JWT the suite handled was ever written to the console', () => {
    const written = consoleSpies.flatMap((spy) => spy.mock.calls.map((args) => args.map(String).join(' ')));
    for (const secret of secrets) {
      expect(secret.length).toBeGreaterThan(20);
      expect(written.filter((line) => line.includes(secret))).toEqual([]);
    }
  });
});
