import { ByteReader, ByteWriter } from '../cursor.ts';

/**
 * Size-prefixed buffers (Part 2 §10.4): u16 size ‖ bytes. The caps are the `sizeof(...)` each TPM2B is
 * declared with, so an oversize length is rejected before anything is read or allocated.
 */
export const TPM2B_MAX = {
  /** `sizeof(TPMU_HA)`: the largest digest (SHA-512). */
  TPM2B_DIGEST: 64,
  /** `sizeof(TPMT_HA)`: hashAlg ‖ digest. */
  TPM2B_DATA: 66,
  /** `sizeof(TPMU_NAME)`: a TPMT_HA, or a 4-byte handle. */
  TPM2B_NAME: 66,
  /** `sizeof(TPMS_ID_OBJECT)`: integrityHMAC TPM2B_DIGEST ‖ encIdentity TPM2B_DIGEST. */
  TPM2B_ID_OBJECT: 132,
  /** `sizeof(TPMU_ENCRYPTED_SECRET)`: an RSA-4096 ciphertext is the largest member. */
  TPM2B_ENCRYPTED_SECRET: 512,
  /** A generous `sizeof(TPMS_ATTEST)`: a quote of every PCR of 16 banks stays far below. */
  TPM2B_ATTEST: 2048,
  /** `MAX_NV_BUFFER_SIZE`-class buffers (NV contents in attestations). */
  TPM2B_MAX_NV_BUFFER: 2048,
} as const;

export type Tpm2bKind = keyof typeof TPM2B_MAX;

/** Unwraps one TPM2B of the given kind; the size must cover the input exactly. */
export function parseTpm2b(kind: Tpm2bKind, bytes: Uint8Array): Uint8Array {
  const r = new ByteReader(bytes, kind);
  const content = r.tpm2b(kind, TPM2B_MAX[kind]);
  r.end();
  return content;
}

/** Wraps content as a TPM2B of the given kind. Content over the kind's cap is a programming error. */
export function marshalTpm2b(kind: Tpm2bKind, content: Uint8Array): Uint8Array {
  if (content.length > TPM2B_MAX[kind]) {
    throw new RangeError(`${kind}: ${content.length} bytes exceed its maximum ${TPM2B_MAX[kind]}`);
  }
  return new ByteWriter().tpm2b(content).finish();
}

/** `TPM2B_ID_OBJECT`, the credential blob TPM2_MakeCredential returns (Part 1 §24.4). */
export const parseIdObject = (bytes: Uint8Array): Uint8Array => parseTpm2b('TPM2B_ID_OBJECT', bytes);
export const marshalIdObject = (content: Uint8Array): Uint8Array => marshalTpm2b('TPM2B_ID_OBJECT', content);

/** `TPM2B_ENCRYPTED_SECRET`: the seed, RSA-OAEP-encrypted or as an ephemeral TPMS_ECC_POINT. */
export const parseEncryptedSecret = (bytes: Uint8Array): Uint8Array =>
  parseTpm2b('TPM2B_ENCRYPTED_SECRET', bytes);
export const marshalEncryptedSecret = (content: Uint8Array): Uint8Array =>
  marshalTpm2b('TPM2B_ENCRYPTED_SECRET', content);

/** `TPM2B_DIGEST`. */
export const parseDigest = (bytes: Uint8Array): Uint8Array => parseTpm2b('TPM2B_DIGEST', bytes);
export const marshalDigest = (content: Uint8Array): Uint8Array => marshalTpm2b('TPM2B_DIGEST', content);

/** `TPM2B_DATA` (qualifying data / extraData). */
export const parseData = (bytes: Uint8Array): Uint8Array => parseTpm2b('TPM2B_DATA', bytes);
export const marshalData = (content: Uint8Array): Uint8Array => marshalTpm2b('TPM2B_DATA', content);
