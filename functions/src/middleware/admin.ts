import type { MiddlewareHandler } from 'hono';
import type { AppEnv } from '../app-env.ts';
import { ApiError } from '../errors.ts';
import { authenticateAdmin } from '../services/admin-auth.ts';

declare module 'hono' {
  interface ContextVariableMap {
    admin: { userId: string; email: string | undefined };
  }
}

/**
 * CORS for the dApp and admin authentication. Only configured origins get CORS headers; a browser
 * request from any other origin is refused outright (FORBIDDEN) rather than served without them, so a
 * stolen token cannot be replayed from a hostile page. Requests without an Origin (curl, servers) pass.
 */
export const adminCors: MiddlewareHandler<AppEnv> = async (c, next) => {
  const origin = c.req.header('origin');
  const allowed = origin !== undefined && c.var.config.dappOrigins.includes(origin);
  if (origin !== undefined && !allowed) {
    throw new ApiError('FORBIDDEN', `Origin ${origin} is not an allowed dApp origin (DAPP_ORIGINS).`);
  }
  if (allowed) {
    c.header('access-control-allow-origin', origin);
    c.header('vary', 'Origin');
    c.header('access-control-expose-headers', 'x-request-id, retry-after');
  }
  if (c.req.method === 'OPTIONS') {
    c.header('access-control-allow-methods', 'GET, POST, PUT, DELETE, OPTIONS');
    c.header('access-control-allow-headers', 'authorization, content-type, x-request-id');
    c.header('access-control-max-age', '600');
    return c.body(null, 204);
  }
  await next();
};

export const requireAdmin: MiddlewareHandler<AppEnv> = async (c, next) => {
  const admin = await authenticateAdmin(c.var.config, c.req.header('authorization'));
  c.set('admin', admin);
  await next();
};

/** The name written to the audit trail for the signed-in admin. */
export function actorOf(admin: { userId: string; email: string | undefined }): string {
  return admin.email ? `${admin.email} (${admin.userId})` : admin.userId;
}
