import type { ErrorCode } from '../../../shared/api/error-codes.ts';

/**
 * Codes the SDK raises itself when no API error body could be read:
 * - `NETWORK_ERROR`: the request never got an HTTP response (API down, DNS, offline);
 * - `CORS_BLOCKED`: in a browser, the API answered but the browser withheld the response because this
 *   page's origin is not one of the Worker's `DAPP_ORIGINS`;
 * - `INVALID_RESPONSE`: an HTTP response arrived that is not the API's JSON (wrong base URL, a proxy's
 *   HTML page, a body that does not match the contract).
 */
export type ClientErrorCode = 'NETWORK_ERROR' | 'CORS_BLOCKED' | 'INVALID_RESPONSE';

/** Every code an {@link ApiError} can carry: the API's stable codes (API.md) plus the SDK's own. */
export type ApiErrorCode = ErrorCode | ClientErrorCode;

/** What an {@link ApiError} is built from. */
export interface ApiErrorInit {
  /** The API's code, one the SDK raises itself, or (from a newer API) a code this SDK does not know yet. */
  code: ApiErrorCode | (string & {});
  /** HTTP status; `0` when there was no HTTP response (network, CORS, or a check made before sending). */
  status: number;
  message: string;
  requestId?: string | undefined;
  details?: Readonly<Record<string, unknown>> | undefined;
  retryAfterSeconds?: number | undefined;
  cause?: unknown;
}

/**
 * The one error type every SDK call rejects with. Switch on `code`; quote `requestId` to support.
 * Carries no request headers, so no access token can leak through logging an error.
 *
 * @example
 * ```ts
 * try {
 *   await dapp.installTokens.revoke(id);
 * } catch (err) {
 *   if (err instanceof ApiError && err.code === 'CONFLICT') alert('This token was already used.');
 *   else throw err;
 * }
 * ```
 */
export class ApiError extends Error {
  override readonly name = 'ApiError';
  readonly code: ApiErrorCode | (string & {});
  readonly status: number;
  readonly requestId: string | undefined;
  readonly details: Readonly<Record<string, unknown>> | undefined;
  /** For `RATE_LIMITED`: the server's `retry-after`, in seconds, when it sent one. */
  readonly retryAfterSeconds: number | undefined;

  constructor(init: ApiErrorInit) {
    super(init.message, init.cause === undefined ? undefined : { cause: init.cause });
    this.code = init.code;
    this.status = init.status;
    this.requestId = init.requestId;
    this.details = init.details;
    this.retryAfterSeconds = init.retryAfterSeconds;
  }

  /** A plain object for logs and telemetry (no secrets: the SDK never puts tokens in errors). */
  toJSON(): Record<string, unknown> {
    return {
      name: this.name,
      code: this.code,
      status: this.status,
      message: this.message,
      requestId: this.requestId,
      details: this.details,
      retryAfterSeconds: this.retryAfterSeconds,
    };
  }
}

/**
 * Whether `value` is an {@link ApiError}, also across bundle copies (checks the shape, not the class).
 *
 * @example
 * ```ts
 * dapp.nodes.list().catch((err) => {
 *   if (isApiError(err) && err.code === 'UNAUTHORIZED') location.assign('/sign-in');
 * });
 * ```
 */
export function isApiError(value: unknown): value is ApiError {
  if (value instanceof ApiError) return true;
  if (typeof value !== 'object' || value === null) return false;
  const v = value as Record<string, unknown>;
  return v.name === 'ApiError' && typeof v.code === 'string' && typeof v.status === 'number';
}
