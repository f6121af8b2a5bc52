import { env, SELF } from 'cloudflare:test';
import { SignJWT } from 'jose';
import postgres from 'postgres';

/** Test helpers for Worker tests: requests through the real app (SELF), admin tokens, direct SQL. */

export const BASE = 'https://api.test';
export const ADMIN_ID = '00000000-0000-4000-8000-0000000000a1';
export const APPLICATION_ID = '11111111-2222-4333-8444-555555555555';

interface TestEnv {
  SUPABASE_JWT_SECRET: string;
  HYPERDRIVE: { connectionString: string };
}
const testEnv = env as unknown as TestEnv;

/** A Supabase-style access token signed with the project's (test) JWT secret. */
export async function supabaseToken(
  claims: Record<string, unknown> = { app_metadata: { role: 'admin' } },
  options: { secret?: string; expiresIn?: string; audience?: string } = {},
): Promise<string> {
  return new SignJWT({ role: 'authenticated', email: 'admin@noderr.test', ...claims })
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setSubject(ADMIN_ID)
    .setAudience(options.audience ?? 'authenticated')
    .setIssuedAt()
    .setExpirationTime(options.expiresIn ?? '1h')
    .sign(new TextEncoder().encode(options.secret ?? testEnv.SUPABASE_JWT_SECRET));
}

export async function call(
  method: string,
  path: string,
  options: { body?: unknown; rawBody?: string; token?: string; headers?: Record<string, string> } = {},
): Promise<{ status: number; headers: Headers; body: unknown }> {
  // A fresh client address per call unless a test names one, so rate limits only bite where a test means them to.
  const headers: Record<string, string> = {
    'cf-connecting-ip': `198.51.100.${Math.floor(Math.random() * 250) + 1}.${crypto.randomUUID().slice(0, 4)}`,
    ...options.headers,
  };
  if (options.body !== undefined || options.rawBody !== undefined)
    headers['content-type'] ??= 'application/json';
  if (options.token) headers.authorization = `Bearer ${options.token}`;
  const res = await SELF.fetch(`${BASE}${path}`, {
    method,
    headers,
    ...(options.rawBody !== undefined
      ? { body: options.rawBody }
      : options.body !== undefined
        ? { body: JSON.stringify(options.body) }
        : {}),
  });
  const text = await res.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {}
  return { status: res.status, headers: res.headers, body };
}

export async function admin(method: string, path: string, body?: unknown) {
  return call(method, path, { body, token: await supabaseToken() });
}

export async function issueToken(
  tier = 'ALL',
  os = 'linux',
  expiresInDays = 7,
): Promise<{ id: string; token: string }> {
  const res = await admin('POST', '/api/v1/admin/install-tokens', {
    applicationId: APPLICATION_ID,
    tier,
    os,
    expiresInDays,
  });
  if (res.status !== 201) throw new Error(`issue failed: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body as { id: string; token: string };
}

/** Direct SQL on the test database, as the dashboard (postgres superuser) would. */
export async function dashboardSql<T extends readonly object[]>(
  fn: (sql: postgres.Sql) => Promise<T>,
): Promise<T> {
  const sql = postgres(testEnv.HYPERDRIVE.connectionString, { max: 1, fetch_types: false });
  return fn(sql);
}

export function errorOf(body: unknown): {
  code: string;
  message: string;
  requestId: string;
  details?: Record<string, unknown>;
} {
  return (
    body as { error: { code: string; message: string; requestId: string; details?: Record<string, unknown> } }
  ).error;
}
