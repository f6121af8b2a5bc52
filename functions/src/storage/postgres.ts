import postgres from 'postgres';
import { toStorageError } from './errors.ts';
import { type Storage, StorageUnavailable } from './port.ts';
import type { Rpc, RpcArgs } from './rpc.ts';
import { createSqlFunctionStorage } from './sql-functions.ts';

const CONNECT_TIMEOUT_SECONDS = 5;
const IDENTIFIER = /^[a-z_][a-z0-9_]*$/;

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

function field(err: unknown, name: 'code' | 'message' | 'detail'): string | undefined {
  const v = (err as Record<string, unknown> | null)?.[name];
  return typeof v === 'string' ? v : undefined;
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
      throw (
        toStorageError({
          sqlState: field(err, 'code'),
          message: field(err, 'message'),
          detail: field(err, 'detail'),
        }) ?? err
      );
    }
  }

  // `select * from public.fn(p_a => $1, …)`: named arguments, so SQL defaults apply to what is not
  // passed. Parameters go untyped: postgres.js asks the server for their types (from the function
  // signature) and serialises by them, so JSON arguments are passed as values, never pre-stringified
  // (that would arrive as a JSON string).
  const rpc: Rpc = (fn: string, args: RpcArgs) => {
    const names = Object.keys(args);
    if (!IDENTIFIER.test(fn) || !names.every((n) => IDENTIFIER.test(n))) {
      throw new Error(`not an SQL identifier: ${fn}(${names.join(', ')})`);
    }
    const values = names.map((n) => args[n] ?? null) as postgres.ParameterOrJSON<never>[];
    const list = names.map((n, i) => `${n} => $${i + 1}`).join(', ');
    return call(() => sql.unsafe(`select * from public.${fn}(${list})`, values));
  };

  return createSqlFunctionStorage(rpc, async () => {
    await call(() => sql`select 1 as ok`);
  });
}
