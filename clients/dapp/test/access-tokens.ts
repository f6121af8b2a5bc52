import { SignJWT } from 'jose';

/**
 * Supabase-style access tokens for tests, signed HS256 with the Worker's test SUPABASE_JWT_SECRET
 * exactly as a legacy Supabase project signs them. `ttlSeconds` < 0 gives an already expired token.
 */
export async function signAccessToken(
  secret: string,
  options: { role: 'admin' | 'member'; ttlSeconds: number },
): Promise<{ token: string; expiresAt: number }> {
  const now = Math.floor(Date.now() / 1000);
  const expiresAt = now + options.ttlSeconds;
  const token = await new SignJWT({
    role: 'authenticated',
    email: `${options.role}@noderr.test`,
    app_metadata: { provider: 'email', role: options.role },
    user_metadata: {},
  })
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setSubject(crypto.randomUUID())
    .setAudience('authenticated')
    .setIssuedAt(Math.min(now, expiresAt - 60))
    .setExpirationTime(expiresAt)
    .sign(new TextEncoder().encode(secret));
  return { token, expiresAt };
}
