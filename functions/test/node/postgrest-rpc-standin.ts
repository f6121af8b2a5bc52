import postgres from 'postgres';

/**
 * TEST-ONLY STAND-IN for PostgREST's `rpc` endpoint. PostgREST cannot run on this machine (not in
 * Debian or npm, and `supabase start` needs Docker), so the supabase adapter is tested through
 * supabase-js with this injected `fetch`. It does what PostgREST does for `POST /rest/v1/rpc/<fn>`
 * and nothing more:
 *
 * - the API key picks the database role (service_role or anon), as PostgREST does from the JWT's
 *   `role` claim, and the call runs in a transaction after `set local role` with `request.jwt.claims`;
 * - the JSON body's keys are the function's named arguments, cast to the declared argument types;
 * - the result is `json_agg` of the returned rows (so timestamps, bigints and jsonb serialise exactly
 *   as PostgREST serialises them); a function with named result columns (RETURNS TABLE or OUT
 *   parameters) answers objects keyed by column name even with a single column, as PostgREST does since
 *   8.0.1 (PostgREST#1930/#1931) — a bare `f() as r` would turn a one-column result into scalars;
 * - errors use PostgREST's JSON shape `{code, message, details, hint}` and its HTTP status mapping
 *   (P0001 → 400, 42501 → 401/403, 23505 → 409, 42883 → 404, connection errors → 503, else 500).
 *
 * The SQL runs on the same real PostgreSQL as the postgres adapter's tests.
 */
export interface PostgrestRpcStandin {
  /** Base URL to give `createClient` (nothing listens there; requests go to `fetch`). */
  url: string;
  serviceRoleKey: string;
  anonKey: string;
  fetch: typeof fetch;
  /** Function names called so far, in order (to prove the adapter only uses rpc). */
  calls: string[];
  close(): Promise<void>;
}

const ROLE_OF_KEY = new Map([
  ['standin-service-role-key', 'service_role'],
  ['standin-anon-key', 'anon'],
]);

interface FunctionArgument {
  name: string;
  type: string;
}

function json(status: number, body: unknown): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { 'content-type': 'application/json; charset=utf-8' },
  });
}

function statusOf(sqlState: string, role: string): number {
  if (sqlState === '42501') return role === 'anon' ? 401 : 403;
  if (sqlState === '23505' || sqlState === '23503') return 409;
  if (sqlState === '42883') return 404;
  if (sqlState === 'P0001' || sqlState.startsWith('22') || sqlState.startsWith('23')) return 400;
  if (sqlState.startsWith('08') || sqlState.startsWith('53') || sqlState.startsWith('57')) return 503;
  return 500;
}

export function createPostgrestRpcStandin(databaseUrl: string): PostgrestRpcStandin {
  const sql = postgres(databaseUrl, { max: 10, onnotice: () => {}, fetch_types: false });
  const calls: string[] = [];

  async function signatureOf(
    fn: string,
  ): Promise<{ args: FunctionArgument[]; namedColumns: boolean } | undefined> {
    const rows = await sql<{ name: string | null; type: string; mode: string }[]>`
      select a.name, format_type(a.type, null) as type, a.mode::text as mode
      from pg_proc p
      join pg_namespace n on n.oid = p.pronamespace,
      unnest(coalesce(p.proallargtypes, p.proargtypes::oid[]), p.proargnames,
             coalesce(p.proargmodes, array_fill('i'::"char", array[p.pronargs]))) as a(type, name, mode)
      where n.nspname = 'public' and p.proname = ${fn}`;
    const found = await sql`select 1 from pg_proc p join pg_namespace n on n.oid = p.pronamespace
                            where n.nspname = 'public' and p.proname = ${fn}`;
    if (found.length === 0) return undefined;
    return {
      args: rows
        .filter((r) => r.mode === 'i' || r.mode === 'b')
        .map((r) => ({ name: r.name ?? '', type: r.type })),
      namedColumns: rows.some((r) => r.mode === 't' || r.mode === 'o' || r.mode === 'b'),
    };
  }

  const standinFetch: typeof fetch = async (input, init) => {
    const request = new Request(input, init);
    const url = new URL(request.url);
    const match = /^\/rest\/v1\/rpc\/([a-z_][a-z0-9_]*)$/.exec(url.pathname);
    if (request.method !== 'POST' || !match) {
      return json(404, {
        code: 'PGRST000',
        message: 'stand-in serves POST /rest/v1/rpc/<fn> only',
        details: null,
        hint: null,
      });
    }
    const fn = match[1]!;
    const key = request.headers.get('apikey') ?? '';
    const role = ROLE_OF_KEY.get(key);
    if (!role || request.headers.get('authorization') !== `Bearer ${key}`) {
      return json(401, { code: 'PGRST301', message: 'JWT could not be decoded', details: null, hint: null });
    }
    calls.push(fn);
    const body = (await request.json().catch(() => null)) as Record<string, unknown> | null;
    if (body === null || typeof body !== 'object' || Array.isArray(body)) {
      return json(400, { code: 'PGRST102', message: 'Empty or invalid json', details: null, hint: null });
    }
    const signature = await signatureOf(fn);
    const declared = signature?.args;
    const byName = new Map((declared ?? []).map((a) => [a.name, a]));
    const names = Object.keys(body);
    if (!declared || names.some((n) => !byName.has(n))) {
      return json(404, {
        code: 'PGRST202',
        message: `Could not find the function public.${fn}(${names.join(', ')}) in the schema cache`,
        details: null,
        hint: null,
      });
    }
    // Typed by the casts below; postgres.js serialises each JSON value by that type.
    const values = names.map((n) => body[n] ?? null);
    const list = names.map((n, i) => `${n} => $${i + 1}::${byName.get(n)!.type}`).join(', ');
    const source = signature?.namedColumns
      ? `(select * from public.${fn}(${list})) as _r`
      : `public.${fn}(${list}) as _r`;
    try {
      const [row] = await sql.begin(async (tx) => {
        await tx.unsafe(`set local role ${role}`);
        await tx`select set_config('request.jwt.claims', ${JSON.stringify({ role })}, true)`;
        return tx.unsafe<{ body: string }[]>(
          `select coalesce(json_agg(_r), '[]'::json)::text as body from ${source}`,
          values as postgres.ParameterOrJSON<never>[],
        );
      });
      return new Response(row?.body ?? '[]', {
        status: 200,
        headers: { 'content-type': 'application/json; charset=utf-8' },
      });
    } catch (err) {
      const e = err as { code?: unknown; message?: unknown; detail?: unknown; hint?: unknown };
      const code = typeof e.code === 'string' ? e.code : 'XX000';
      return json(statusOf(code, role), {
        code,
        message: typeof e.message === 'string' ? e.message : 'error',
        details: typeof e.detail === 'string' && e.detail !== '' ? e.detail : null,
        hint: typeof e.hint === 'string' ? e.hint : null,
      });
    }
  };

  return {
    url: 'http://postgrest-standin.test',
    serviceRoleKey: 'standin-service-role-key',
    anonKey: 'standin-anon-key',
    fetch: standinFetch,
    calls,
    close: () => sql.end({ timeout: 5 }),
  };
}
