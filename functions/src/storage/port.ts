/**
 * The storage port: everything the API needs from the database, as calls to the SQL functions in
 * supabase/migrations. Two thin adapters implement it (postgres.js and supabase-js `rpc`).
 */
export interface Storage {
  /** Round trip to the database; throws StorageUnavailable when it cannot be reached. */
  ping(): Promise<void>;
}

/** The database could not be reached (connection refused, timeout, pool exhausted). */
export class StorageUnavailable extends Error {
  constructor(cause: unknown) {
    super('database unavailable', { cause });
    this.name = 'StorageUnavailable';
  }
}
