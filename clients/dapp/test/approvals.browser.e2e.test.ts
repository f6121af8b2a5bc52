import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SignJWT } from 'jose';
import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readTar } from '../../../functions/src/services/tar.ts';
import { createPostgresStorage } from '../../../functions/src/storage/postgres.ts';
import { Stack } from '../../../functions/test/node/stack.ts';
import { registerNode } from '../../../functions/test/node/storage-fixtures.ts';
import { generateSigningKeySet } from '../../../scripts/lib/dev-secrets.ts';
import { EVENTS_PATH } from '../../../shared/provara/event-log.ts';
import { MemoryVaultFiles } from '../../../shared/provara/vault-files.ts';
import { verifyVault } from '../../../shared/provara/verify.ts';
import { buildPageApp } from './page-app.ts';

// Two administrators, each in their own Chromium context with a DevTools virtual authenticator (CTAP2,
// USB, user presence), use the built SDK from a dApp page on http://localhost:<port> (the WebAuthn
// relying party "localhost"). The Worker runs under wrangler dev with ADMIN_APPROVAL_THRESHOLD=2 and
// verifies every ceremony with @simplewebauthn/server.

const CHROMIUM_FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--disable-quic',
];

const PAGE_SCRIPT = (sdkPath: string) => `
import { createDappClient } from ${JSON.stringify(sdkPath)};
const run = async (f) => {
  try { return { ok: true, value: await f() }; }
  catch (e) { return { ok: false, name: e.name, code: e.code, status: e.status, message: e.message, details: JSON.parse(JSON.stringify(e.details ?? null)) }; }
};
window.sdk = (baseUrl, token) => {
  const dapp = createDappClient({ baseUrl, accessToken: () => token });
  return {
    enrol: (label) => run(() => dapp.securityKeys.enrol({ label })),
    reactivate: (nodeId) => run(() => dapp.nodes.setStatus(nodeId, { status: 'active', reason: 'checked by two admins' })),
    addAnchor: (pem) => run(() => dapp.ekAnchors.add({ label: 'vTPM CA', pem })),
    approve: (id) => run(() => dapp.approvals.approve(id)),
    sign: (id) => run(() => dapp.approvals.sign(id)),
    submit: (id, assertion) => run(() => dapp.approvals.submit(id, assertion)),
    activateSessionKey: (kid) => run(() => dapp.sessionKeys.activate(kid)),
    sessionKeys: () => run(() => dapp.sessionKeys.list()),
  };
};
`;
const HTML =
  '<!doctype html><meta charset="utf-8"><title>dApp</title><script type="module" src="/app.js"></script>';

type Outcome<T = Record<string, unknown>> =
  | { ok: true; value: T }
  | {
      ok: false;
      name: string;
      code: string;
      status: number;
      message: string;
      details?: Record<string, unknown>;
    };

interface Admin {
  token: string;
  context: BrowserContext;
  page: Page;
  call<T = Record<string, unknown>>(method: string, ...args: unknown[]): Promise<Outcome<T>>;
}

let stack: Stack;
let browser: Browser;
let server: Server;
let origin = '';
let outDir = '';
let alice: Admin;
let bob: Admin;
// NODE_JWT_KEYS with two keys, newest first: `firstKid` is activated on first use (bootstrap), `secondKid`
// stays pending until the quorum activates it.
let firstKid = '';
let secondKid = '';

async function adminToken(sub: string, email: string): Promise<string> {
  return new SignJWT({ role: 'authenticated', email, app_metadata: { role: 'admin' } })
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setSubject(sub)
    .setAudience('authenticated')
    .setIssuedAt()
    .setExpirationTime('1h')
    .sign(new TextEncoder().encode(stack.jwtSecret));
}

async function openAdmin(sub: string, email: string): Promise<Admin> {
  const token = await adminToken(sub, email);
  const context = await browser.newContext();
  const page = await context.newPage();
  const cdp = await context.newCDPSession(page);
  await cdp.send('WebAuthn.enable');
  await cdp.send('WebAuthn.addVirtualAuthenticator', {
    options: {
      protocol: 'ctap2',
      transport: 'usb',
      hasResidentKey: true,
      hasUserVerification: true,
      isUserVerified: true,
    },
  });
  await page.goto(`${origin}/`);
  await page.waitForFunction(() => 'sdk' in window);
  const apiUrl = stack.api.url;
  return {
    token,
    context,
    page,
    call: (method, ...args) =>
      page.evaluate(
        ([u, t, m, a]) => {
          const api = (
            window as unknown as {
              sdk(u: string, t: string): Record<string, (...x: unknown[]) => Promise<unknown>>;
            }
          ).sdk(u, t);
          return api[m]!(...a);
        },
        [apiUrl, token, method, args] as const,
      ) as never,
  };
}

