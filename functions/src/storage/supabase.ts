import { createClient, type SupabaseClientOptions } from '@supabase/supabase-js';
import { toStorageError } from './errors.ts';
import { type Storage, StorageUnavailable } from './port.ts';
import type { Rpc, RpcRow } from './rpc.ts';
import { createSqlFunctionStorage } from './sql-functions.ts';

export interface SupabaseStorageConfig {
  url: string;
  serviceRoleKey: string;
  /**
   * Passed through to `createClient` (merged over our defaults). Tests inject `global.fetch`; on Node 20
   * `realtime.transport` must be given because Node 20 has no WebSocket (workerd needs nothing).
   */
  clientOptions?: SupabaseClientOptions<'public'>;
}

interface PostgrestErrorLike {
  code?: unknown;
  message?: unknown;
  details?: unknown;
}

const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);

/**
 * The supabase-js adapter: every port method is one `rpc()` call (PostgREST `POST /rest/v1/rpc/<fn>`)
 * with the service-role key, which is the only role allowed to execute the functions. No session is
 * kept: the key is static and the Worker is stateless.
 */
export function createSupabaseStorage(config: SupabaseStorageConfig): Storage {
  const client = createClient(config.url, config.serviceRoleKey, {
    ...config.clientOptions,
    auth: { persistSession: false, autoRefreshToken: false, detectSessionInUrl: false },
  });

  const rpc: Rpc = async (fn, args) => {
    let result: { data: unknown; error: PostgrestErrorLike | null; status: number };
    try {
      result = await client.rpc(fn, args);
    } catch (err) {
      throw new StorageUnavailable(err);
    }
    const { data, error, status } = result;
    if (error) {
      const sqlState = str(error.code);
      const mapped = toStorageError({ sqlState, message: str(error.message), detail: str(error.details) });
      if (mapped) throw mapped;
      // No SQLSTATE and a gateway status, or PostgREST's "cannot reach the database" (PGRST000-003).
      if (status === 0 || status >= 502 || sqlState?.startsWith('PGRST00') || sqlState?.startsWith('08')) {
        throw new StorageUnavailable(error);
      }
      throw new Error(`rpc ${fn} failed: ${sqlState ?? status} ${str(error.message) ?? ''}`.trim(), {
        cause: error,
      });
    }
    if (!Array.isArray(data)) throw new Error(`rpc ${fn} returned ${typeof data}, expected rows`);
    return data as RpcRow[];
  };

  return createSqlFunctionStorage(rpc, async () => {
    // The cheapest call that proves PostgREST and the database answer with this key.
    await rpc('get_policy', { p_tier: 'ALL' });
  });
}
