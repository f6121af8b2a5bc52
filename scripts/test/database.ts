import postgres from 'postgres';
import { inject } from 'vitest';

let counter = 0;

/**
 * A fresh database cloned from the migrated template, for one test file or test. Node-side tests only
 * (the `db` and `e2e` projects); Worker tests get theirs through the Hyperdrive binding.
 */
export async function createTestDatabase(): Promise<{ url: string; name: string }> {
  const adminUrl = inject('postgresAdminUrl');
  const name = `t_${process.pid}_${Date.now().toString(36)}_${counter++}`;
  const admin = postgres(adminUrl, { max: 1, onnotice: () => {} });
  try {
    await admin.unsafe(`create database ${name} template ${inject('templateDatabase')}`);
  } finally {
    await admin.end();
  }
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return { url: url.toString(), name };
}
