/**
 * TPM 2.0 constants, named as TPM 2.0 Part 2 (Structures) names them.
 */

/** `TPM_GENERATED_VALUE`: "\xffTCG", the magic that proves a TPMS_ATTEST was made by a TPM. */
export const TPM_GENERATED_VALUE = 0xff544347;

/** `TPM_ST` structure tags (the attestation types and command/response tags). */
export const TPM_ST = {
  RSP_COMMAND: 0x00c4,
  NULL: 0x8000,
  NO_SESSIONS: 0x8001,
  SESSIONS: 0x8002,
  ATTEST_NV: 0x8014,
  ATTEST_COMMAND_AUDIT: 0x8015,
  ATTEST_SESSION_AUDIT: 0x8016,
  ATTEST_CERTIFY: 0x8017,
  ATTEST_QUOTE: 0x8018,
  ATTEST_TIME: 0x8019,
  ATTEST_CREATION: 0x801a,
  ATTEST_NV_DIGEST: 0x801c,
  CREATION: 0x8021,
  VERIFIED: 0x8022,
  AUTH_SECRET: 0x8023,
  HASHCHECK: 0x8024,
  AUTH_SIGNED: 0x8025,
} as const;

/** `TPM_ALG_ID`. */
export const TPM_ALG = {
  ERROR: 0x0000,
  RSA: 0x0001,
  TDES: 0x0003,
  SHA1: 0x0004,
  HMAC: 0x0005,
  AES: 0x0006,
  MGF1: 0x0007,
  KEYEDHASH: 0x0008,
  XOR: 0x000a,
  SHA256: 0x000b,
  SHA384: 0x000c,
  SHA512: 0x000d,
  NULL: 0x0010,
  SM3_256: 0x0012,
  SM4: 0x0013,
  RSASSA: 0x0014,
  RSAES: 0x0015,
  RSAPSS: 0x0016,
  OAEP: 0x0017,
  ECDSA: 0x0018,
  ECDH: 0x0019,
  ECDAA: 0x001a,
  SM2: 0x001b,
  ECSCHNORR: 0x001c,
  ECMQV: 0x001d,
  KDF1_SP800_56A: 0x0020,
  KDF2: 0x0021,
  KDF1_SP800_108: 0x0022,
  ECC: 0x0023,
  SYMCIPHER: 0x0025,
  CAMELLIA: 0x0026,
  SHA3_256: 0x0027,
  SHA3_384: 0x0028,
  SHA3_512: 0x0029,
  CTR: 0x0040,
  OFB: 0x0041,
  CBC: 0x0042,
  CFB: 0x0043,
  ECB: 0x0044,
} as const;

/** `TPM_ECC_CURVE`. */
export const TPM_ECC = {
  NONE: 0x0000,
  NIST_P192: 0x0001,
  NIST_P224: 0x0002,
  NIST_P256: 0x0003,
  NIST_P384: 0x0004,
  NIST_P521: 0x0005,
  BN_P256: 0x0010,
  BN_P638: 0x0011,
  SM2_P256: 0x0020,
} as const;

/** `TPMA_OBJECT` attribute bits. */
export const TPMA_OBJECT = {
  fixedTPM: 0x00000002,
  stClear: 0x00000004,
  fixedParent: 0x00000010,
  sensitiveDataOrigin: 0x00000020,
  userWithAuth: 0x00000040,
  adminWithPolicy: 0x00000080,
  noDA: 0x00000400,
  encryptedDuplication: 0x00000800,
  restricted: 0x00010000,
  decrypt: 0x00020000,
  sign: 0x00040000,
  x509sign: 0x00080000,
} as const;

/** Hash algorithms we accept, with their digest sizes and WebCrypto names. SHA-1 only where a bank needs it. */
export const HASH_ALGS: Readonly<
  Record<number, { name: string; webcrypto: 'SHA-1' | 'SHA-256' | 'SHA-384' | 'SHA-512'; size: number }>
> = {
  [TPM_ALG.SHA1]: { name: 'sha1', webcrypto: 'SHA-1', size: 20 },
  [TPM_ALG.SHA256]: { name: 'sha256', webcrypto: 'SHA-256', size: 32 },
  [TPM_ALG.SHA384]: { name: 'sha384', webcrypto: 'SHA-384', size: 48 },
  [TPM_ALG.SHA512]: { name: 'sha512', webcrypto: 'SHA-512', size: 64 },
};

/** EK certificate NV indices (TCG EK Credential Profile; the list `tpm2_getekcertificate` reads). */
export const EK_CERT_NV_INDEX = {
  RSA2048: 0x01c00002,
  ECC_P256: 0x01c0000a,
  RSA2048_H: 0x01c00012,
  ECC_P256_H: 0x01c00014,
  ECC_P384_H: 0x01c00016,
  ECC_P521_H: 0x01c00018,
  SM2_H: 0x01c0001a,
  RSA3072_H: 0x01c0001c,
  RSA4096_H: 0x01c0001e,
} as const;