async function nodeStatus(nodeId: string): Promise<string> {
  const res = await stack.admin<{ items: { nodeId: string; status: string }[] }>(
    'GET',
    '/api/v1/admin/nodes',
  );
  return res.body.items.find((n) => n.nodeId === nodeId)?.status ?? 'missing';
}

async function suspendedNode(): Promise<string> {
  const node = await registerNode(createPostgresStorage(stack.pg.url));
  const res = await stack.admin('POST', `/api/v1/admin/nodes/${node.nodeId}/status`, {
    status: 'suspended',
    reason: 'PCR 7 changed',
  });
  expect(res.status).toBe(200); // tightening: one admin, no quorum
  return node.nodeId;
}

beforeAll(async () => {
  outDir = mkdtempSync(join(tmpdir(), 'noderr-dapp-approvals-'));
  const appJs = await buildPageApp(outDir, PAGE_SCRIPT);
  server = createServer((req, res) => {
    if (req.url === '/app.js') res.writeHead(200, { 'content-type': 'text/javascript' }).end(appJs);
    else res.writeHead(200, { 'content-type': 'text/html' }).end(HTML);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  origin = `http://localhost:${(server.address() as AddressInfo).port}`;
  const sessionKeys = {
    keys: [
      ...JSON.parse(await generateSigningKeySet()).keys,
      ...JSON.parse(await generateSigningKeySet()).keys,
    ] as { kid: string }[],
  };
  [firstKid, secondKid] = sessionKeys.keys.map((k) => k.kid) as [string, string];
  [stack, browser] = await Promise.all([
    Stack.start({
      DAPP_ORIGINS: origin,
      WEBAUTHN_RP_ID: 'localhost',
      ADMIN_APPROVAL_THRESHOLD: '2',
      NODE_JWT_KEYS: JSON.stringify(sessionKeys),
    }),
    chromium.launch({ executablePath: '/usr/bin/chromium', args: CHROMIUM_FLAGS }),
  ]);
  alice = await openAdmin('00000000-0000-4000-8000-0000000a11ce', 'alice@noderr.test');
  bob = await openAdmin('00000000-0000-4000-8000-000000000b0b', 'bob@noderr.test');
}, 180_000);

afterAll(async () => {
  await browser?.close();
  await stack?.stop();
  server?.close();
  if (outDir) rmSync(outDir, { recursive: true, force: true });
}, 60_000);

type Action = {
  id: string;
  status: string;
  digest: string;
  challenge: string;
  approvals: unknown[];
  threshold: number;
};
type Approved = { action: Action; counted: boolean };

describe('hardware-key quorum in Chromium (virtual authenticators, 2 of 2)', () => {
  let nodeId = '';
  let reactivation: Action;

  it('before any key is enrolled (bootstrap), a reactivation runs with one admin', async () => {
    const id = await suspendedNode();
    const res = await alice.call<{ status: string }>('reactivate', id);
    expect(res).toMatchObject({ ok: true, value: { status: 'active' } });
    expect(await nodeStatus(id)).toBe('active');
  });

  it('before any key is enrolled, the first session signing key is activated on first use', async () => {
    const jwks = await stack.call<{ keys: { kid: string }[] }>('GET', '/.well-known/jwks.json');
    expect(jwks.body.keys.map((k) => k.kid)).toEqual([firstKid]);
  });

  it('two admins enrol their security keys; each is active at once while the quorum is not yet in force', async () => {
    const a = await alice.call<{
      key: { status: string; keyId: string; algorithm: number };
      action: unknown;
    }>('enrol', 'alice key');
    expect(a).toMatchObject({ ok: true, value: { key: { status: 'active' }, action: null } });
    const b = await bob.call<{ key: { status: string }; action: unknown }>('enrol', 'bob key');
    expect(b).toMatchObject({ ok: true, value: { key: { status: 'active' }, action: null } });
    const keys = await stack.admin<{ items: { keyId: string; status: string }[] }>(
      'GET',
      '/api/v1/admin/security-keys',
    );
    expect(keys.body.items.filter((k) => k.status === 'active')).toHaveLength(2);
    expect(keys.body.items.every((k) => /^bp1_[0-9a-f]{16}$/.test(k.keyId))).toBe(true);
  });

  it('with 2 admins enrolled, reactivating a suspended node returns a pending action instead', async () => {
    nodeId = await suspendedNode();
    const res = await alice.call<Action>('reactivate', nodeId);
    expect(res.ok).toBe(true);
    reactivation = (res as { value: Action }).value;
    expect(reactivation).toMatchObject({ status: 'pending', threshold: 2, approvals: [] });
    expect(reactivation.digest).toMatch(/^[0-9a-f]{64}$/);
    expect(Buffer.from(reactivation.challenge, 'base64url').toString('hex')).toBe(reactivation.digest);
    expect(await nodeStatus(nodeId)).toBe('suspended');
  });

  it('one approval is not enough, and the same key approving twice counts once', async () => {
    const first = await alice.call<Approved>('approve', reactivation.id);
    expect(first).toMatchObject({ ok: true, value: { counted: true, action: { status: 'pending' } } });
    expect((first as { value: Approved }).value.action.approvals).toHaveLength(1);
    const again = await alice.call<Approved>('approve', reactivation.id);
    expect(again).toMatchObject({ ok: true, value: { counted: false, action: { status: 'pending' } } });
    expect((again as { value: Approved }).value.action.approvals).toHaveLength(1);
    expect(await nodeStatus(nodeId)).toBe('suspended');
  });

  it('an assertion over another action’s digest is refused (APPROVAL_INVALID)', async () => {
    const other = await bob.call<Action>('reactivate', await suspendedNode());
    expect(other).toMatchObject({ ok: true, value: { status: 'pending' } });
    const otherId = (other as { value: Action }).value.id;
    const signed = await bob.call<Record<string, unknown>>('sign', otherId);
    expect(signed.ok).toBe(true);
    const res = await bob.call(
      'submit',
      reactivation.id,
      (signed as { value: Record<string, unknown> }).value,
    );
    expect(res).toMatchObject({ ok: false, code: 'APPROVAL_INVALID', status: 403 });
    expect(await nodeStatus(nodeId)).toBe('suspended');
  });

  it('the second admin’s approval meets the quorum and the node is active again', async () => {
    const res = await bob.call<Approved>('approve', reactivation.id);
    expect(res).toMatchObject({ ok: true, value: { counted: true, action: { status: 'executed' } } });
    expect((res as { value: Approved }).value.action.approvals).toHaveLength(2);
    expect(await nodeStatus(nodeId)).toBe('active');
  });

  it('with the quorum in force, activating the pending session key needs two approvals; then it signs and JWKS rotates', async () => {
    const res = await alice.call<Action & { kind: string; params: { kid: string } }>(
      'activateSessionKey',
      secondKid,
    );
    expect(res).toMatchObject({
      ok: true,
      value: { kind: 'session_key.activate', status: 'pending', threshold: 2, params: { kid: secondKid } },
    });
    const id = (res as { value: Action }).value.id;
    expect(await alice.call<Approved>('approve', id)).toMatchObject({
      ok: true,
      value: { action: { status: 'pending' } },
    });
    const jwksBefore = await stack.call<{ keys: { kid: string }[] }>('GET', '/.well-known/jwks.json');
    expect(jwksBefore.body.keys.map((k) => k.kid)).toEqual([firstKid]);
    expect(await bob.call<Approved>('approve', id)).toMatchObject({
      ok: true,
      value: { action: { status: 'executed' } },
    });
    const listed = await alice.call<{
      items: {
        kid: string;
        status: string;
        activationMode: string;
        signing: boolean;
        approvals: unknown[];
      }[];
    }>('sessionKeys');
    const items = (
      listed as {
        value: {
          items: {
            kid: string;
            status: string;
            activationMode: string;
            signing: boolean;
            approvals: unknown[];
          }[];
        };
      }
    ).value.items;
    expect(items.find((k) => k.kid === secondKid)).toMatchObject({
      status: 'active',
      activationMode: 'quorum',
      signing: true,
    });
    expect(items.find((k) => k.kid === secondKid)?.approvals).toHaveLength(2);
    expect(items.find((k) => k.kid === firstKid)).toMatchObject({
      status: 'retired',
      activationMode: 'auto',
    });
    const jwks = await stack.call<{ keys: { kid: string }[] }>('GET', '/.well-known/jwks.json');
    expect(jwks.body.keys.map((k) => k.kid)).toEqual([secondKid, firstKid]);
    const again = await alice.call('activateSessionKey', firstKid);
    expect(again).toMatchObject({ ok: false, code: 'CONFLICT', status: 409 });
  });

  it('an expired pending action cannot be completed (ACTION_EXPIRED)', async () => {
    const pending = await alice.call<Action>('reactivate', await suspendedNode());
    const id = (pending as { value: Action }).value.id;
    expect(await alice.call<Approved>('approve', id)).toMatchObject({
      ok: true,
      value: { action: { status: 'pending' } },
    });
    // The passage of time, as the dashboard would write it: the action's deadline is now in the past.
    await stack.sql(
      `update public.pending_actions set expires_at = now() - interval '1 second' where id = '${id}'`,
    );
    const late = await bob.call('approve', id);
    expect(late).toMatchObject({ ok: false, code: 'ACTION_EXPIRED', status: 410 });
  });

  it('a further key enrolled under the quorum stays pending until approved', async () => {
    const c = await openAdmin('00000000-0000-4000-8000-0000000ca201', 'carol@noderr.test');
    try {
      const res = await c.call<{ key: { status: string }; action: Action }>('enrol', 'carol key');
      expect(res).toMatchObject({
        ok: true,
        value: { key: { status: 'pending' }, action: { status: 'pending' } },
      });
      const action = (res as { value: { action: Action } }).value.action;
      // Carol's pending key cannot approve anything, not even her own activation: the assertion options
      // list active keys only, so her authenticator has nothing it may sign with.
      expect(await c.call('approve', action.id)).toMatchObject({ ok: false, name: 'NotAllowedError' });
      await alice.call('approve', action.id);
      expect(await bob.call('approve', action.id)).toMatchObject({
        ok: true,
        value: { action: { status: 'executed' } },
      });
      const keys = await stack.admin<{ items: { label: string; status: string }[] }>(
        'GET',
        '/api/v1/admin/security-keys',
      );
      expect(keys.body.items.find((k) => k.label === 'carol key')?.status).toBe('active');
    } finally {
      await c.context.close();
    }
  });

  it('the approvals are in the exported signed log as a multisig approval event that verifies', async () => {
    const res = await fetch(`${stack.api.url}/api/v1/admin/audit/export`, {
      headers: { authorization: `Bearer ${stack.adminToken}` },
    });
    expect(res.status).toBe(200);
    const files = new MemoryVaultFiles();
    for (const e of readTar(new Uint8Array(await res.arrayBuffer()))) {
      if (e.data) await files.write(e.path, e.data);
      else await files.mkdir(e.path);
    }
    const report = await verifyVault(files);
    expect(report.errors).toEqual([]);
    const lines = new TextDecoder()
      .decode(await files.read(EVENTS_PATH))
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l));
    const approved = lines.find(
      (e) =>
        e.type === 'com.noderr.trust.multisig_approval' && e.payload.details.action_id === reactivation.id,
    );
    expect(approved).toBeDefined();
    const details = approved.payload.details as {
      digest: string;
      approvals: { admin_label: string; client_data_json: string }[];
    };
    expect(details.digest).toBe(reactivation.digest);
    expect(details.approvals.map((a) => a.admin_label)).toEqual([
      'alice@noderr.test (00000000-0000-4000-8000-0000000a11ce)',
      'bob@noderr.test (00000000-0000-4000-8000-000000000b0b)',
    ]);
    for (const a of details.approvals) {
      const cd = JSON.parse(Buffer.from(a.client_data_json, 'base64url').toString('utf8')) as {
        challenge: string;
        type: string;
      };
      expect(cd.type).toBe('webauthn.get');
      expect(cd.challenge).toBe(reactivation.challenge);
    }
    const statusChange = lines.find(
      (e) =>
        e.payload.action === 'node.status_changed' &&
        e.payload.node_id === nodeId &&
        e.payload.new_status === 'active',
    );
    expect(statusChange?.payload.actor).toMatch(/^quorum 2 of 2: alice@noderr\.test .*, bob@noderr\.test /);
    const rotation = lines.find(
      (e) => e.payload.action === 'session_key.activated' && e.payload.details.kid === secondKid,
    );
    expect(rotation?.payload.details).toMatchObject({ mode: 'quorum', previous_kid: firstKid });
    expect(
      lines.some(
        (e) =>
          e.type === 'com.noderr.trust.multisig_approval' &&
          e.payload.details.action_id === rotation?.payload.details.action_id,
      ),
    ).toBe(true);
  });
});
