import postgres from 'postgres';
import { type Storage, StorageUnavailable } from './port.ts';

const CONNECT_TIMEOUT_SECONDS = 5;

function isConnectionFailure(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  // postgres.js connection errors, plus the 08xxx SQLSTATE class (connection exception) and 57P0x
  // (server shutting down) that a proxy such as Hyperdrive relays.
  return (
    typeof code === 'string' &&
    (code === 'CONNECT_TIMEOUT' ||
      code === 'CONNECTION_CLOSED' ||
      code === 'CONNECTION_ENDED' ||
      code === 'CONNECTION_DESTROYED' ||
      code === 'ECONNREFUSED' ||
      code.startsWith('08') ||
      code.startsWith('57P'))
  );
}

/**
 * The postgres.js adapter. One client per request: a Worker isolate must not hold connections across
 * requests (Hyperdrive pools them), and `sql.end()` is not called inside the Worker (postgres.js #1202).
 */
export function createPostgresStorage(connectionString: string): Storage {
  const sql = postgres(connectionString, {
    max: 1,
    fetch_types: false,
    connect_timeout: CONNECT_TIMEOUT_SECONDS,
    idle_timeout: 10,
    onnotice: () => {},
  });

  async function call<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      if (isConnectionFailure(err) || err instanceof TypeError) throw new StorageUnavailable(err);
      throw err;
    }
  }

  return {
    async ping() {
      await call(() => sql`select 1 as ok`);
    },
  };
}
