/**
 * Why a TPM structure or attestation was rejected. These are the `details.reason` values of the API's
 * `ATTESTATION_INVALID` error (design/API.md): stable, add more, never rename.
 */
export const TPM_REASONS = [
  'MALFORMED_STRUCTURE',
  'BAD_MAGIC',
  'WRONG_ATTEST_TYPE',
  'UNSUPPORTED_ALGORITHM',
  'SIGNATURE_SCHEME_MISMATCH',
  'SIGNATURE_INVALID',
  'NONCE_MISMATCH',
  'PCR_SELECTION_MISMATCH',
  'PCR_DIGEST_MISMATCH',
  'PCR_POLICY_VIOLATION',
  'AK_ATTRIBUTES_INVALID',
  'NODE_KEY_NOT_CERTIFIED',
  'NODE_KEY_ATTRIBUTES_INVALID',
  'NODE_KEY_MISMATCH',
  'EK_CERT_UNTRUSTED',
  'EK_CERT_REQUIRED',
  'EK_MISMATCH',
  'CLOCK_REGRESSION',
  'EVENT_LOG_INVALID',
  'EVENT_LOG_MISMATCH',
] as const;

export type TpmReason = (typeof TPM_REASONS)[number];

/** A typed rejection: every parser and verifier in tpm2-ts throws only this. */
export class TpmError extends Error {
  readonly reason: TpmReason;
  /** Machine-readable specifics, e.g. `{ rule: 'kernelSha256Allowlist' }` or `{ bank: 'sha256', pcr: 7 }`. */
  readonly details: Readonly<Record<string, string | number | boolean>> | undefined;
  constructor(
    reason: TpmReason,
    message: string,
    details?: Readonly<Record<string, string | number | boolean>>,
  ) {
    super(message);
    this.name = 'TpmError';
    this.reason = reason;
    this.details = details;
  }
}

export function isTpmError(e: unknown): e is TpmError {
  return e instanceof TpmError;
}
