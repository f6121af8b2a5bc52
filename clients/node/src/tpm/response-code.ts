/**
 * TPM_RC decoding (Part 2 §6.6). A response code is either format zero (bit 7 clear: a plain error or,
 * with bit 11, a warning) or format one (bit 7 set: an error about a specific handle, session or
 * parameter, whose index sits in bits 8–11). Bits 16–23 name the software layer that produced it (0 = the
 * TPM itself; the TSS and resource managers use the others).
 */

const FMT0_NAMES: Readonly<Record<number, string>> = {
  0x000: 'TPM_RC_SUCCESS',
  0x01e: 'TPM_RC_BAD_TAG',
  0x100: 'TPM_RC_INITIALIZE',
  0x101: 'TPM_RC_FAILURE',
  0x103: 'TPM_RC_SEQUENCE',
  0x10b: 'TPM_RC_PRIVATE',
  0x119: 'TPM_RC_HMAC',
  0x120: 'TPM_RC_DISABLED',
  0x121: 'TPM_RC_EXCLUSIVE',
  0x124: 'TPM_RC_AUTH_TYPE',
  0x125: 'TPM_RC_AUTH_MISSING',
  0x126: 'TPM_RC_POLICY',
  0x127: 'TPM_RC_PCR',
  0x128: 'TPM_RC_PCR_CHANGED',
  0x12d: 'TPM_RC_UPGRADE',
  0x12e: 'TPM_RC_TOO_MANY_CONTEXTS',
  0x12f: 'TPM_RC_AUTH_UNAVAILABLE',
  0x130: 'TPM_RC_REBOOT',
  0x131: 'TPM_RC_UNBALANCED',
  0x142: 'TPM_RC_COMMAND_SIZE',
  0x143: 'TPM_RC_COMMAND_CODE',
  0x144: 'TPM_RC_AUTHSIZE',
  0x145: 'TPM_RC_AUTH_CONTEXT',
  0x146: 'TPM_RC_NV_RANGE',
  0x147: 'TPM_RC_NV_SIZE',
  0x148: 'TPM_RC_NV_LOCKED',
  0x149: 'TPM_RC_NV_AUTHORIZATION',
  0x14a: 'TPM_RC_NV_UNINITIALIZED',
  0x14b: 'TPM_RC_NV_SPACE',
  0x14c: 'TPM_RC_NV_DEFINED',
  0x150: 'TPM_RC_BAD_CONTEXT',
  0x151: 'TPM_RC_CPHASH',
  0x152: 'TPM_RC_PARENT',
  0x153: 'TPM_RC_NEEDS_TEST',
  0x154: 'TPM_RC_NO_RESULT',
  0x155: 'TPM_RC_SENSITIVE',
};

const WARN_NAMES: Readonly<Record<number, string>> = {
  0x901: 'TPM_RC_CONTEXT_GAP',
  0x902: 'TPM_RC_OBJECT_MEMORY',
  0x903: 'TPM_RC_SESSION_MEMORY',
  0x904: 'TPM_RC_MEMORY',
  0x905: 'TPM_RC_SESSION_HANDLES',
  0x906: 'TPM_RC_OBJECT_HANDLES',
  0x907: 'TPM_RC_LOCALITY',
  0x908: 'TPM_RC_YIELDED',
  0x909: 'TPM_RC_CANCELED',
  0x90a: 'TPM_RC_TESTING',
  0x920: 'TPM_RC_NV_RATE',
  0x921: 'TPM_RC_LOCKOUT',
  0x922: 'TPM_RC_RETRY',
  0x923: 'TPM_RC_NV_UNAVAILABLE',
  0x97f: 'TPM_RC_NOT_USED',
};
for (let i = 0; i < 7; i++) {
  (WARN_NAMES as Record<number, string>)[0x910 + i] = `TPM_RC_REFERENCE_H${i}`;
  (WARN_NAMES as Record<number, string>)[0x918 + i] = `TPM_RC_REFERENCE_S${i}`;
}

/** Format-one codes: RC_FMT1 (0x080) + the error number in bits 0–5. */
const FMT1_NAMES: Readonly<Record<number, string>> = {
  0x081: 'TPM_RC_ASYMMETRIC',
  0x082: 'TPM_RC_ATTRIBUTES',
  0x083: 'TPM_RC_HASH',
  0x084: 'TPM_RC_VALUE',
  0x085: 'TPM_RC_HIERARCHY',
  0x087: 'TPM_RC_KEY_SIZE',
  0x088: 'TPM_RC_MGF',
  0x089: 'TPM_RC_MODE',
  0x08a: 'TPM_RC_TYPE',
  0x08b: 'TPM_RC_HANDLE',
  0x08c: 'TPM_RC_KDF',
  0x08d: 'TPM_RC_RANGE',
  0x08e: 'TPM_RC_AUTH_FAIL',
  0x08f: 'TPM_RC_NONCE',
  0x090: 'TPM_RC_PP',
  0x092: 'TPM_RC_SCHEME',
  0x095: 'TPM_RC_SIZE',
  0x096: 'TPM_RC_SYMMETRIC',
  0x097: 'TPM_RC_TAG',
  0x098: 'TPM_RC_SELECTOR',
  0x09a: 'TPM_RC_INSUFFICIENT',
  0x09b: 'TPM_RC_SIGNATURE',
  0x09c: 'TPM_RC_KEY',
  0x09d: 'TPM_RC_POLICY_FAIL',
  0x09f: 'TPM_RC_INTEGRITY',
  0x0a0: 'TPM_RC_TICKET',
  0x0a1: 'TPM_RC_RESERVED_BITS',
  0x0a2: 'TPM_RC_BAD_AUTH',
  0x0a3: 'TPM_RC_EXPIRED',
  0x0a4: 'TPM_RC_POLICY_CC',
  0x0a5: 'TPM_RC_BINDING',
  0x0a6: 'TPM_RC_CURVE',
  0x0a7: 'TPM_RC_ECC_POINT',
};

