import { Hono } from 'hono';
import type { AppEnv } from '../app-env.ts';
import { nodeSessionJwks } from '../services/node-sessions.ts';

/** `GET /.well-known/jwks.json`: the current and previous node-session public keys. */
export const jwks = new Hono<AppEnv>().get('/', async (c) => {
  c.header('cache-control', 'public, max-age=300');
  return c.json(await nodeSessionJwks(c.var.config));
});
