/**
 * Command-side TPM 2.0 constants the agent needs and the verifier does not (Part 2 names). The shared
 * structure constants (TPM_ALG, TPM_ST, TPMA_OBJECT, …) come from shared/tpm2/constants.ts.
 */

/** `TPM_CC` command codes. */
export const TPM_CC = {
  EvictControl: 0x00000120,
  CreatePrimary: 0x00000131,
  NV_Read: 0x0000014e,
  ActivateCredential: 0x00000147,
  Certify: 0x00000148,
  PolicySecret: 0x00000151,
  Create: 0x00000153,
  Load: 0x00000157,
  Quote: 0x00000158,
  Sign: 0x0000015d,
  FlushContext: 0x00000165,
  NV_ReadPublic: 0x00000169,
  ReadPublic: 0x00000173,
  StartAuthSession: 0x00000176,
  GetCapability: 0x0000017a,
  PCR_Read: 0x0000017e,
} as const;

/** `TPM_RH` permanent handles and `TPM_RS_PW`. */
export const TPM_RH = {
  OWNER: 0x40000001,
  NULL: 0x40000007,
  PW: 0x40000009,
  LOCKOUT: 0x4000000a,
  ENDORSEMENT: 0x4000000b,
  PLATFORM: 0x4000000c,
} as const;

/** `TPM_HT` handle types (the top byte of a handle). */
export const TPM_HT = {
  PCR: 0x00,
  NV_INDEX: 0x01,
  HMAC_SESSION: 0x02,
  POLICY_SESSION: 0x03,
  PERMANENT: 0x40,
  TRANSIENT: 0x80,
  PERSISTENT: 0x81,
} as const;

/** `TPM_SE` session types. */
export const TPM_SE = { HMAC: 0x00, POLICY: 0x01, TRIAL: 0x03 } as const;

/** `TPMA_SESSION` bits. */
export const TPMA_SESSION = { continueSession: 0x01 } as const;

/** `TPM_CAP` capabilities. */
export const TPM_CAP = {
  ALGS: 0x00000000,
  HANDLES: 0x00000001,
  COMMANDS: 0x00000002,
  PCRS: 0x00000005,
  TPM_PROPERTIES: 0x00000006,
} as const;

/** `TPM_PT` fixed properties (PT_FIXED = 0x100). */
export const TPM_PT = {
  FAMILY_INDICATOR: 0x100,
  LEVEL: 0x101,
  REVISION: 0x102,
  DAY_OF_YEAR: 0x103,
  YEAR: 0x104,
  MANUFACTURER: 0x105,
  VENDOR_STRING_1: 0x106,
  VENDOR_STRING_2: 0x107,
  VENDOR_STRING_3: 0x108,
  VENDOR_STRING_4: 0x109,
  VENDOR_TPM_TYPE: 0x10a,
  FIRMWARE_VERSION_1: 0x10b,
  FIRMWARE_VERSION_2: 0x10c,
  INPUT_BUFFER: 0x10d,
  PCR_COUNT: 0x112,
  MAX_DIGEST: 0x120,
  NV_BUFFER_MAX: 0x12c,
} as const;

/** `TPMA_NV` bits the agent reads (Part 2 §13.4). */
export const TPMA_NV = {
  PPREAD: 0x00010000,
  OWNERREAD: 0x00020000,
  AUTHREAD: 0x00040000,
  POLICYREAD: 0x00080000,
  WRITTEN: 0x20000000,
} as const;

/**
 * The size of a TPM command/response header (tag u16, size u32, code u32). A TPM's responses are bounded by
 * TPM_PT_MAX_RESPONSE_SIZE (4096 on PC Client TPMs); 64 KiB is the hard cap the transports enforce so a
 * corrupt size field can never make them wait for or allocate more.
 */
export const HEADER_SIZE = 10;
export const MAX_RESPONSE_SIZE = 0x10000;
