import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Browser, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Stack } from '../../../functions/test/node/stack.ts';
import { closedPort } from './http-test-doubles.ts';
import { buildPageApp } from './page-app.ts';

// The built package in Debian's Chromium (playwright-core), served by a small static host from two
// origins: one listed in the Worker's DAPP_ORIGINS, one not. The Worker runs under wrangler dev.

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

/** What the page's `issueToken` returns: the outcome, never the token value itself. */
type IssueOutcome =
  | { ok: true; id: string; tokenWellFormed: boolean }
  | { ok: false; isApiError: boolean; code: string; status: number; message: string };

const PAGE_SCRIPT = (sdkPath: string) => `
import { createDappClient, isApiError } from ${JSON.stringify(sdkPath)};
window.issueToken = async (baseUrl, accessToken) => {
  const dapp = createDappClient({ baseUrl, accessToken: () => accessToken });
  try {
    const issued = await dapp.installTokens.issue({
      applicationId: '6f1c1d2e-0000-4000-8000-00000000b20e', tier: 'ALL', os: 'linux', expiresInDays: 1,
    });
    document.querySelector('#out').textContent = 'issued ' + issued.id;
    return { ok: true, id: issued.id, tokenWellFormed: /^ndr_install_[0-9a-f]{64}$/.test(issued.token) };
  } catch (e) {
    document.querySelector('#out').textContent = e.code + ': ' + e.message;
    return { ok: false, isApiError: isApiError(e), code: e.code, status: e.status, message: e.message };
  }
};
`;

const HTML =
  '<!doctype html><meta charset="utf-8"><title>dApp</title><p id="out"></p><script type="module" src="/app.js"></script>';

let stack: Stack;
let browser: Browser;
let allowedOrigin = '';
let disallowedOrigin = '';
const servers: Server[] = [];
const pageConsole: string[] = [];
let outDir = '';

async function listen(server: Server): Promise<string> {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  servers.push(server);
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

async function openPage(origin: string): Promise<Page> {
  const page = await browser.newPage();
  page.on('console', (m) => pageConsole.push(m.text()));
  await page.goto(`${origin}/`);
  await page.waitForFunction(() => 'issueToken' in window);
  return page;
}

function issueFrom(page: Page, baseUrl: string, token: string): Promise<IssueOutcome> {
  return page.evaluate(
    ([u, t]) =>
      (window as unknown as { issueToken(u: string, t: string): Promise<IssueOutcome> }).issueToken(u, t),
    [baseUrl, token] as const,
  );
}

async function tokenCount(): Promise<number> {
  return (await stack.admin<{ items: unknown[] }>('GET', '/api/v1/admin/install-tokens')).body.items.length;
}

beforeAll(async () => {
  outDir = mkdtempSync(join(tmpdir(), 'noderr-dapp-browser-'));
  const appJs = await buildPageApp(outDir, PAGE_SCRIPT);
  const handler = (req: { url?: string | undefined }, res: import('node:http').ServerResponse) => {
    if (req.url === '/app.js') res.writeHead(200, { 'content-type': 'text/javascript' }).end(appJs);
    else res.writeHead(200, { 'content-type': 'text/html' }).end(HTML);
  };
  allowedOrigin = await listen(createServer(handler));
  disallowedOrigin = await listen(createServer(handler));
  [stack, browser] = await Promise.all([
    Stack.start({ DAPP_ORIGINS: allowedOrigin }),
    chromium.launch({ executablePath: '/usr/bin/chromium', args: CHROMIUM_FLAGS }),
  ]);
}, 180_000);

afterAll(async () => {
  await browser?.close();
  await stack?.stop();
  for (const s of servers) s.close();
  if (outDir) rmSync(outDir, { recursive: true, force: true });
}, 60_000);

describe('the SDK in Chromium', () => {
  it('a page from an allowed origin issues an install token through the SDK', async () => {
    const page = await openPage(allowedOrigin);
    const outcome = await issueFrom(page, stack.api.url, stack.adminToken);
    expect(outcome).toEqual({ ok: true, id: expect.any(String), tokenWellFormed: true });
    const listed = await stack.admin<{ items: { id: string }[] }>('GET', '/api/v1/admin/install-tokens');
    expect(listed.body.items.map((t) => t.id)).toContain(outcome.ok ? outcome.id : '');
    expect(await page.textContent('#out')).toMatch(/^issued /);
    await page.close();
  });

  it('the same page from a disallowed origin is blocked by CORS and the SDK says so (CORS_BLOCKED)', async () => {
    const before = await tokenCount();
    const page = await openPage(disallowedOrigin);
    const outcome = await issueFrom(page, stack.api.url, stack.adminToken);
    expect(outcome).toMatchObject({ ok: false, isApiError: true, code: 'CORS_BLOCKED', status: 0 });
    const message = outcome.ok ? '' : outcome.message;
    expect(message).toContain(disallowedOrigin);
    expect(message).toContain('DAPP_ORIGINS');
    expect(await tokenCount()).toBe(before);
    await page.close();
  });

  it('an unreachable API from the browser is NETWORK_ERROR, not mistaken for CORS', async () => {
    const page = await openPage(allowedOrigin);
    const outcome = await issueFrom(page, `http://127.0.0.1:${await closedPort()}`, stack.adminToken);
    expect(outcome).toMatchObject({ ok: false, isApiError: true, code: 'NETWORK_ERROR', status: 0 });
    await page.close();
  });

  it('nothing the page logged contains the access token', () => {
    expect(pageConsole.filter((line) => line.includes(stack.adminToken))).toEqual([]);
  });
});
