import { createServer, type Server, type Socket, connect as tcpConnect } from 'node:net';
import { freePort } from './free-port.ts';

/**
 * A small TCP relay between wrangler dev's local Hyperdrive proxy and the database, used by `npm start`
 * and the end-to-end tests.
 *
 * Why: miniflare's local Hyperdrive proxy (wrangler 4.86) pipes sockets without error handlers, so a
 * database that refuses or resets a connection crashes the whole dev server with an unhandled
 * ECONNREFUSED/ECONNRESET. Production Hyperdrive answers such failures with a Postgres error instead.
 * This relay does the same locally: when the database is unreachable it answers the client's startup
 * message with a FATAL ErrorResponse (SQLSTATE 08006) and closes cleanly, so the Worker sees what it
 * would see in production and `GET /health` can say 503.
 */
export interface DbGateway {
  /** URL to hand to wrangler dev (same credentials and database as the upstream). */
  url: string;
  stop(): Promise<void>;
}

const SSL_REQUEST = 80877103;
const GSSENC_REQUEST = 80877104;

function errorResponse(sqlstate: string, message: string): Buffer {
  const fields = Buffer.concat([
    Buffer.from(`SFATAL\0VFATAL\0C${sqlstate}\0M${message}\0`, 'utf8'),
    Buffer.from([0]),
  ]);
  const head = Buffer.alloc(5);
  head.write('E', 0);
  head.writeInt32BE(fields.length + 4, 1);
  return Buffer.concat([head, fields]);
}

/** Reads the client's startup packets, declining SSL/GSS, then refuses with 08006. */
function refuse(client: Socket): void {
  let buf = Buffer.alloc(0);
  client.on('data', (d: Buffer) => {
    buf = Buffer.concat([buf, d]);
    while (buf.length >= 8) {
      const len = buf.readInt32BE(0);
      if (buf.length < len) return;
      const code = buf.readInt32BE(4);
      buf = buf.subarray(len);
      if (code === SSL_REQUEST || code === GSSENC_REQUEST) {
        client.write('N');
        continue;
      }
      client.end(
        errorResponse('08006', 'database unreachable (local gateway: upstream refused the connection)'),
      );
      return;
    }
  });
}

function relay(client: Socket, upstream: Socket): void {
  // Half-close politely in both directions and never let a socket error escape as an exception.
  client.pipe(upstream);
  upstream.pipe(client);
  const closeBoth = () => {
    client.end();
    upstream.end();
    setTimeout(() => {
      client.destroy();
      upstream.destroy();
    }, 1000).unref();
  };
  upstream.on('error', closeBoth);
  upstream.on('close', closeBoth);
  client.on('close', closeBoth);
}

export async function startDbGateway(upstreamUrl: string, port?: number): Promise<DbGateway> {
  const up = new URL(upstreamUrl);
  const upstreamHost = up.hostname;
  const upstreamPort = Number(up.port || 5432);
  const listenPort = port ?? (await freePort());
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    sockets.add(client);
    client.on('close', () => sockets.delete(client));
    client.on('error', () => client.destroy());
    client.pause();
    const upstream = tcpConnect({ host: upstreamHost, port: upstreamPort });
    sockets.add(upstream);
    upstream.on('close', () => sockets.delete(upstream));
    upstream.once('connect', () => {
      upstream.removeAllListeners('error');
      relay(client, upstream);
      client.resume();
    });
    upstream.once('error', () => {
      upstream.destroy();
      refuse(client);
      client.resume();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(listenPort, '127.0.0.1', () => resolve());
  });
  const url = new URL(upstreamUrl);
  url.hostname = '127.0.0.1';
  url.port = String(listenPort);
  return {
    url: url.toString(),
    stop: () =>
      new Promise((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
