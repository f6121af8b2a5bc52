import { Hono } from 'hono';
import type { AppEnv } from '../app-env.ts';
import { ApiError } from '../errors.ts';

/**
 * `GET /agent/noderr-agent.mjs`: the node agent bundle (clients/node, built by `npm run build:agent`),
 * from the Worker's static assets. `x-content-sha256` lets the Windows installer verify what it
 * downloaded before running it.
 */
export const agent = new Hono<AppEnv>().get('/noderr-agent.mjs', async (c) => {
  const origin = new URL(c.req.url).origin;
  const [file, digest] = await Promise.all([
    c.env.ASSETS.fetch(new Request(`${origin}/noderr-agent.mjs`)),
    c.env.ASSETS.fetch(new Request(`${origin}/noderr-agent.mjs.sha256`)),
  ]);
  const sha256 = digest.ok ? (await digest.text()).trim().split(/\s+/)[0] : undefined;
  if (!file.ok || !sha256 || !/^[0-9a-f]{64}$/.test(sha256)) {
    throw new ApiError(
      'NOT_FOUND',
      'The agent bundle is not part of this deployment; run npm run build:agent before deploying.',
    );
  }
  return new Response(file.body, {
    headers: {
      'content-type': 'text/javascript; charset=utf-8',
      'x-content-sha256': sha256,
      'cache-control': 'public, max-age=300',
    },
  });
});
