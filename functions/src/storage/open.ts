import type { Storage } from './port.ts';
import { createPostgresStorage } from './postgres.ts';
import { createSupabaseStorage } from './supabase.ts';

/** The configuration `openStorage` reads (a subset of the Worker's Env, so tests can pass a literal). */
export interface StorageEnv {
  STORAGE?: string;
  HYPERDRIVE: { connectionString: string };
  SUPABASE_URL?: string;
  SUPABASE_SERVICE_ROLE_KEY?: string;
}

/**
 * Picks the storage adapter named by configuration: `STORAGE=postgres` (default; postgres.js through
 * the Hyperdrive binding) or `STORAGE=supabase` (supabase-js `rpc` with SUPABASE_URL and
 * SUPABASE_SERVICE_ROLE_KEY). A misconfiguration throws: it must fail loudly, never fall back.
 */
export function openStorage(env: StorageEnv): Storage {
  const kind = env.STORAGE ?? 'postgres';
  if (kind === 'postgres') return createPostgresStorage(env.HYPERDRIVE.connectionString);
  if (kind === 'supabase') {
    if (!env.SUPABASE_URL || !env.SUPABASE_SERVICE_ROLE_KEY) {
      throw new Error('STORAGE=supabase needs SUPABASE_URL and SUPABASE_SERVICE_ROLE_KEY');
    }
    return createSupabaseStorage({ url: env.SUPABASE_URL, serviceRoleKey: env.SUPABASE_SERVICE_ROLE_KEY });
  }
  throw new Error(`STORAGE must be postgres or supabase, not ${kind}`);
}
