import { Hono } from 'hono';
import type { AppEnv } from '../app-env.ts';
import { nodeSessionJwks } from '../services/node-sessions.ts';

/**
 * `GET /.well-known/jwks.json`: the active and the previously active node-session public keys (the
 * quorum-approved keys of `session_signing_keys`; see services/node-sessions.ts). A pending key of
 * NODE_JWT_KEYS is not published.
 */
export const jwks = new Hono<AppEnv>().get('/', async (c) => {
  c.header('cache-control', 'public, max-age=300');
  return c.json(await nodeSessionJwks(c.var.config, c.var.storage));
});
