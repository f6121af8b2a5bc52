import { OpenAPIHono } from '@hono/zod-openapi';
import type { AppEnv } from './app-env.ts';
import { ApiError } from './errors.ts';
import { adminCors, requireAdmin } from './middleware/admin.ts';
import { limitBody, requireJson } from './middleware/body.ts';
import { requestContext } from './middleware/context.ts';
import { errorResponse, onError, onNotFound } from './middleware/errors.ts';
import { requestId } from './middleware/request-id.ts';
import { activate } from './routes/activate.ts';
import { approvals } from './routes/admin/approvals.ts';
import { audit } from './routes/admin/audit.ts';
import { ekAnchors } from './routes/admin/ek-anchors.ts';
import { installTokens } from './routes/admin/install-tokens.ts';
import { nodes } from './routes/admin/nodes.ts';
import { policies } from './routes/admin/policies.ts';
import { securityKeys } from './routes/admin/security-keys.ts';
import { sessionKeys } from './routes/admin/session-keys.ts';
import { agent } from './routes/agent.ts';
import { docs } from './routes/docs.ts';
import { health } from './routes/health.ts';
import { heartbeat } from './routes/heartbeat.ts';
import { install } from './routes/install.ts';
import { installers } from './routes/installers.ts';
import { jwks } from './routes/jwks.ts';
import { register } from './routes/register.ts';
import { session } from './routes/session.ts';
import { SERVICE_VERSION } from './version.ts';

/** `/api/v1/admin/nodes/:nodeId/status` → a matcher, for telling 405 from 404. */
function pathMatcher(path: string): RegExp {
  const pattern = path.replace(/[.*+?^${}()|[\]\\]/g, '\\$&').replace(/\/:[^/]+/g, '/[^/]+');
  return new RegExp(`^${pattern}/?$`);
}

/** The Worker's one Hono app: cross-cutting middleware, then the route modules. */
export function createApp(): OpenAPIHono<AppEnv> {
  const app = new OpenAPIHono<AppEnv>();
  app.use('*', requestId);
  app.use('*', requestContext);
  app.use('/api/*', limitBody, requireJson);
  app.use('/api/v1/admin/*', adminCors, requireAdmin);

  app.route('/api/v1/health', health);
  app.route('/api/v1/install', install);
  app.route('/api/v1/auth', register);
  app.route('/api/v1/auth', activate);
  app.route('/api/v1/auth', session);
  app.route('/api/v1/auth', heartbeat);
  app.route('/api/v1/admin/install-tokens', installTokens);
  app.route('/api/v1/admin/nodes', nodes);
  app.route('/api/v1/admin/policies', policies);
  app.route('/api/v1/admin/ek-anchors', ekAnchors);
  app.route('/api/v1/admin/audit', audit);
  app.route('/api/v1/admin/security-keys', securityKeys);
  app.route('/api/v1/admin/approvals', approvals);
  app.route('/api/v1/admin/session-keys', sessionKeys);
  app.route('/.well-known/jwks.json', jwks);
  app.route('/docs', docs);
  app.route('/install', installers);
  app.route('/agent', agent);

  app.openAPIRegistry.registerComponent('securitySchemes', 'supabaseAuth', {
    type: 'http',
    scheme: 'bearer',
    bearerFormat: 'JWT',
    description: 'Supabase Auth access token of a user with app_metadata.role = "admin"',
  });
  app.openAPIRegistry.registerComponent('securitySchemes', 'nodeSession', {
    type: 'http',
    scheme: 'bearer',
    bearerFormat: 'JWT',
    description: 'ES256 node session from /api/v1/auth/verify or /api/v1/auth/activate',
  });
  app.doc31('/openapi.json', (c) => ({
    openapi: '3.1.0',
    info: {
      title: 'noderr-trust',
      version: SERVICE_VERSION,
      description:
        'Hardware-rooted admission for a fleet of nodes: TPM 2.0 attestation, node sessions, heartbeats and the dApp admin API. ' +
        'Errors always have the body {"error": {"code", "message", "requestId", "details"}}; bodies over 256 KiB get 413.',
    },
    servers: [{ url: new URL(c.req.url).origin }],
  }));

  const routes = () =>
    app.routes.filter((r) => r.method !== 'ALL').map((r) => ({ method: r.method, re: pathMatcher(r.path) }));
  app.notFound((c) => {
    const path = new URL(c.req.url).pathname;
    const methods = [
      ...new Set(
        routes()
          .filter((r) => r.re.test(path))
          .map((r) => r.method),
      ),
    ];
    if (methods.length > 0) {
      return errorResponse(
        c,
        new ApiError(
          'METHOD_NOT_ALLOWED',
          `${c.req.method} is not allowed on ${path}; use ${methods.join(', ')}.`,
          {
            headers: { allow: methods.join(', ') },
          },
        ),
      );
    }
    return onNotFound(c);
  });
  app.onError(onError);
  return app;
}
