import { Hono } from 'hono';
import type { AppEnv } from './app-env.ts';
import { createLogger } from './log.ts';
import { onError, onNotFound } from './middleware/errors.ts';
import { requestId } from './middleware/request-id.ts';
import { health } from './routes/health.ts';

/** The Worker's one Hono app: cross-cutting middleware, then the route modules. */
export function createApp(): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  app.use('*', requestId);
  app.use('*', async (c, next) => {
    c.set('log', createLogger({ requestId: c.get('requestId'), method: c.req.method, path: c.req.path }));
    await next();
  });
  app.route('/api/v1/health', health);
  app.notFound(onNotFound);
  app.onError(onError);
  return app;
}
