import type { Context, ErrorHandler, NotFoundHandler } from 'hono';
import { HTTPException } from 'hono/http-exception';
import type { ErrorBody, ErrorCode } from '../../../shared/api/error-codes.ts';
import { TpmError } from '../../../shared/tpm2/errors.ts';
import type { AppEnv } from '../app-env.ts';
import { DEFAULT_MESSAGES } from '../error-messages.ts';
import { ApiError } from '../errors.ts';
import { StorageError } from '../storage/errors.ts';
import { StorageUnavailable } from '../storage/port.ts';

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
    400: ['VALIDATION_FAILED', 'The request body is not valid JSON; send a JSON object.'],
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

/** Translates what lower layers throw into the API's error codes, in one place. */
export function toApiError(err: unknown): ApiError | undefined {
  if (err instanceof ApiError) return err;
  if (err instanceof TpmError) {
    return new ApiError('ATTESTATION_INVALID', `Attestation rejected: ${err.message}`, {
      details: { ...(err.details ?? {}), reason: err.reason },
    });
  }
  if (err instanceof StorageError) {
    const details = { ...err.details };
    return new ApiError(err.code, DEFAULT_MESSAGES[err.code] ?? err.code, {
      ...(Object.keys(details).length ? { details } : {}),
    });
  }
  if (err instanceof StorageUnavailable) {
    return new ApiError('DATABASE_UNAVAILABLE', 'The database is unreachable; retry in a moment.');
  }
  if (err instanceof HTTPException) return fromHttpException(err);
  return undefined;
}

/** Every failure leaves as the API's error body; unexpected exceptions say nothing internal. */
export const onError: ErrorHandler<AppEnv> = (err, c) => {
  const api = toApiError(err);
  if (api) {
    if (api.status >= 500) c.get('log')?.error('request.failed', { code: api.code, error: err });
    return errorResponse(c, api);
  }
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
