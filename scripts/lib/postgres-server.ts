import { execFileSync, spawnSync } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './free-port.ts';

/**
 * A real PostgreSQL 15 server (Debian's packages) on a private port and data directory, for tests
 * that need what PGlite cannot give: concurrency, row locks, roles. `stop()` removes everything.
 */
export interface PostgresServer {
  url: string;
  port: number;
  dataDir: string;
  /** A URL for another database on the same server. */
  urlFor(database: string): string;
  stop(): void;
}

const BIN = '/usr/lib/postgresql/15/bin';

function asPostgresUser(args: string[]): { file: string; args: string[] } {
  // initdb refuses to run as root; Debian's package creates the `postgres` user.
  if (process.getuid?.() === 0) return { file: 'runuser', args: ['-u', 'postgres', '--', ...args] };
  return { file: args[0]!, args: args.slice(1) };
}

function run(args: string[]): void {
  const { file, args: rest } = asPostgresUser(args);
  const r = spawnSync(file, rest, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${args[0]} failed (${r.status}): ${r.stderr || r.stdout}`);
}

export async function startPostgresServer(): Promise<PostgresServer> {
  if (!existsSync(`${BIN}/pg_ctl`)) {
    throw new Error(
      'PostgreSQL 15 is not installed: run `apt-get install -y postgresql` (npm test does it as root).',
    );
  }
  const port = await freePort();
  const dataDir = mkdtempSync(join(tmpdir(), 'noderr-pg-'));
  if (process.getuid?.() === 0) {
    const uid = Number(execFileSync('id', ['-u', 'postgres']).toString().trim());
    const gid = Number(execFileSync('id', ['-g', 'postgres']).toString().trim());
    chownSync(dataDir, uid, gid);
  }
  run([`${BIN}/initdb`, '-D', dataDir, '-U', 'postgres', '--auth=trust', '--no-sync', '-E', 'UTF8']);
  run([
    `${BIN}/pg_ctl`,
    '-D',
    dataDir,
    '-w',
    '-l',
    join(dataDir, 'server.log'),
    '-o',
    `-p ${port} -k ${dataDir} -c listen_addresses=127.0.0.1 -c max_connections=200 -c fsync=off -c synchronous_commit=off -c full_page_writes=off`,
    'start',
  ]);
  const urlFor = (db: string) => `postgres://postgres:postgres@127.0.0.1:${port}/${db}`;
  let stopped = false;
  return {
    url: urlFor('postgres'),
    port,
    dataDir,
    urlFor,
    stop() {
      if (stopped) return;
      stopped = true;
      try {
        run([`${BIN}/pg_ctl`, '-D', dataDir, '-m', 'fast', '-w', 'stop']);
      } finally {
        rmSync(dataDir, { recursive: true, force: true });
      }
    },
  };
}
