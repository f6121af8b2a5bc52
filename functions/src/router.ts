import { OpenAPIHono } from '@hono/zod-openapi';
import type { z } from 'zod';
import { ERROR_STATUS, type ErrorCode } from '../../shared/api/error-codes.ts';
import { ErrorResponse } from '../../shared/api/errors.ts';
import type { AppEnv } from './app-env.ts';
import { ApiError } from './errors.ts';

/**
 * A route module's router: request validation failures become VALIDATION_FAILED with the zod issues
 * (paths and messages only — never the offending values, which may be secrets).
 */
export function createRouter(): OpenAPIHono<AppEnv> {
  return new OpenAPIHono<AppEnv>({
    defaultHook: (result) => {
      if (!result.success) {
        const issues = result.error.issues.map((i) => ({ path: i.path.join('.'), message: i.message }));
        throw new ApiError(
          'VALIDATION_FAILED',
          'The request does not match the schema; see details.issues.',
          {
            details: { issues },
          },
        );
      }
    },
  });
}

export function jsonBody<T extends z.ZodType>(schema: T, description?: string) {
  return {
    content: { 'application/json': { schema } },
    required: true,
    ...(description ? { description } : {}),
  } as const;
}

export function jsonResponse<T extends z.ZodType>(schema: T, description: string) {
  return { content: { 'application/json': { schema } }, description } as const;
}

/** Documents the error responses a route can give, grouped by HTTP status. */
export function errorResponses(...codes: ErrorCode[]) {
  const byStatus = new Map<number, ErrorCode[]>();
  for (const code of [...codes, 'VALIDATION_FAILED', 'INTERNAL'] as ErrorCode[]) {
    const s = ERROR_STATUS[code];
    byStatus.set(s, [...new Set([...(byStatus.get(s) ?? []), code])]);
  }
  return Object.fromEntries(
    [...byStatus].map(([status, list]) => [
      status,
      { description: list.join(', '), content: { 'application/json': { schema: ErrorResponse } } },
    ]),
  );
}
