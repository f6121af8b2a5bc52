import { cloudflareTest } from '@cloudflare/vitest-pool-workers';
import { defineConfig } from 'vitest/config';
import { ensureAgentBundle } from './scripts/lib/agent-bundle.ts';
import { generateAuditSigningKey, generateSigningKeySet } from './scripts/lib/dev-secrets.ts';

// The Worker serves the agent bundle from its static assets: build it once, before any project starts
// a Worker (the vitest pool or wrangler dev), never from two processes at a time.
ensureAgentBundle();

/** Secrets for the Worker under test: fresh per run, never the developer's .dev.vars. */
export const WORKER_TEST_BINDINGS = {
  ENVIRONMENT: 'test',
  JWT_ISSUER: 'https://noderr-trust.test',
  DAPP_ORIGINS: 'https://dapp.test',
  // Two session keys, newest first: the first is activated on first use (bootstrap), the second stays
  // pending until functions/test/worker/session-keys.test.ts activates it.
  NODE_JWT_KEYS: JSON.stringify({
    keys: [
      ...JSON.parse(await generateSigningKeySet()).keys,
      ...JSON.parse(await generateSigningKeySet()).keys,
    ],
  }),
  SUPABASE_JWT_SECRET: 'test-only-supabase-jwt-secret-0123456789abcdef',
  AUDIT_SIGNING_KEY: generateAuditSigningKey(),
};

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
              bindings: WORKER_TEST_BINDINGS,
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
