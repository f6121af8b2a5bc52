import { ERROR_STATUS, type ErrorCode } from '../../shared/api/error-codes.ts';

/**
 * A rejection with a stable code. Thrown anywhere below a route; the error middleware turns it into
 * the API's error body. `message` is shown to the caller, so it says what to do and nothing internal.
 */
export class ApiError extends Error {
  readonly code: ErrorCode;
  readonly status: (typeof ERROR_STATUS)[ErrorCode];
  readonly details: Record<string, unknown> | undefined;
  readonly headers: Record<string, string> | undefined;

  constructor(
    code: ErrorCode,
    message: string,
    options: { details?: Record<string, unknown>; headers?: Record<string, string> } = {},
  ) {
    super(message);
    this.name = 'ApiError';
    this.code = code;
    this.status = ERROR_STATUS[code];
    this.details = options.details;
    this.headers = options.headers;
  }
}
