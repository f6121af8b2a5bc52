import { z } from 'zod';
import { ERROR_STATUS, type ErrorCode } from './error-codes.ts';

const codes = Object.keys(ERROR_STATUS) as [ErrorCode, ...ErrorCode[]];

/** The one error body every failure has (design/API.md). */
export const ErrorResponse = z
  .object({
    error: z.object({
      code: z.enum(codes),
      message: z.string().meta({ description: 'What went wrong and what to do about it.' }),
      requestId: z.string(),
      details: z.record(z.string(), z.unknown()).optional(),
    }),
  })
  .meta({ id: 'Error' });
