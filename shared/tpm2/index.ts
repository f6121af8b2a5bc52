/**
 * tpm2-ts: TPM 2.0 structures and attestation verification on WebCrypto alone (design/ATTESTATION.md).
 * Every parser and verifier throws only TpmError, whose `reason` is one of the API's verifier reasons.
 */

// ── Credential activation and EK certificates (kdf, make-credential, ek-certificate): append below ────
export * from './aes-cfb.ts';
// ── Verifiers ────────────────────────────────────────────────────────────────────────────────────────
export * from './ak.ts';
export * from './clock.ts';
// ── Foundations ──────────────────────────────────────────────────────────────────────────────────────
export * from './constants.ts';
export * from './cursor.ts';
export * from './ek-certificate.ts';
export { EK_ROOTS_BUNDLE_DATE } from './ek-roots/bundle.ts';
export * from './errors.ts';
// ── Measured boot: TCG event log parse, replay, facts and policy ─────────────────────────────────────
export * from './eventlog/index.ts';
export * from './kdf.ts';
export * from './make-credential.ts';
export * from './node-key.ts';
export * from './object-attributes.ts';
export * from './public-key-spki.ts';
export * from './secret-sharing.ts';
// ── Codec: one file per TPM structure ────────────────────────────────────────────────────────────────
export * from './structures/attest.ts';
export * from './structures/ecc-point.ts';
export * from './structures/pcr-selection.ts';
export * from './structures/public.ts';
export * from './structures/signature.ts';
export * from './structures/tpm2b.ts';
export * from './verify-certify.ts';
export * from './verify-quote.ts';
export * from './verify-signature.ts';
export type * from './webcrypto-types.ts';
