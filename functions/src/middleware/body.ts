import type { MiddlewareHandler } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import type { AppEnv } from '../app-env.ts';
import { ApiError } from '../errors.ts';

export const MAX_BODY_BYTES = 256 * 1024;

/** Bodies over 256 KiB are refused before they are read (design/API.md: 413). */
export const limitBody: MiddlewareHandler<AppEnv> = bodyLimit({
  maxSize: MAX_BODY_BYTES,
  onError: () => {
    throw new ApiError('PAYLOAD_TOO_LARGE', 'The request body is larger than 256 KiB.');
  },
});

/** Requests with a body must say it is JSON; anything else is refused rather than guessed at. */
export const requireJson: MiddlewareHandler<AppEnv> = async (c, next) => {
  if (c.req.method === 'POST' || c.req.method === 'PUT' || c.req.method === 'PATCH') {
    const type = c.req.header('content-type') ?? '';
    const hasBody = c.req.header('content-length') !== '0' && c.req.raw.body !== null;
    if (hasBody && !/^application\/json\s*(;|$)/i.test(type)) {
      throw new ApiError(
        'UNSUPPORTED_MEDIA_TYPE',
        'Send the body as JSON with Content-Type: application/json.',
      );
    }
  }
  await next();
};
