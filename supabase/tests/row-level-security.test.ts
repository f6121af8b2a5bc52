import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase } from '../../scripts/test/database.ts';

/**
 * The browser-facing roles (anon, authenticated) reach nothing: no table, no function. The service
 * role reads tables and calls functions but writes only through them. RLS with no policies stays on
 * as the second wall.
 */
describe('row level security and privileges', () => {
  let db: postgres.Sql;
  let tables: string[];
  const updatableColumn = new Map<string, string>();
  let functions: { name: string; signature: string; call: string }[];

  beforeAll(async () => {
    const { url } = await createTestDatabase();
    db = postgres(url, { max: 1, onnotice: () => {} });
    tables = (
      await db<
        { name: string }[]
      >`select c.relname as name from pg_class c join pg_namespace n on n.oid = c.relnamespace
                                  where n.nspname = 'public' and c.relkind = 'r' order by 1`
    ).map((r) => r.name);
    for (const r of await db<{ t: string; c: string }[]>`
      select table_name as t, column_name as c from information_schema.columns
      where table_schema = 'public' and is_identity = 'NO' order by ordinal_position desc`) {
      updatableColumn.set(r.t, r.c); // ends on the first updatable (non-identity) column
    }
    // A call with every argument null: enough to hit the privilege check, which comes first.
    functions = await db<{ name: string; signature: string; call: string }[]>`
      select p.proname as name, p.oid::regprocedure::text as signature,
             format('select * from public.%I(%s)', p.proname,
                    coalesce((select string_agg('null', ', ') from generate_series(1, p.pronargs)), '')) as call
      from pg_proc p join pg_namespace n on n.oid = p.pronamespace
      where n.nspname = 'public' order by 1`;
  });

  afterAll(async () => {
    await db.end({ timeout: 5 });
  });

  async function as<T>(role: string, statement: string): Promise<T | { code: string }> {
    try {
      return (await db.begin(async (tx) => {
        await tx.unsafe(`set local role ${role}`);
        return tx.unsafe(statement);
      })) as T;
    } catch (err) {
      return { code: (err as { code: string }).code };
    }
  }

  it('covers every table of the schema', () => {
    expect(tables).toEqual([
      'action_approvals',
      'admin_credentials',
      'attestation_challenges',
      'attestation_policies',
      'attestations',
      'audit_events',
      'audit_log',
      'audit_log_heads',
      'audit_log_queue',
      'audit_vault',
      'ek_trust_anchors',
      'install_tokens',
      'node_credentials',
      'node_identities',
      'pending_actions',
      'pending_activations',
      'session_signing_keys',
      'webauthn_challenges',
    ]);
    // 23 + the signed audit log (4) + admin keys and approvals (8) + session signing keys (2).
    expect(functions.length).toBe(37);
  });

  it('has RLS enabled on every table', async () => {
    const rows =
      await db`select c.relname, c.relrowsecurity from pg_class c join pg_namespace n on n.oid = c.relnamespace
                          where n.nspname = 'public' and c.relkind = 'r' and not c.relrowsecurity`;
    expect(rows).toEqual([]);
  });

  for (const role of ['anon', 'authenticated']) {
    it(`${role}: every table is unreadable and unwritable (permission denied, 42501)`, async () => {
      for (const t of tables) {
        expect(await as(role, `select * from public.${t} limit 1`), `select ${t}`).toEqual({ code: '42501' });
        expect(await as(role, `insert into public.${t} default values`), `insert ${t}`).toEqual({
          code: '42501',
        });
        const column = updatableColumn.get(t)!;
        expect(await as(role, `update public.${t} set ${column} = ${column}`), `update ${t}`).toEqual({
          code: '42501',
        });
        expect(await as(role, `delete from public.${t}`), `delete ${t}`).toEqual({ code: '42501' });
      }
    });

    it(`${role}: no function is executable (42501)`, async () => {
      for (const f of functions) {
        expect(await as(role, f.call), f.signature).toEqual({ code: '42501' });
      }
    });
  }

  it('RLS still hides every row if a grant slips through (no policies exist)', async () => {
    const rows = await db
      .begin(async (tx) => {
        await tx`grant select on public.install_tokens, public.node_identities to anon`;
        await tx`set local role anon`;
        const r = await tx`select (select count(*) from public.install_tokens)::int as tokens,
                                (select count(*) from public.node_identities)::int as nodes`;
        await tx`reset role`;
        throw Object.assign(new Error('rollback'), { rows: r });
      })
      .catch((e: { rows?: unknown }) => e.rows);
    expect(rows).toEqual([{ tokens: 0, nodes: 0 }]);
    const [still] =
      await db`select has_table_privilege('anon', 'public.install_tokens', 'select') as granted`;
    expect(still?.granted).toBe(false);
    const [policies] = await db`select count(*)::int as n from pg_policies where schemaname = 'public'`;
    expect(policies?.n).toBe(0);
  });

  it('service_role executes every function and reads tables, but cannot write them directly', async () => {
    for (const f of functions) {
      const [row] = await db<
        { ok: boolean }[]
      >`select has_function_privilege('service_role', ${f.signature}, 'execute') as ok`;
      expect(row?.ok, f.signature).toBe(true);
    }
    for (const t of tables) {
      expect(Array.isArray(await as('service_role', `select * from public.${t} limit 1`)), t).toBe(true);
      expect(await as('service_role', `delete from public.${t}`), t).toEqual({ code: '42501' });
    }
  });

  it('internal helpers in schema private are not callable by the API roles', async () => {
    for (const role of ['anon', 'authenticated', 'service_role']) {
      expect(await as(role, `select private.is_sha256_hex('x')`), role).toEqual({ code: '42501' });
    }
  });
});
