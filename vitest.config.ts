import { cloudflareTest } from '@cloudflare/vitest-pool-workers';
import { defineConfig } from 'vitest/config';

/**
 * One suite, three projects:
 * - `unit`   pure logic and node-side tools (shared/, scripts/, clients/, installers/) in Node;
 * - `db`     the SQL schema and the storage adapters against a real PostgreSQL 15;
 * - `worker` the Hono app inside workerd (vitest-pool-workers), its Hyperdrive binding pointed at a real
 *            PostgreSQL 15 started by the project's global setup.
 */
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          environment: 'node',
          include: [
            'shared/**/*.test.ts',
            'scripts/**/*.test.ts',
            'clients/**/*.test.ts',
            'installers/**/*.test.ts',
          ],
          testTimeout: 30_000,
        },
      },
      {
        test: {
          name: 'db',
          environment: 'node',
          include: ['supabase/tests/**/*.test.ts', 'functions/test/node/**/*.test.ts'],
          globalSetup: ['scripts/test/postgres.global-setup.ts'],
          testTimeout: 60_000,
          hookTimeout: 60_000,
        },
      },
      {
        plugins: [
          cloudflareTest(({ inject }) => ({
            wrangler: { configPath: './wrangler.toml' },
            miniflare: {
              hyperdrives: { HYPERDRIVE: inject('databaseUrl') },
            },
          })),
        ],
        test: {
          name: 'worker',
          include: ['functions/test/worker/**/*.test.ts'],
          globalSetup: ['scripts/test/postgres.global-setup.ts'],
          testTimeout: 30_000,
          hookTimeout: 60_000,
        },
      },
    ],
  },
});
