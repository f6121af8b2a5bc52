import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import postgres from 'postgres';

/**
 * Our migration runner: applies `supabase/migrations/*.sql` in file-name order to any Postgres URL
 * (PGlite behind its socket server, Debian's PostgreSQL, or Supabase itself) and records each one in
 * `supabase_migrations.schema_migrations` — the table the Supabase CLI keeps — so that
 * `supabase db push` and this runner agree on what is applied. A migration that was applied and then
 * edited is an error, not a silent skip.
 */

export interface Migration {
  version: string;
  name: string;
  sql: string;
}

export interface MigrationResult {
  applied: string[];
  skipped: string[];
}

const FILE = /^(\d{14})_([a-z0-9_]+)\.sql$/;

export const MIGRATIONS_DIR = new URL('../../supabase/migrations/', import.meta.url).pathname;
export const LOCAL_PLATFORM_SQL = new URL('../../supabase/local/platform.sql', import.meta.url).pathname;

export function readMigrations(dir = MIGRATIONS_DIR): Migration[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith('.sql'))
    .sort()
    .map((f) => {
      const m = FILE.exec(f);
      if (!m) throw new Error(`migration file ${f} must be named <14-digit timestamp>_<snake_case>.sql`);
      return { version: m[1]!, name: m[2]!, sql: readFileSync(join(dir, f), 'utf8') };
    });
}

export interface ApplyOptions {
  dir?: string;
  /**
   * Outside Supabase, first create what the Supabase platform provides (the anon / authenticated /
   * service_role roles, `auth.uid()`, the `extensions` schema). Idempotent. Never for a Supabase project.
   */
  localPlatform?: boolean;
  log?: (line: string) => void;
}

export async function applyMigrations(url: string, options: ApplyOptions = {}): Promise<MigrationResult> {
  const log = options.log ?? (() => {});
  const sql = postgres(url, { max: 1, onnotice: () => {}, connect_timeout: 10 });
  try {
    if (options.localPlatform) {
      // Idempotent; run on every call because roles are per cluster but schemas are per database.
      await sql.unsafe(readFileSync(LOCAL_PLATFORM_SQL, 'utf8'));
      log('ensured the local stand-ins for the Supabase platform (roles, auth schema)');
    }
    await sql.unsafe(`
      create schema if not exists supabase_migrations;
      create table if not exists supabase_migrations.schema_migrations (
        version text primary key, statements text[], name text);`);
    const result: MigrationResult = { applied: [], skipped: [] };
    for (const m of readMigrations(options.dir)) {
      const done = await sql.begin(async (tx) => {
        // One runner at a time, even if two start together (npm start twice, parallel test setup).
        await tx`select pg_advisory_xact_lock(hashtext('noderr.migrations'))`;
        const [prev] = await tx<{ statements: string[] | null }[]>`
          select statements from supabase_migrations.schema_migrations where version = ${m.version}`;
        if (prev) {
          if (prev.statements && prev.statements.join('') !== m.sql) {
            throw new Error(
              `migration ${m.version}_${m.name} was edited after it was applied; add a new migration instead`,
            );
          }
          return false;
        }
        await tx.unsafe(m.sql);
        await tx`insert into supabase_migrations.schema_migrations (version, statements, name)
                 values (${m.version}, ${[m.sql]}, ${m.name})`;
        return true;
      });
      (done ? result.applied : result.skipped).push(`${m.version}_${m.name}`);
      if (done) log(`applied ${m.version}_${m.name}`);
    }
    return result;
  } finally {
    await sql.end({ timeout: 5 });
  }
}
