import { createRemoteJWKSet, decodeProtectedHeader, type JWTPayload, jwtVerify } from 'jose';
import type { Config } from '../config.ts';
import { ApiError } from '../errors.ts';

/**
 * Admin calls carry a Supabase Auth access token. It is verified locally with jose: against the
 * project's JWKS (asymmetric signing keys) or, for projects still on the legacy JWT secret, HS256 with
 * that secret. The `npm start` dev admin token is an HS256 token signed with the local dev secret, so it
 * takes exactly the same path. The admin role is `app_metadata.role == "admin"` (app_metadata is
 * writable only with the service role, unlike user_metadata).
 */
export interface Admin {
  userId: string;
  email: string | undefined;
}

const remoteSets = new Map<string, ReturnType<typeof createRemoteJWKSet>>();

function remoteJwks(supabaseUrl: string) {
  let set = remoteSets.get(supabaseUrl);
  if (!set) {
    set = createRemoteJWKSet(new URL('/auth/v1/.well-known/jwks.json', supabaseUrl), {
      cooldownDuration: 30_000,
    });
    remoteSets.set(supabaseUrl, set);
  }
  return set;
}

const UNAUTHORIZED = () =>
  new ApiError(
    'UNAUTHORIZED',
    'Sign in to the dApp and send the Supabase access token as Authorization: Bearer <token>.',
  );

export async function authenticateAdmin(config: Config, authorization: string | undefined): Promise<Admin> {
  const token = /^Bearer ([A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+)$/.exec(authorization ?? '')?.[1];
  if (!token) throw UNAUTHORIZED();
  let payload: JWTPayload;
  try {
    const { alg } = decodeProtectedHeader(token);
    const options = { audience: 'authenticated', requiredClaims: ['sub', 'exp'] };
    if (alg === 'HS256' && config.SUPABASE_JWT_SECRET) {
      ({ payload } = await jwtVerify(token, new TextEncoder().encode(config.SUPABASE_JWT_SECRET), {
        ...options,
        algorithms: ['HS256'],
      }));
    } else if (config.SUPABASE_URL && alg !== 'HS256') {
      ({ payload } = await jwtVerify(token, remoteJwks(config.SUPABASE_URL), {
        ...options,
        algorithms: ['ES256', 'RS256'],
        issuer: new URL('/auth/v1', config.SUPABASE_URL).toString(),
      }));
    } else {
      throw new Error('no key for this algorithm');
    }
  } catch {
    throw UNAUTHORIZED();
  }
  const role = (payload.app_metadata as { role?: unknown } | undefined)?.role;
  if (role !== 'admin') {
    throw new ApiError(
      'FORBIDDEN',
      'This account is not an administrator; ask an admin to set app_metadata.role = "admin".',
    );
  }
  return { userId: payload.sub!, email: typeof payload.email === 'string' ? payload.email : undefined };
}
