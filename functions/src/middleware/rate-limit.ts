import type { Context, MiddlewareHandler } from 'hono';
import type { AppEnv } from '../app-env.ts';
import { ApiError } from '../errors.ts';

type LimiterName = 'TOKEN_GUESS_LIMITER' | 'CREDENTIAL_GUESS_LIMITER';

/** The client's address as Cloudflare reports it; one shared bucket when absent (local tools). */
export function clientIp(c: Context<AppEnv>): string {
  return c.req.header('cf-connecting-ip') ?? 'local';
}

/**
 * Limits guessing: install tokens (install/config, register), API keys and activation secrets
 * (verify, activate). Backed by the Workers rate-limiting binding, which counts per key per period.
 */
export function rateLimit(binding: LimiterName, period = 60): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const { success } = await c.env[binding].limit({ key: `${c.req.path}|${clientIp(c)}` });
    if (!success) {
      throw new ApiError('RATE_LIMITED', `Too many attempts; retry after ${period} seconds.`, {
        headers: { 'retry-after': String(period) },
      });
    }
    await next();
  };
}
