import { Hono } from 'hono';
import linuxInstaller from '../../../installers/linux/install.sh';
import windowsInstaller from '../../../installers/windows/install.ps1';
import type { AppEnv } from '../app-env.ts';

/**
 * The installers, served so that one command installs a node:
 * - `GET /install/linux`: `curl -fsSL <api>/install/linux | bash -s -- <TOKEN>`;
 * - `GET /install/windows.ps1`: `Invoke-WebRequest <api>/install/windows.ps1 -OutFile install-noderr.ps1`.
 * Each script's default API URL (one marked line) becomes the origin that served it, so the one-liner
 * needs no --api-url; `x-content-sha256` lets a cautious operator check what they fetched.
 */
const ORIGIN = /^https?:\/\/[A-Za-z0-9.:[\]-]+$/;
const LINUX_DEFAULT = /^NODERR_DEFAULT_API_URL="[^"]*"(.*)$/m;
const WINDOWS_DEFAULT = /^\$NoderrDefaultApiUrl = '[^']*'(.*)$/m;

function withOrigin(
  script: string,
  line: RegExp,
  render: (origin: string) => string,
  origin: string,
): string {
  // The origin is embedded in a quoted shell/PowerShell string: allow nothing that could close it.
  if (!ORIGIN.test(origin)) throw new Error('refusing to embed an unexpected origin');
  return script.replace(line, (_match, rest: string) => `${render(origin)}${rest}`);
}

export function withDefaultApiUrl(script: string, origin: string): string {
  return withOrigin(script, LINUX_DEFAULT, (o) => `NODERR_DEFAULT_API_URL="${o}"`, origin);
}

export function withDefaultApiUrlPs1(script: string, origin: string): string {
  return withOrigin(script, WINDOWS_DEFAULT, (o) => `$NoderrDefaultApiUrl = '${o}'`, origin);
}

async function sha256Hex(text: string): Promise<string> {
  const d = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(text));
  return Array.from(new Uint8Array(d), (b) => b.toString(16).padStart(2, '0')).join('');
}

async function serve(body: string, contentType: string): Promise<Response> {
  return new Response(body, {
    headers: {
      'content-type': contentType,
      'cache-control': 'no-store',
      'x-content-sha256': await sha256Hex(body),
    },
  });
}

export const installers = new Hono<AppEnv>()
  .get('/linux', (c) =>
    serve(withDefaultApiUrl(linuxInstaller, new URL(c.req.url).origin), 'text/x-shellscript; charset=utf-8'),
  )
  .get('/windows.ps1', (c) =>
    serve(withDefaultApiUrlPs1(windowsInstaller, new URL(c.req.url).origin), 'text/plain; charset=utf-8'),
  );
