import type { Storage } from './port.ts';
import { createPostgresStorage } from './postgres.ts';

/** Picks the storage adapter named by configuration (`STORAGE`, default `postgres`). */
export function openStorage(env: Env): Storage {
  return createPostgresStorage(env.HYPERDRIVE.connectionString);
}
