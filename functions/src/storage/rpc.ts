/**
 * The one primitive both adapters provide: call a SQL function in schema `public` with named
 * arguments and get its result rows. Everything else (argument names, row mapping, error codes) is
 * shared in sql-functions.ts, so the two adapters cannot drift apart.
 */
export type RpcArgs = Readonly<Record<string, string | number | boolean | null | object>>;
export type RpcRow = Readonly<Record<string, unknown>>;
export type Rpc = (fn: string, args: RpcArgs) => Promise<readonly RpcRow[]>;
