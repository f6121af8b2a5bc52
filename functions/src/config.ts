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
    /**
     * The service's Ed25519 audit-log key: standard base64 of the 32-byte seed (Provara's private key
     * form). Required in production; without it elsewhere the audit endpoints answer AUDIT_LOG_UNAVAILABLE.
     */
    AUDIT_SIGNING_KEY: z
      .string()
      .regex(/^[A-Za-z0-9+/]{43}=$/, 'AUDIT_SIGNING_KEY must be the base64 of a 32-byte Ed25519 seed')
      .optional(),
    /**
     * Approvals (distinct administrators' hardware keys) a weakening admin action needs. 0 turns the
     * quorum off; while fewer than this many admins have an enrolled key, weakening actions run with one
     * admin as before (bootstrap), and the audit log records that they did.
     */
    ADMIN_APPROVAL_THRESHOLD: z.coerce.number().int().min(0).max(16).default(2),
    /** How long a pending action waits for its approvals. */
    PENDING_ACTION_TTL_SECONDS: z.coerce
      .number()
      .int()
      .min(60)
      .max(7 * 24 * 3600)
      .default(24 * 3600),
    /** WebAuthn relying-party id; default: the host of the first DAPP_ORIGINS entry. */
    WEBAUTHN_RP_ID: z.string().optional(),
  })
  .superRefine((c, ctx) => {
    if (!c.SUPABASE_URL && !c.SUPABASE_JWT_SECRET) {
      ctx.addIssue({
        code: 'custom',
        message:
          'set SUPABASE_URL (admin tokens verified with the project JWKS) or SUPABASE_JWT_SECRET (HS256)',
      });
    }
    if (c.ENVIRONMENT === 'production' && !c.AUDIT_SIGNING_KEY) {
      ctx.addIssue({
        code: 'custom',
        message:
          'AUDIT_SIGNING_KEY is missing: the signed audit log needs it (wrangler secret put AUDIT_SIGNING_KEY)',
      });
    }
    if (c.STORAGE === 'supabase' && (!c.SUPABASE_URL || !c.SUPABASE_SERVICE_ROLE_KEY)) {
      ctx.addIssue({
        code: 'custom',
        message: 'STORAGE=supabase needs SUPABASE_URL and SUPABASE_SERVICE_ROLE_KEY',
      });
    }
  });

export type Config = z.infer<typeof ConfigSchema> & {
  dappOrigins: string[];
  webauthnRpId: string | undefined;
};

export class ConfigError extends Error {
  constructor(issues: string[]) {
    super(`invalid Worker configuration: ${issues.join('; ')}`);
    this.name = 'ConfigError';
  }
}

function rpIdOf(origin: string | undefined): string | undefined {
  if (!origin) return undefined;
  try {
    return new URL(origin).hostname;
  } catch {
    return undefined;
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
    webauthnRpId: undefined,
  };
  config.webauthnRpId = parsed.data.WEBAUTHN_RP_ID ?? rpIdOf(config.dappOrigins[0]);
  cache.set(env, config);
  return config;
}
