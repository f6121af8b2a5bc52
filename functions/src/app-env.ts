import type { Config } from './config.ts';
import type { Logger } from './log.ts';
import type { Storage } from './storage/port.ts';

/** Secrets: `wrangler secret put` in production, `.dev.vars` locally; validated by config.ts. */
export interface Secrets {
  NODE_JWT_KEYS?: string;
  SUPABASE_JWT_SECRET?: string;
  SUPABASE_URL?: string;
  SUPABASE_SERVICE_ROLE_KEY?: string;
  /** Base64 of the audit log's 32-byte Ed25519 seed. */
  AUDIT_SIGNING_KEY?: string;
}

/** Hono's environment for this Worker: bindings from wrangler.toml plus secrets, and per-request variables. */
export interface AppEnv {
  Bindings: Env & Secrets;
  Variables: {
    requestId: string;
    log: Logger;
    config: Config;
    /** Opened lazily, once per request (one database client per request). */
    storage: Storage;
  };
}
