import postgres from '/work/main/node_modules/postgres/src/index.js';
import { applyMigrations } from '/work/main/scripts/lib/migrations.ts';
import { startPostgresServer } from '/work/main/scripts/lib/postgres-server.ts';

const s = await startPostgresServer();
try {
  const r = await applyMigrations(s.url, { localPlatform: true });
  console.log(r);
  const r2 = await applyMigrations(s.url, { localPlatform: true });
  console.log(r2.applied.length, r2.skipped.length);
  const sql = postgres(s.url, { max: 1, onnotice: () => {} });
  console.log(await sql`select * from public.get_policy('ORACLE')`);
  await sql.end();
} catch (e) {
  console.error(e);
} finally {
  s.stop();
}
