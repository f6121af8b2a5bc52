import { z } from 'zod';
import { ErrorResponse } from '../../../shared/api/errors.ts';
import type { AccessTokenSource } from './access-token.ts';
import { ApiError } from './api-error.ts';
import { parseRetryAfter } from './retry-after.ts';

/** A `fetch`-compatible function (the global one by default). */
export type FetchLike = (input: string, init: RequestInit) => Promise<Response>;

/** How {@link adminRequest} sends: where, with which token, and how patiently. */
export interface RequestContext {
  /** The API origin, e.g. `https://trust.noderr.xyz` (no `/api/v1`). */
  baseUrl: string;
  tokens: AccessTokenSource;
  fetch: FetchLike;
  /** Retries after a `RATE_LIMITED` answer before giving up. */
  maxRateLimitRetries: number;
  /** Longest `retry-after` the SDK waits out; a longer one fails at once with `RATE_LIMITED`. */
  maxRetryDelaySeconds: number;
}

/** One admin call: method, path under `/api/v1/admin`, optional query and body, and the 2xx schema. */
export interface AdminCall<S extends z.ZodType | undefined> {
  method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  path: string;
  query?: Record<string, string | undefined>;
  body?: unknown;
  /** `undefined` for a 204 answer. */
  response: S;
}

export type CallResult<S> = S extends z.ZodType ? z.output<S> : undefined;

/** Lenient view of an error body, so a code added to the API later still reaches the caller. */
const AnyErrorBody = z.object({
  error: z.object({
    code: z.string(),
    message: z.string(),
    requestId: z.string().optional(),
    details: z.record(z.string(), z.unknown()).optional(),
  }),
});

/**
 * Checks `input` against a request schema before anything is sent; the output applies the schema's
 * defaults. A failure is `VALIDATION_FAILED` with status 0 and `details.issues` shaped as the API's.
 *
 * @example
 * ```ts
 * const body = validateInput(SetNodeStatusRequest, { status: 'suspended', reason: 'disk failure' });
 * ```
 */
export function validateInput<S extends z.ZodType>(schema: S, input: unknown): z.output<S> {
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  const issues = result.error.issues.map((i) => ({ path: i.path.join('.'), message: i.message }));
  throw new ApiError({
    code: 'VALIDATION_FAILED',
    status: 0,
    message: `The request was not sent: ${issues.map((i) => `${i.path || '(input)'}: ${i.message}`).join('; ')}`,
    details: { issues },
  });
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

function pageOrigin(): string | undefined {
  const origin = (globalThis as { location?: { origin?: unknown } }).location?.origin;
  return typeof origin === 'string' && origin !== 'null' ? origin : undefined;
}

/**
 * A fetch that rejected had no readable response. In a browser calling another origin, that is often
 * CORS: a `no-cors` probe of the public health endpoint tells "the API is there but withheld its answer
 * from this page" apart from "the API cannot be reached".
 */
async function transportFailure(ctx: RequestContext, url: URL, cause: unknown): Promise<ApiError> {
  const origin = pageOrigin();
  if (origin !== undefined && origin !== url.origin) {
    let reachable = false;
    try {
      await ctx.fetch(new URL('/api/v1/health', url).href, { mode: 'no-cors', cache: 'no-store' });
      reachable = true;
    } catch {
      reachable = false;
    }
    if (reachable) {
      return new ApiError({
        code: 'CORS_BLOCKED',
        status: 0,
        message:
          `The API at ${url.origin} answered, but the browser blocked the response (CORS): this page's ` +
          `origin ${origin} is not an allowed dApp origin. Add it to the Worker's DAPP_ORIGINS.`,
        cause,
      });
    }
  }
  return new ApiError({
    code: 'NETWORK_ERROR',
    status: 0,
    message: `No response from ${url.origin}: the API is unreachable or the connection failed.`,
    cause,
  });
}

async function readJson(res: Response): Promise<{ ok: true; value: unknown } | { ok: false }> {
  const text = await res.text();
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch {
    return { ok: false };
  }
}

async function errorFrom(res: Response): Promise<ApiError> {
  const requestId = res.headers.get('x-request-id') ?? undefined;
  const json = await readJson(res);
  const parsed = json.ok
    ? (ErrorResponse.safeParse(json.value).data ?? AnyErrorBody.safeParse(json.value).data)
    : undefined;
  if (!parsed) {
    return new ApiError({
      code: 'INVALID_RESPONSE',
      status: res.status,
      message: `HTTP ${res.status} without the API's error body: is the base URL the noderr-trust API?`,
      requestId,
    });
  }
  const retryAfterSeconds = parseRetryAfter(res.headers.get('retry-after'));
  return new ApiError({
    code: parsed.error.code,
    status: res.status,
    message: parsed.error.message,
    requestId: parsed.error.requestId ?? requestId,
    details: parsed.error.details,
    retryAfterSeconds,
  });
}

/**
 * Sends one admin call and returns its validated result. Retries `RATE_LIMITED` after `retry-after`
 * (up to `maxRateLimitRetries`), and an `UNAUTHORIZED` once after refreshing the session when the
 * token source can refresh. Every failure is an {@link ApiError}.
 *
 * @example
 * ```ts
 * const list = await adminRequest(ctx, { method: 'GET', path: '/nodes', response: NodeList });
 * ```
 */
export async function adminRequest<S extends z.ZodType | undefined>(
  ctx: RequestContext,
  call: AdminCall<S>,
): Promise<CallResult<S>> {
  const url = new URL(`${ctx.baseUrl.replace(/\/+$/, '')}/api/v1/admin${call.path}`);
  for (const [k, v] of Object.entries(call.query ?? {})) if (v !== undefined) url.searchParams.set(k, v);

  let token = await ctx.tokens.current();
  let refreshed = false;
  let rateLimitRetries = 0;
  for (;;) {
    const headers: Record<string, string> = { accept: 'application/json', authorization: `Bearer ${token}` };
    if (call.body !== undefined) headers['content-type'] = 'application/json';
    let res: Response;
    try {
      res = await ctx.fetch(url.href, {
        method: call.method,
        headers,
        ...(call.body !== undefined ? { body: JSON.stringify(call.body) } : {}),
      });
    } catch (cause) {
      throw await transportFailure(ctx, url, cause);
    }

    if (!res.ok) {
      const error = await errorFrom(res);
      if (error.code === 'RATE_LIMITED' && rateLimitRetries < ctx.maxRateLimitRetries) {
        const wait = error.retryAfterSeconds ?? 1;
        if (wait <= ctx.maxRetryDelaySeconds) {
          rateLimitRetries++;
          await sleep(wait * 1000);
          continue;
        }
      }
      if (error.code === 'UNAUTHORIZED' && !refreshed && ctx.tokens.refresh) {
        refreshed = true;
        token = await ctx.tokens.refresh();
        continue;
      }
      throw error;
    }

    const requestId = res.headers.get('x-request-id') ?? undefined;
    if (call.response === undefined) {
      await res.body?.cancel();
      return undefined as CallResult<S>;
    }
    const json = await readJson(res);
    const parsed = json.ok ? call.response.safeParse(json.value) : undefined;
    if (!parsed?.success) {
      throw new ApiError({
        code: 'INVALID_RESPONSE',
        status: res.status,
        message: `HTTP ${res.status} with a body that does not match the API contract: is the base URL the noderr-trust API?`,
        requestId,
        ...(parsed
          ? {
              details: {
                issues: parsed.error.issues.map((i) => ({ path: i.path.join('.'), message: i.message })),
              },
            }
          : {}),
      });
    }
    return parsed.data as CallResult<S>;
  }
}
