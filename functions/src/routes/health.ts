import { Hono } from 'hono';
import type { AppEnv } from '../app-env.ts';
import { ApiError } from '../errors.ts';
import { SERVICE_VERSION } from '../version.ts';

/** `GET /api/v1/health`: the service is up and can reach its database. */
export const health = new Hono<AppEnv>().get('/', async (c) => {
  try {
    await c.var.storage.ping();
  } catch (err) {
    c.var.log.warn('health.database_unreachable', { error: err });
    throw new ApiError(
      'DATABASE_UNAVAILABLE',
      'The database is unreachable; the service cannot admit nodes.',
      {
        details: { status: 'degraded', version: SERVICE_VERSION, database: 'unreachable' },
      },
    );
  }
  return c.json({ status: 'ok', version: SERVICE_VERSION, database: 'ok' });
});
