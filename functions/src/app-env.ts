import type { Logger } from './log.ts';

/** Hono's environment for this Worker: the bindings from wrangler.toml and the per-request variables. */
export interface AppEnv {
  Bindings: Env;
  Variables: {
    requestId: string;
    log: Logger;
  };
}
