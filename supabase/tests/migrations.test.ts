import { readFileSync } from 'node:fs';
import { PGlite } from '@electric-sql/pglite';
import { pgcrypto } from '@electric-sql/pglite/contrib/pgcrypto';
import { PGLiteSocketServer } from '@electric-sql/pglite-socket';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createPostgresStorage } from '../../functions/src/storage/postgres.ts';
import { randomHash, registerNode } from '../../functions/test/node/storage-fixtures.ts';
import { freePort } from '../../scripts/lib/free-port.ts';
import { applyMigrations, LOCAL_PLATFORM_SQL, readMigrations } from '../../scripts/lib/migrations.ts';

const ALL = readMigrations().map((m) => `${m.version}_${m.name}`);

describe('migrations on PostgreSQL 15', () => {
  let admin: postgres.Sql;
  let url: string;

  beforeAll(async () => {
    admin = postgres(inject('postgresAdminUrl'), { max: 1, onnotice: () => {} });
    const name = `m_${process.pid}_${Date.now().toString(36)}`;
    await admin.unsafe(`create database ${name} template template0`);
    const u = new URL(inject('postgresAdminUrl'));
    u.pathname = `/${name}`;
    url = u.toString();
    // The Supabase roles are cluster-wide and exist already (the suite's template created them), so
    // the runner skips platform.sql; its per-database part (schemas extensions and auth) is needed here.
    const db = postgres(url, { max: 1, onnotice: () => {} });
    await db.unsafe(readFileSync(LOCAL_PLATFORM_SQL, 'utf8'));
    await db.end();
  });

  afterAll(async () => {
    await admin.end({ timeout: 5 });
  });

  it('apply cleanly in file order to an empty database, and a second run is a no-op', async () => {
    const first = await applyMigrations(url);
    expect(first).toEqual({ applied: ALL, skipped: [] });
    const db = postgres(url, { max: 1, onnotice: () => {} });
    try {
      const recorded =
        await db`select version || '_' || name as m from supabase_migrations.schema_migrations order by version`;
      expect(recorded.map((r) => r.m)).toEqual(ALL);
      const snapshot =
        () => db`select count(*)::int as n from pg_proc p join pg_namespace s on s.oid = p.pronamespace
                                where s.nspname in ('public', 'private')`;
      const before = await snapshot();
      const second = await applyMigrations(url);
      expect(second).toEqual({ applied: [], skipped: ALL });
      expect(await snapshot()).toEqual(before);
    } finally {
      await db.end();
    }
  });

  it('every table and column in public has a comment (the dashboard explains itself)', async () => {
    const db = postgres(url, { max: 1, onnotice: () => {} });
    try {
      const missing = await db`
        select c.relname as table, a.attname as column
        from pg_class c join pg_namespace n on n.oid = c.relnamespace
        left join pg_attribute a on a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped
        where n.nspname = 'public' and c.relkind = 'r'
          and (obj_description(c.oid, 'pg_class') is null or (a.attnum is not null and col_description(c.oid, a.attnum) is null))`;
      expect(missing).toEqual([]);
      const undocumented =
        await db`select p.proname from pg_proc p join pg_namespace n on n.oid = p.pronamespace
                                    where n.nspname in ('public', 'private') and obj_description(p.oid, 'pg_proc') is null`;
      expect(undocumented).toEqual([]);
    } finally {
      await db.end();
    }
  });
});

describe('migrations on PGlite (PostgreSQL 18 in wasm, as npm start serves it)', () => {
  let pg: PGlite;
  let server: PGLiteSocketServer;
  let url: string;

  beforeAll(async () => {
    pg = await PGlite.create({ extensions: { pgcrypto } });
    const port = await freePort();
    server = new PGLiteSocketServer({ db: pg, host: '127.0.0.1', port, maxConnections: 100 });
    await server.start();
    url = `postgres://postgres:postgres@127.0.0.1:${port}/postgres`;
  }, 60_000);

  afterAll(async () => {
    await server?.stop();
    await pg?.close();
  });

  it('apply cleanly with the local platform stand-ins, and a second run is a no-op', async () => {
    expect(await applyMigrations(url, { localPlatform: true })).toEqual({ applied: ALL, skipped: [] });
    expect(await applyMigrations(url, { localPlatform: true })).toEqual({ applied: [], skipped: ALL });
  });

  it('the SQL functions work there: register, verify, heartbeat', async () => {
    const storage = createPostgresStorage(url);
    const node = await registerNode(storage);
    const nonceHash = randomHash();
    await storage.issueNodeChallenge(node.nodeId, nonceHash);
    const session = await storage.beginNodeSession({
      nodeId: node.nodeId,
      apiKeyHash: node.apiKeyHash,
      nonceHash,
    });
    expect(session.status).toBe('active');
    const hb = await storage.recordHeartbeat({
      nodeId: node.nodeId,
      metrics: { uptime: 1 },
      minWriteIntervalSeconds: 60,
    });
    expect(hb.lastSeenWritten).toBe(true);
    await storage.setNodeStatus({ nodeId: node.nodeId, status: 'revoked', reason: 'test', actor: 'admin' });
    await expect(
      storage.recordHeartbeat({ nodeId: node.nodeId, metrics: null, minWriteIntervalSeconds: 60 }),
    ).rejects.toMatchObject({ code: 'NODE_REVOKED' });
  });
});
