/**
 * Every MASTR failure has a stable `code` that callers switch on (bootstrap prints it as the halt reason;
 * the guard decides between "log and recover" and "token gone" by it). Codes may be added, never renamed.
 */
export const MASTR_ERROR_CODES = [
  // ── framing and the secure channel (§1.2, §3.1) ──
  'FRAME_BAD_ESCAPE',
  'FRAME_TOO_SHORT',
  'FRAME_LENGTH_MISMATCH',
  'FRAME_CHECKSUM',
  'FRAME_PAYLOAD_TOO_LARGE',
  'FRAME_DECRYPT_FAILED',
  // ── messages and the handshake (§3) ──
  'MESSAGE_MALFORMED',
  'SIGNATURE_INVALID',
  'UNEXPECTED_MESSAGE',
  'DEBUG_FRAME_REFUSED',
  'TOKEN_ERROR',
  'TOKEN_NACK',
  'TOKEN_FAIL_HALT',
  'TOKEN_HALTED',
  'TIMEOUT',
  'TOKEN_GONE',
  // ── the link ──
  'TRANSPORT_CLOSED',
  'TRANSPORT_FAILED',
  'SERIAL_CONFIG_REFUSED',
  // ── keys, provisioning, files ──
  'HOST_KEY_MISSING',
  'TOKEN_PUBKEY_MISSING',
  'KEY_INVALID',
  'INTEGRITY_FILE_UNREADABLE',
  'HANDOFF_FAILED',
  'HTTP_FAILED',
  'HTTP_REJECTED',
  'USAGE',
] as const;

export type MastrErrorCode = (typeof MASTR_ERROR_CODES)[number];

export class MastrError extends Error {
  readonly code: MastrErrorCode;
  readonly details: Readonly<Record<string, unknown>> | undefined;

  constructor(code: MastrErrorCode, message: string, details?: Record<string, unknown>) {
    super(message);
    this.name = 'MastrError';
    this.code = code;
    this.details = details;
  }
}

export function isMastrError(e: unknown, code?: MastrErrorCode): e is MastrError {
  return e instanceof MastrError && (code === undefined || e.code === code);
}
