/**
 * `npm run migrate -- <postgres-url> [--local-platform]`: apply supabase/migrations to a database.
 * Against Supabase itself prefer `supabase db push`; both record in supabase_migrations.schema_migrations.
 */
import { applyMigrations } from './lib/migrations.ts';

const args = process.argv.slice(2);
const url = args.find((a) => !a.startsWith('--')) ?? process.env.DATABASE_URL;
if (!url) {
  console.error('usage: npm run migrate -- <postgres-url> [--local-platform]   (or set DATABASE_URL)');
  process.exit(2);
}
const result = await applyMigrations(url, {
  localPlatform: args.includes('--local-platform'),
  log: console.log,
});
console.log(`${result.applied.length} applied, ${result.skipped.length} already applied`);
