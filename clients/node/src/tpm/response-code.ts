/**
 * TPM_RC decoding (Part 2 §6.6). A response code is either format zero (bit 7 clear: a plain error or,
 * with bit 11, a warning) or format one (bit 7 set: an error about a specific handle, session or
 * parameter, whose index sits in bits 8–11). Bits 16–23 name the software layer that produced it (0 = the
 * TPM itself; the TSS and resource managers use the others).
 */

const FMT0_NAMES: Readonly<Record<number, string>> = {
  0: 'TPM_RC_SUCCESS',
  30: 'TPM_RC_BAD_TAG',
  256: 'TPM_RC_INITIALIZE',
  257: 'TPM_RC_FAILURE',
  259: 'TPM_RC_SEQUENCE',
  267: 'TPM_RC_PRIVATE',
  281: 'TPM_RC_HMAC',
  288: 'TPM_RC_DISABLED',
  289: 'TPM_RC_EXCLUSIVE',
  292: 'TPM_RC_AUTH_TYPE',
  293: 'TPM_RC_AUTH_MISSING',
  294: 'TPM_RC_POLICY',
  295: 'TPM_RC_PCR',
  296: 'TPM_RC_PCR_CHANGED',
  301: 'TPM_RC_UPGRADE',
  302: 'TPM_RC_TOO_MANY_CONTEXTS',
  303: 'TPM_RC_AUTH_UNAVAILABLE',
  304: 'TPM_RC_REBOOT',
  305: 'TPM_RC_UNBALANCED',
  322: 'TPM_RC_COMMAND_SIZE',
  323: 'TPM_RC_COMMAND_CODE',
  324: 'TPM_RC_AUTHSIZE',
  325: 'TPM_RC_AUTH_CONTEXT',
  326: 'TPM_RC_NV_RANGE',
  327: 'TPM_RC_NV_SIZE',
  328: 'TPM_RC_NV_LOCKED',
  329: 'TPM_RC_NV_AUTHORIZATION',
  330: 'TPM_RC_NV_UNINITIALIZED',
  331: 'TPM_RC_NV_SPACE',
  332: 'TPM_RC_NV_DEFINED',
  336: 'TPM_RC_BAD_CONTEXT',
  337: 'TPM_RC_CPHASH',
  338: 'TPM_RC_PARENT',
  339: 'TPM_RC_NEEDS_TEST',
  340: 'TPM_RC_NO_RESULT',
  341: 'TPM_RC_SENSITIVE',
};

const WARN_NAMES: Readonly<Record<number, string>> = {
  2305: 'TPM_RC_CONTEXT_GAP',
  2306: 'TPM_RC_OBJECT_MEMORY',
  2307: 'TPM_RC_SESSION_MEMORY',
  2308: 'TPM_RC_MEMORY',
  2309: 'TPM_RC_SESSION_HANDLES',
  2310: 'TPM_RC_OBJECT_HANDLES',
  2311: 'TPM_RC_LOCALITY',
  2312: 'TPM_RC_YIELDED',
  2313: 'TPM_RC_CANCELED',
  2314: 'TPM_RC_TESTING',
  2336: 'TPM_RC_NV_RATE',
  2337: 'TPM_RC_LOCKOUT',
  2338: 'TPM_RC_RETRY',
  2339: 'TPM_RC_NV_UNAVAILABLE',
  2431: 'TPM_RC_NOT_USED',
};
for (let i = 0; i < 7; i++) {
  (WARN_NAMES as Record<number, string>)[0x910 + i] = `TPM_RC_REFERENCE_H${i}`;
  (WARN_NAMES as Record<number, string>)[0x918 + i] = `TPM_RC_REFERENCE_S${i}`;
}

/** Format-one codes: RC_FMT1 (0x080) + the error number in bits 0–5. */
const FMT1_NAMES: Readonly<Record<number, string>> = {
  129: 'TPM_RC_ASYMMETRIC',
  130: 'TPM_RC_ATTRIBUTES',
  131: 'TPM_RC_HASH',
  132: 'TPM_RC_VALUE',
  133: 'TPM_RC_HIERARCHY',
  135: 'TPM_RC_KEY_SIZE',
  136: 'TPM_RC_MGF',
  137: 'TPM_RC_MODE',
  138: 'TPM_RC_TYPE',
  139: 'TPM_RC_HANDLE',
  140: 'TPM_RC_KDF',
  141: 'TPM_RC_RANGE',
  142: 'TPM_RC_AUTH_FAIL',
  143: 'TPM_RC_NONCE',
  144: 'TPM_RC_PP',
  146: 'TPM_RC_SCHEME',
  149: 'TPM_RC_SIZE',
  150: 'TPM_RC_SYMMETRIC',
  151: 'TPM_RC_TAG',
  152: 'TPM_RC_SELECTOR',
  154: 'TPM_RC_INSUFFICIENT',
  155: 'TPM_RC_SIGNATURE',
  156: 'TPM_RC_KEY',
  157: 'TPM_RC_POLICY_FAIL',
  159: 'TPM_RC_INTEGRITY',
  160: 'TPM_RC_TICKET',
  161: 'TPM_RC_RESERVED_BITS',
  162: 'TPM_RC_BAD_AUTH',
  163: 'TPM_RC_EXPIRED',
  164: 'TPM_RC_POLICY_CC',
  165: 'TPM_RC_BINDING',
  166: 'TPM_RC_CURVE',
  167: 'TPM_RC_ECC_POINT',
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
