import type { Context, ErrorHandler, NotFoundHandler } from 'hono';
import { HTTPException } from 'hono/http-exception';
import type { ErrorBody, ErrorCode } from '../../../shared/api/error-codes.ts';
import type { AppEnv } from '../app-env.ts';
import { ApiError } from '../errors.ts';

export function errorResponse(c: Context<AppEnv>, err: ApiError): Response {
  const body: ErrorBody = {
    error: {
      code: err.code,
      message: err.message,
      requestId: c.get('requestId') ?? 'unknown',
      ...(err.details ? { details: err.details } : {}),
    },
  };
  const res = c.json(body, err.status);
  for (const [k, v] of Object.entries(err.headers ?? {})) res.headers.set(k, v);
  return res;
}

function fromHttpException(e: HTTPException): ApiError {
  const byStatus: Record<number, [ErrorCode, string]> = {
    400: ['VALIDATION_FAILED', 'The request is malformed; check it against /openapi.json.'],
    401: ['UNAUTHORIZED', 'Authentication is required.'],
    404: ['NOT_FOUND', 'No such resource.'],
    405: ['METHOD_NOT_ALLOWED', 'This method is not allowed on this path.'],
    413: ['PAYLOAD_TOO_LARGE', 'The request body is larger than 256 KiB.'],
  };
  const [code, message] = byStatus[e.status] ?? [
    'INTERNAL',
    'Something went wrong on our side; retry later.',
  ];
  return new ApiError(code, message);
}

/** Every failure leaves as the API's error body; unexpected exceptions say nothing internal. */
export const onError: ErrorHandler<AppEnv> = (err, c) => {
  if (err instanceof ApiError) {
    if (err.status >= 500) c.get('log')?.error('request.failed', { code: err.code, error: err });
    return errorResponse(c, err);
  }
  if (err instanceof HTTPException) return errorResponse(c, fromHttpException(err));
  c.get('log')?.error('request.crashed', { error: err });
  return errorResponse(
    c,
    new ApiError('INTERNAL', 'Something went wrong on our side; retry later and quote the request id.'),
  );
};

export const onNotFound: NotFoundHandler<AppEnv> = (c) =>
  errorResponse(
    c,
    new ApiError(
      'NOT_FOUND',
      `No route for ${c.req.method} ${new URL(c.req.url).pathname}; see /openapi.json.`,
    ),
  );
