import postgres from 'postgres';
import type { TestProject } from 'vitest/node';
import { applyMigrations } from '../lib/migrations.ts';
import { startPostgresServer } from '../lib/postgres-server.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    /** Superuser URL of the suite's PostgreSQL 15 server (database `postgres`). */
    postgresAdminUrl: string;
    /** A database with every migration applied, ready for the project's tests. */
    databaseUrl: string;
    /** Name of the migrated template database that tests clone for isolation. */
    templateDatabase: string;
  }
}

/**
 * Starts a real PostgreSQL 15 on a private port and data directory for a vitest project, applies the
 * migrations to a template database, and removes everything afterwards.
 */
export default async function setup(project: TestProject) {
  const server = await startPostgresServer();
  const template = 'noderr_template';
  const admin = postgres(server.url, { max: 1, onnotice: () => {} });
  await admin.unsafe(`create database ${template}`);
  await applyMigrations(server.urlFor(template), { localPlatform: true });
  await admin.unsafe(`create database noderr_project template ${template}`);
  await admin.end();
  project.provide('postgresAdminUrl', server.url);
  project.provide('databaseUrl', server.urlFor('noderr_project'));
  project.provide('templateDatabase', template);
  // Stop the server only when the vitest process exits: at teardown time workerd's Hyperdrive proxy may
  // still hold connections, and a server going away under it surfaces as an unhandled ECONNRESET.
  process.once('exit', () => server.stop());
}
