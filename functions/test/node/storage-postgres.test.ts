import { createPostgresStorage } from '../../src/storage/postgres.ts';
import { storageContract } from './storage-contract.ts';

// The postgres.js adapter against the real PostgreSQL 15 of the `db` project.
storageContract('postgres', (databaseUrl) => ({
  storage: createPostgresStorage(databaseUrl),
  // The adapter never ends its client (the Worker must not); it closes itself after idle_timeout.
  close: async () => {},
}));
