/**
 * `npm start`: the whole stack on one machine with nothing but Node — PGlite served on a local port
 * (data under .local/), migrations applied, dev secrets generated once into .dev.vars, and
 * `wrangler dev` on 127.0.0.1:8787 reaching the database through the Hyperdrive local connection string.
 * Prints the URL and a dev admin token, and writes them to .local/dev.json. Ctrl-C stops everything.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ensureAgentBundle } from './lib/agent-bundle.ts';
import { startDbGateway } from './lib/db-gateway.ts';
import { ensureDevSecrets, signDevAdminToken } from './lib/dev-secrets.ts';
import { freePort } from './lib/free-port.ts';
import { applyMigrations } from './lib/migrations.ts';
import { startPgliteServer } from './lib/pglite-server.ts';

const ROOT = new URL('..', import.meta.url).pathname;
const LOCAL = join(ROOT, '.local');
const API_PORT = Number(process.env.NODERR_API_PORT ?? 8787);
const API_URL = `http://127.0.0.1:${API_PORT}`;

async function portIsFree(port: number): Promise<boolean> {
  const { createServer } = await import('node:net');
  return new Promise((resolve) => {
    const s = createServer();
    s.once('error', () => resolve(false));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}

async function waitForHealth(timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < deadline) {
    try {
      const res = await fetch(`${API_URL}/api/v1/health`);
      if (res.status === 200) return;
      last = `HTTP ${res.status}`;
    } catch (e) {
      last = (e as Error).message;
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`the API did not become healthy within ${timeoutMs / 1000} s (last: ${last})`);
}

async function main(): Promise<void> {
  const t0 = Date.now();
  mkdirSync(LOCAL, { recursive: true });
  if (!(await portIsFree(API_PORT))) {
    console.error(`Port ${API_PORT} is in use: another npm start? Stop it, or set NODERR_API_PORT.`);
    process.exit(1);
  }
  const preferred = Number(process.env.NODERR_DB_PORT ?? 54322);
  const dbPort = (await portIsFree(preferred)) ? preferred : await freePort();
  const db = await startPgliteServer({ dataDir: join(LOCAL, 'pgdata'), port: dbPort });
  const migrated = await applyMigrations(db.url, { localPlatform: true });
  console.log(
    `database  ${db.url} (PGlite, data in .local/pgdata; ${migrated.applied.length} migrations applied)`,
  );

  // wrangler dev's Hyperdrive proxy reaches the database through a relay that turns an unreachable
  // database into a Postgres error instead of a dev-server crash (see scripts/lib/db-gateway.ts).
  const gateway = await startDbGateway(db.url);
  ensureAgentBundle();
  const secrets = await ensureDevSecrets(join(ROOT, '.dev.vars'));
  const adminToken = await signDevAdminToken(secrets.SUPABASE_JWT_SECRET);

  const wrangler: ChildProcess = spawn(
    join(ROOT, 'node_modules/.bin/wrangler'),
    [
      'dev',
      '--ip',
      '127.0.0.1',
      '--port',
      String(API_PORT),
      '--local-protocol',
      'http',
      '--show-interactive-dev-session=false',
    ],
    {
      cwd: ROOT,
      stdio: ['ignore', 'inherit', 'inherit'],
      detached: true,
      env: {
        ...process.env,
        WRANGLER_SEND_METRICS: 'false',
        CLOUDFLARE_CF_FETCH_ENABLED: 'false',
        CLOUDFLARE_HYPERDRIVE_LOCAL_CONNECTION_STRING_HYPERDRIVE: gateway.url,
      },
    },
  );

  let stopping = false;
  const stop = async (code: number) => {
    if (stopping) return;
    stopping = true;
    if (wrangler.pid && wrangler.exitCode === null) {
      try {
        process.kill(-wrangler.pid, 'SIGTERM');
      } catch {}
      await new Promise((r) => {
        const t = setTimeout(() => {
          try {
            process.kill(-wrangler.pid!, 'SIGKILL');
          } catch {}
          r(undefined);
        }, 5000);
        wrangler.once('exit', () => {
          clearTimeout(t);
          r(undefined);
        });
      });
    }
    await gateway.stop();
    await db.stop();
    process.exit(code);
  };
  process.on('SIGINT', () => void stop(0));
  process.on('SIGTERM', () => void stop(0));
  wrangler.once('exit', (code) => {
    if (!stopping) {
      console.error(`wrangler dev exited (${code}); stopping.`);
      void stop(1);
    }
  });

  await waitForHealth(60_000);
  const devJson = { apiUrl: API_URL, adminToken, databaseUrl: db.url };
  writeFileSync(join(LOCAL, 'dev.json'), `${JSON.stringify(devJson, null, 2)}\n`, { mode: 0o600 });
  console.log(`
noderr-trust is running (${((Date.now() - t0) / 1000).toFixed(1)} s)
  API          ${API_URL}   (health: ${API_URL}/api/v1/health, docs: ${API_URL}/docs)
  admin token  ${adminToken}
  also in      .local/dev.json
Ctrl-C stops everything; the next npm start reuses the data.`);
}

main().catch((err) => {
  console.error(`npm start failed: ${(err as Error).message}`);
  process.exit(1);
});
