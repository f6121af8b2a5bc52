import { z } from 'zod';

/**
 * The Worker's configuration, validated once per isolate from `env` (wrangler.toml vars and secrets).
 * A misconfigured deploy fails at the first line of the module (see index.ts), not per request.
 */
const Jwk = z.looseObject({
  kty: z.literal('EC'),
  crv: z.literal('P-256'),
  kid: z.string().min(1),
  d: z.string(),
});

const ConfigSchema = z
  .object({
    ENVIRONMENT: z.enum(['development', 'test', 'production']).default('production'),
    STORAGE: z.enum(['postgres', 'supabase']).default('postgres'),
    JWT_ISSUER: z.string().url(),
    DAPP_ORIGINS: z.string().default(''),
    NODE_JWT_KEYS: z
      .string({
        error:
          'NODE_JWT_KEYS is missing: a JWK set of ES256 private keys (wrangler secret put NODE_JWT_KEYS)',
      })
      .transform((s, ctx) => {
        try {
          return JSON.parse(s) as unknown;
        } catch {
          ctx.addIssue({ code: 'custom', message: 'NODE_JWT_KEYS is not JSON' });
          return z.NEVER;
        }
      })
      .pipe(z.object({ keys: z.array(Jwk).min(1).max(3) })),
    SUPABASE_URL: z.string().url().optional(),
    SUPABASE_JWT_SECRET: z.string().min(32).optional(),
    SUPABASE_SERVICE_ROLE_KEY: z.string().optional(),
    /** Seconds between `last_seen` writes for one node (heartbeat write coalescing). */
    /** 300 s with 60 s heartbeats = one write in five beats: 1,000,000 nodes cost ~3,300 writes/s, not 16,700. */
    HEARTBEAT_WRITE_INTERVAL_SECONDS: z.coerce.number().int().min(0).max(3600).default(300),
    /** URLs handed to installers by install/config. */
    DEPLOYMENT_ENGINE_URL: z.string().default('https://deploy.noderr.xyz'),
    DOCKER_REGISTRY: z.string().default('ghcr.io'),
    DOCKER_IMAGE: z.string().default('noderr/node'),
    TELEMETRY_ENDPOINT: z.string().default('https://telemetry.noderr.xyz'),
    NODE_TARGET_VERSION: z.string().default('0.1.0'),
  })
  .superRefine((c, ctx) => {
    if (!c.SUPABASE_URL && !c.SUPABASE_JWT_SECRET) {
      ctx.addIssue({
        code: 'custom',
        message:
          'set SUPABASE_URL (admin tokens verified with the project JWKS) or SUPABASE_JWT_SECRET (HS256)',
      });
    }
    if (c.STORAGE === 'supabase' && (!c.SUPABASE_URL || !c.SUPABASE_SERVICE_ROLE_KEY)) {
      ctx.addIssue({
        code: 'custom',
        message: 'STORAGE=supabase needs SUPABASE_URL and SUPABASE_SERVICE_ROLE_KEY',
      });
    }
  });

export type Config = z.infer<typeof ConfigSchema> & { dappOrigins: string[] };

export class ConfigError extends Error {
  constructor(issues: string[]) {
    super(`invalid Worker configuration: ${issues.join('; ')}`);
    this.name = 'ConfigError';
  }
}

const cache = new WeakMap<object, Config>();

export function loadConfig(env: object): Config {
  const hit = cache.get(env);
  if (hit) return hit;
  const parsed = ConfigSchema.safeParse(env);
  if (!parsed.success) {
    // Names the offending settings, never their values (they may be secrets).
    throw new ConfigError(parsed.error.issues.map((i) => `${i.path.join('.') || 'config'}: ${i.message}`));
  }
  const config: Config = {
    ...parsed.data,
    dappOrigins: parsed.data.DAPP_ORIGINS.split(',')
      .map((s) => s.trim())
      .filter(Boolean),
  };
  cache.set(env, config);
  return config;
}
