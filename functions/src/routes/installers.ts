import { Hono } from 'hono';
import linuxInstaller from '../../../installers/linux/install.sh';
import type { AppEnv } from '../app-env.ts';

/**
 * `GET /install/linux`: the Linux installer, for `curl -fsSL <api>/install/linux | bash -s -- <TOKEN>`.
 * The script's default API URL becomes the origin that served it, so the one-liner needs no --api-url.
 */
const DEFAULT_URL_LINE = /^NODERR_DEFAULT_API_URL="[^"]*"(.*)$/m;

export function withDefaultApiUrl(script: string, origin: string): string {
  if (!/^https?:\/\/[A-Za-z0-9.:[\]-]+$/.test(origin))
    throw new Error('refusing to embed an unexpected origin');
  return script.replace(
    DEFAULT_URL_LINE,
    (_line, rest: string) => `NODERR_DEFAULT_API_URL="${origin}"${rest}`,
  );
}

async function sha256Hex(text: string): Promise<string> {
  const d = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(text));
  return Array.from(new Uint8Array(d), (b) => b.toString(16).padStart(2, '0')).join('');
}

export const installers = new Hono<AppEnv>().get('/linux', async (c) => {
  const script = withDefaultApiUrl(linuxInstaller, new URL(c.req.url).origin);
  c.header('content-type', 'text/x-shellscript; charset=utf-8');
  c.header('cache-control', 'no-store');
  c.header('x-content-sha256', await sha256Hex(script));
  return c.body(script);
});
