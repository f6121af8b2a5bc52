import type { MiddlewareHandler } from 'hono';
import type { AppEnv } from '../app-env.ts';

const INCOMING_ID = /^[A-Za-z0-9._:-]{8,128}$/;

/**
 * Gives every request an id, echoed in `x-request-id` and in error bodies. A well-formed id from the
 * caller (or Cloudflare's `cf-ray`) is kept so that a client's logs and ours can be joined.
 */
export const requestId: MiddlewareHandler<AppEnv> = async (c, next) => {
  const incoming = c.req.header('x-request-id') ?? c.req.header('cf-ray');
  const id = incoming && INCOMING_ID.test(incoming) ? incoming : crypto.randomUUID();
  c.set('requestId', id);
  c.header('x-request-id', id);
  await next();
  c.header('x-request-id', id);
};
