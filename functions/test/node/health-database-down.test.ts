import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { applyMigrations } from '../../../scripts/lib/migrations.ts';
import { type PostgresServer, startPostgresServer } from '../../../scripts/lib/postgres-server.ts';
import { startWranglerDev, type WranglerDev } from '../../../scripts/lib/wrangler-dev.ts';

// The Worker under `wrangler dev` (as `npm start` runs it) with its own PostgreSQL 15, which the test
// then stops for real.
describe('health when the database goes away', () => {
  let pg: PostgresServer;
  let api: WranglerDev;

  beforeAll(async () => {
    pg = await startPostgresServer();
    await applyMigrations(pg.url, { localPlatform: true });
    api = await startWranglerDev({ databaseUrl: pg.url });
  });

  afterAll(async () => {
    await api?.stop();
    pg?.stop();
  });

  it('answers 200 while the database is up', async () => {
    const res = await fetch(`${api.url}/api/v1/health`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: 'ok', version: '0.1.0', database: 'ok' });
  });

  it('answers 503 with the error shape once the database is killed, and keeps serving', async () => {
    pg.stop();
    for (let i = 0; i < 2; i++) {
      const res = await fetch(`${api.url}/api/v1/health`);
      expect(res.status).toBe(503);
      const body = (await res.json()) as { error: Record<string, unknown> };
      expect(body.error).toMatchObject({
        code: 'DATABASE_UNAVAILABLE',
        requestId: res.headers.get('x-request-id'),
        details: { database: 'unreachable' },
      });
      expect(String(body.error.message)).toMatch(/database is unreachable/);
    }
  });
});
