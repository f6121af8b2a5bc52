import { PGlite } from '@electric-sql/pglite';
import { pgcrypto } from '@electric-sql/pglite/contrib/pgcrypto';
import { PGLiteSocketServer } from '@electric-sql/pglite-socket';

/**
 * The embedded database of `npm start`: PGlite (PostgreSQL in wasm) served over the Postgres wire
 * protocol so that wrangler dev's Hyperdrive proxy and our migration runner reach it like a server.
 */
export interface PgliteServer {
  url: string;
  stop(): Promise<void>;
}

export async function startPgliteServer(options: { dataDir?: string; port: number }): Promise<PgliteServer> {
  const db = await PGlite.create({
    ...(options.dataDir ? { dataDir: options.dataDir } : {}),
    extensions: { pgcrypto },
  });
  // maxConnections defaults to 1; past it the socket answers in plain text and crashes wrangler dev's
  // Hyperdrive proxy (design/TOOLCHAIN.md). PGlite still runs one backend: statements serialise.
  const server = new PGLiteSocketServer({ db, host: '127.0.0.1', port: options.port, maxConnections: 100 });
  await server.start();
  return {
    url: `postgres://postgres:postgres@127.0.0.1:${options.port}/postgres`,
    async stop() {
      await server.stop();
      await db.close();
    },
  };
}
