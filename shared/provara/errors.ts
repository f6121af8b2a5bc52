/**
 * Every failure the Provara library raises carries a stable `code` that callers switch on (jose-style).
 * Codes may be added, never renamed. Verification *findings* (a vault that fails a check) are not errors:
 * they are reported in a `VerifyReport` with their own reason codes (verify-report.ts).
 */
export const PROVARA_ERROR_CODES = [
  // ── JSON text → tagged value (json-parse.ts) ──
  'JSON_SYNTAX',
  'JSON_NON_FINITE',
  'JSON_LONE_SURROGATE',
  'JSON_INT_TOO_LONG',
  'JSON_INVALID_UTF8',
  // ── tagged value → canonical bytes ──
  'JSON_NOT_REPRESENTABLE',
  // ── keys and signatures ──
  'KEY_INVALID',
  'SIGNATURE_INVALID',
  'SIGNER_FAILED',
  // ── vault files ──
  'VAULT_EXISTS',
  'VAULT_NOT_FOUND',
  'VAULT_FILE_INVALID',
  'EVENT_INVALID',
  'REDUCER_INPUT_INVALID',
  // ── multisig, sessions, rotation ──
  'POLICY_INVALID',
  'PROPOSAL_NOT_FOUND',
  'PROPOSAL_INVALID',
  'THRESHOLD_NOT_MET',
  'COSIGNER_NOT_ALLOWED',
  'SESSION_INVALID',
  'ROTATION_REFUSED',
  // ── FIDO2 envelope ──
  'WEBAUTHN_INVALID',
  // ── hardware tokens (agent side) ──
  'HARDWARE_UNAVAILABLE',
  'TOKEN_NOT_FOUND',
  'KEY_NOT_FOUND_ON_TOKEN',
  'PIN_REQUIRED',
  'PIN_INCORRECT',
  'TOKEN_ERROR',
  'CTAP_ERROR',
  'CTAPHID_FRAMING',
  'CBOR_INVALID',
  'USER_PRESENCE_REQUIRED',
] as const;

export type ProvaraErrorCode = (typeof PROVARA_ERROR_CODES)[number];

export class ProvaraError extends Error {
  readonly code: ProvaraErrorCode;
  readonly details: Readonly<Record<string, unknown>> | undefined;

  constructor(code: ProvaraErrorCode, message: string, details?: Record<string, unknown>) {
    super(message);
    this.name = 'ProvaraError';
    this.code = code;
    this.details = details;
  }
}
