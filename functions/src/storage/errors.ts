import type { ErrorCode } from '../../../shared/api/error-codes.ts';

/**
 * The API error codes the SQL functions raise (as SQLSTATE P0001 with the code as the message) or
 * report in an `error_code` column when the failing call must still persist a write (a counted wrong
 * activation secret, a suspension for a missed re-attestation deadline).
 */
export const STORAGE_ERROR_CODES = [
  'VALIDATION_FAILED',
  'INSTALL_TOKEN_INVALID',
  'INSTALL_TOKEN_USED',
  'INSTALL_TOKEN_EXPIRED',
  'INSTALL_TOKEN_REVOKED',
  'CHALLENGE_INVALID',
  'CHALLENGE_EXPIRED',
  'EK_ALREADY_REGISTERED',
  'ACTIVATION_NOT_FOUND',
  'ACTIVATION_FAILED',
  'CREDENTIALS_INVALID',
  'NODE_NOT_FOUND',
  'NODE_SUSPENDED',
  'NODE_REVOKED',
  'NOT_FOUND',
  'CONFLICT',
  'ACTION_NOT_FOUND',
  'ACTION_EXPIRED',
  'ACTION_NOT_PENDING',
  'APPROVAL_INVALID',
] as const satisfies readonly ErrorCode[];

export type StorageErrorCode = (typeof STORAGE_ERROR_CODES)[number];

const KNOWN = new Set<string>(STORAGE_ERROR_CODES);

export function isStorageErrorCode(value: unknown): value is StorageErrorCode {
  return typeof value === 'string' && KNOWN.has(value);
}

/**
 * A rejection decided by the database, with the API's stable code. `detail` is the SQL function's
 * explanation (safe to log, never secret); routes turn it into an ApiError with their own message.
 */
export class StorageError extends Error {
  readonly code: StorageErrorCode;
  readonly detail: string | undefined;
  readonly details: Record<string, unknown>;

  constructor(code: StorageErrorCode, detail?: string, details: Record<string, unknown> = {}) {
    super(detail ? `${code}: ${detail}` : code);
    this.name = 'StorageError';
    this.code = code;
    this.detail = detail || undefined;
    this.details = details;
  }
}

/** What both drivers tell about a failed statement: postgres.js errors and PostgREST's error JSON. */
export interface DatabaseErrorFacts {
  /** SQLSTATE (postgres.js `code`, PostgREST `code`). */
  sqlState: string | undefined;
  message: string | undefined;
  detail: string | undefined;
}

/**
 * The one place where database errors become API codes. Our functions raise P0001 with a known code
 * as the message. A data exception (class 22: e.g. an activation id that is not a UUID) is the
 * caller's bad input. Anything else is a bug or an outage and is left to the caller (500 / 503).
 */
export function toStorageError(facts: DatabaseErrorFacts): StorageError | undefined {
  const { sqlState, message, detail } = facts;
  if (sqlState === 'P0001' && isStorageErrorCode(message)) return new StorageError(message, detail);
  if (sqlState?.startsWith('22')) return new StorageError('VALIDATION_FAILED', message);
  return undefined;
}

/** Throws the error a function reported in its `error_code` column (see STORAGE_ERROR_CODES). */
export function throwReportedError(errorCode: unknown, details: Record<string, unknown> = {}): void {
  if (errorCode === null || errorCode === undefined) return;
  if (!isStorageErrorCode(errorCode))
    throw new Error(`unexpected error_code from the database: ${String(errorCode)}`);
  throw new StorageError(errorCode, undefined, details);
}
