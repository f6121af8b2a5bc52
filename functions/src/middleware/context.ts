import type { MiddlewareHandler } from 'hono';
import type { AppEnv } from '../app-env.ts';
import { loadConfig } from '../config.ts';
import { createLogger } from '../log.ts';
import { openStorage } from '../storage/open.ts';

/**
 * Per-request context: a logger bound to the request id, the validated configuration, and the storage
 * adapter (its database client connects on the first query, so requests that need none open none).
 */
export const requestContext: MiddlewareHandler<AppEnv> = async (c, next) => {
  c.set('log', createLogger({ requestId: c.get('requestId'), method: c.req.method, path: c.req.path }));
  c.set('config', loadConfig(c.env));
  c.set('storage', openStorage(c.env));
  await next();
};