/** The TSS layer in bits 16–23 (tss2_common.h `TSS2_*_RC_LAYER`). */
const LAYERS: Readonly<Record<number, string>> = {
  0: 'tpm',
  6: 'fapi',
  7: 'esapi',
  8: 'sys',
  9: 'mu',
  10: 'tcti',
  11: 'resmgr',
  12: 'resmgr-tpm',
};

export interface DecodedResponseCode {
  /** The raw 32-bit code. */
  rc: number;
  /** The TPM_RC name (`TPM_RC_AUTH_FAIL`), or `TPM_RC_0x…` when unknown. */
  name: string;
  /** The code with the layer and the index bits removed (what `name` names). */
  base: number;
  kind: 'success' | 'error' | 'warning' | 'vendor' | 'tpm1.2';
  layer: string;
  /** Format one: which handle/session/parameter (1-based) the error is about; absent when unspecified. */
  handle?: number;
  session?: number;
  parameter?: number;
  /** One line for people: `TPM_RC_AUTH_FAIL (session 1): …`. */
  message: string;
}

const DESCRIPTIONS: Readonly<Record<string, string>> = {
  TPM_RC_AUTH_FAIL: 'the authorization HMAC or password is wrong',
  TPM_RC_BAD_AUTH: 'the authorization is wrong',
  TPM_RC_LOCKOUT: 'the TPM is in dictionary-attack lockout; wait or clear the lockout',
  TPM_RC_OBJECT_MEMORY: 'no room for another loaded object; flush transient objects',
  TPM_RC_SESSION_MEMORY: 'no room for another session; flush sessions',
  TPM_RC_RETRY: 'the TPM asks to retry the command',
  TPM_RC_TESTING: 'the TPM is self-testing; retry',
  TPM_RC_INITIALIZE: 'TPM2_Startup has not been run',
  TPM_RC_HANDLE: 'the handle is not loaded or does not exist',
  TPM_RC_NV_DEFINED: 'the NV index or persistent handle is already in use',
  TPM_RC_POLICY_FAIL: 'the policy session does not satisfy the object policy',
  TPM_RC_INTEGRITY: 'the integrity check of the blob failed (wrong key or tampered data)',
  TPM_RC_VALUE: 'a value is out of range or wrong for its context',
  TPM_RC_COMMAND_CODE: 'the TPM does not implement this command',
};

function hex(n: number): string {
  return `0x${(n >>> 0).toString(16).padStart(3, '0')}`;
}

/** Decodes a response code into its name, kind, layer and (format one) handle/session/parameter index. */
export function decodeResponseCode(rc: number): DecodedResponseCode {
  rc >>>= 0;
  const layerId = (rc >>> 16) & 0xff;
  const layer = LAYERS[layerId] ?? `layer-${layerId}`;
  const code = rc & 0xffff;
  const out: DecodedResponseCode = { rc, name: '', base: code, kind: 'error', layer, message: '' };
  if (code === 0) {
    out.kind = 'success';
    out.name = 'TPM_RC_SUCCESS';
  } else if (code & 0x080) {
    // Format one: bits 0–5 error number, bit 6 P (parameter), bits 8–11 the index.
    out.base = 0x080 | (code & 0x3f);
    out.name = FMT1_NAMES[out.base] ?? `TPM_RC_${hex(out.base)}`;
    const n = (code >>> 8) & 0xf;
    if (code & 0x040) out.parameter = n;
    else if (n & 0x8) out.session = n & 0x7;
    else if (n !== 0) out.handle = n;
  } else if (!(code & 0x100)) {
    out.kind = 'tpm1.2';
    out.name = code === 0x01e ? 'TPM_RC_BAD_TAG' : `TPM1.2_${hex(code)}`;
  } else if (code & 0x400) {
    out.kind = 'vendor';
    out.name = `TPM_RC_VENDOR_${hex(code)}`;
  } else if (code & 0x800) {
    out.kind = 'warning';
    out.name = WARN_NAMES[code] ?? `TPM_RC_WARN_${hex(code)}`;
  } else {
    out.name = FMT0_NAMES[code] ?? `TPM_RC_${hex(code)}`;
  }
  const where =
    out.handle !== undefined
      ? ` (handle ${out.handle})`
      : out.session !== undefined
        ? ` (session ${out.session})`
        : out.parameter !== undefined
          ? ` (parameter ${out.parameter})`
          : '';
  const from = layerId === 0 ? '' : ` from the ${layer} layer`;
  const desc = DESCRIPTIONS[out.name];
  out.message = `${out.name}${where}${from} [0x${rc.toString(16).padStart(8, '0')}]${desc ? `: ${desc}` : ''}`;
  return out;
}
