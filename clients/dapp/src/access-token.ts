import { ApiError } from './api-error.ts';

/** Returns the signed-in admin's Supabase Auth access token (or nothing when no one is signed in). */
export type AccessTokenFunction = () => string | null | undefined | Promise<string | null | undefined>;

/** The part of a supabase-js `Session` the SDK reads. */
export interface SupabaseSessionLike {
  access_token: string;
  /** Unix seconds. */
  expires_at?: number | undefined;
}

interface SupabaseSessionResult {
  data: { session: SupabaseSessionLike | null };
  error?: unknown;
}

/**
 * The part of a supabase-js client the SDK uses. A real `SupabaseClient` satisfies it; so does any
 * object with these two methods.
 */
export interface SupabaseAuthClient {
  auth: {
    getSession(): Promise<SupabaseSessionResult>;
    refreshSession(): Promise<SupabaseSessionResult>;
  };
}

/** How the SDK authenticates: a token function, or a supabase-js client whose session it follows. */
export type AdminAuth = { accessToken: AccessTokenFunction } | { supabase: SupabaseAuthClient };

/** Refresh a session this close to its expiry rather than send a token that dies in flight. */
const EXPIRY_MARGIN_SECONDS = 30;

/** Where each request gets its bearer token; `refresh` exists when the source can mint a new one. */
export interface AccessTokenSource {
  current(): Promise<string>;
  refresh: (() => Promise<string>) | undefined;
}

function notSignedIn(message: string, cause?: unknown): ApiError {
  return new ApiError({ code: 'UNAUTHORIZED', status: 0, message, cause });
}

function fromFunction(fn: AccessTokenFunction): AccessTokenSource {
  return {
    async current() {
      let token: string | null | undefined;
      try {
        token = await fn();
      } catch (cause) {
        throw notSignedIn('The accessToken function failed; sign in again.', cause);
      }
      if (!token)
        throw notSignedIn('No access token: the accessToken function returned none; sign in first.');
      return token;
    },
    refresh: undefined,
  };
}

function fromSupabase(client: SupabaseAuthClient): AccessTokenSource {
  // One refresh at a time: parallel calls share it (Supabase refresh tokens are single-use).
  let inFlight: Promise<string> | undefined;
  const refresh = (): Promise<string> => {
    inFlight ??= (async () => {
      try {
        const { data, error } = await client.auth.refreshSession();
        if (error || !data.session) {
          throw notSignedIn('The Supabase session could not be refreshed; sign in again.', error);
        }
        return data.session.access_token;
      } finally {
        inFlight = undefined;
      }
    })();
    return inFlight;
  };
  return {
    async current() {
      const { data, error } = await client.auth.getSession();
      const session = data.session;
      if (error || !session) throw notSignedIn('No Supabase session: sign in first.', error);
      const expiresAt = session.expires_at;
      if (expiresAt !== undefined && expiresAt - EXPIRY_MARGIN_SECONDS <= Date.now() / 1000) {
        return refresh();
      }
      return session.access_token;
    },
    refresh,
  };
}

/**
 * The token source for `auth`.
 *
 * @example
 * ```ts
 * const source = accessTokenSource({ accessToken: () => localStorage.getItem('token') });
 * const bearer = await source.current();
 * ```
 */
export function accessTokenSource(auth: AdminAuth): AccessTokenSource {
  return 'supabase' in auth ? fromSupabase(auth.supabase) : fromFunction(auth.accessToken);
}
