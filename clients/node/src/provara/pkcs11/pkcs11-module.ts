import { createRequire } from 'node:module';
import { ProvaraError } from '../../../../../shared/provara/errors.ts';
import * as C from './pkcs11-constants.ts';

/**
 * A PKCS#11 module (`.so`/`.dll`) loaded through koffi, which ships prebuilt binaries — no node-gyp, so
 * it installs where npm runs no install scripts. Only the calls Provara needs are bound: slots, token info,
 * sessions, login, object search, attributes, Ed25519 key generation and `CKM_EDDSA` signing.
 *
 * The functions are bound by their exported `C_*` names, which SoftHSM2, OpenSC and YubiKey's ykcs11 all
 * export. `CK_ULONG` is C `unsigned long` (koffi `ulong`): 64-bit on Linux/macOS, 32-bit on Windows.
 */
type Koffi = typeof import('koffi');
let ffiInstance: Koffi | undefined;

/**
 * koffi, loaded on first use rather than imported: the agent bundle must start on hosts without koffi
 * (only PKCS#11 and Windows TBS need it), and koffi's type registry is process-wide, so the structs are
 * declared once.
 */
function ffi(): Koffi {
  if (ffiInstance) return ffiInstance;
  let koffi: Koffi;
  try {
    koffi = createRequire(import.meta.url)('koffi') as Koffi;
  } catch (e) {
    throw new ProvaraError(
      'HARDWARE_UNAVAILABLE',
      `PKCS#11 needs the koffi package next to the agent: ${(e as Error).message}`,
    );
  }
  // Registered by name; the function signatures below refer to them.
  koffi.struct('CK_ATTRIBUTE', { type: 'ulong', pValue: 'void *', ulValueLen: 'ulong' });
  koffi.struct('CK_MECHANISM', {
    mechanism: 'ulong',
    pParameter: 'void *',
    ulParameterLen: 'ulong',
  });
  const CK_VERSION = koffi.struct('CK_VERSION', { major: 'uint8', minor: 'uint8' });
  koffi.struct('CK_TOKEN_INFO', {
    label: koffi.array('uint8', 32),
    manufacturerID: koffi.array('uint8', 32),
    model: koffi.array('uint8', 16),
    serialNumber: koffi.array('uint8', 16),
    flags: 'ulong',
    ulMaxSessionCount: 'ulong',
    ulSessionCount: 'ulong',
    ulMaxRwSessionCount: 'ulong',
    ulRwSessionCount: 'ulong',
    ulMaxPinLen: 'ulong',
    ulMinPinLen: 'ulong',
    ulTotalPublicMemory: 'ulong',
    ulFreePublicMemory: 'ulong',
    ulTotalPrivateMemory: 'ulong',
    ulFreePrivateMemory: 'ulong',
    hardwareVersion: CK_VERSION,
    firmwareVersion: CK_VERSION,
    utcTime: koffi.array('uint8', 16),
  });
  ffiInstance = koffi;
  return koffi;
}

interface Attribute {
  type: number;
  pValue: Uint8Array | null;
  ulValueLen: number;
}

export interface TokenInfo {
  slot: number;
  label: string;
  manufacturer: string;
  model: string;
  serial: string;
  pinPad: boolean;
  /** CKF_TOKEN_INITIALIZED: SoftHSM2 always shows one more, empty slot, which cannot be opened. */
  initialized: boolean;
}

const text = (b: number[] | Uint8Array) =>
  new TextDecoder().decode(Uint8Array.from(b)).replace(/[\s\0]+$/, '');

function ulong(v: number): Uint8Array {
  const ulongSize = ffi().sizeof('ulong');
  const b = new Uint8Array(ulongSize);
  const dv = new DataView(b.buffer);
  if (ulongSize === 8) dv.setBigUint64(0, BigInt(v), true);
  else dv.setUint32(0, v, true);
  return b;
}

const attr = (type: number, value: Uint8Array): Attribute => ({
  type,
  pValue: value,
  ulValueLen: value.length,
});
const TRUE = new Uint8Array([1]);
const FALSE = new Uint8Array([0]);

type Fn = (...args: unknown[]) => number;
const loaded = new Map<string, Pkcs11Module>();

export class Pkcs11Module {
  private readonly fn: Record<string, Fn>;

  private constructor(readonly path: string) {
    let lib: ReturnType<Koffi['load']>;
    try {
      lib = ffi().load(path);
    } catch (e) {
      throw new ProvaraError(
        'HARDWARE_UNAVAILABLE',
        `cannot load PKCS#11 module ${path}: ${(e as Error).message}`,
      );
    }
    const f = (sig: string) => lib.func(sig) as unknown as Fn;
    this.fn = {
      C_Initialize: f('ulong C_Initialize(void *)'),
      C_GetSlotList: f('ulong C_GetSlotList(uint8, _Out_ ulong *, _Inout_ ulong *)'),
      C_GetTokenInfo: f('ulong C_GetTokenInfo(ulong, _Out_ CK_TOKEN_INFO *)'),
      C_OpenSession: f('ulong C_OpenSession(ulong, ulong, void *, void *, _Out_ ulong *)'),
      C_CloseSession: f('ulong C_CloseSession(ulong)'),
      C_Login: f('ulong C_Login(ulong, ulong, const uint8_t *, ulong)'),
      C_FindObjectsInit: f('ulong C_FindObjectsInit(ulong, CK_ATTRIBUTE *, ulong)'),
      C_FindObjects: f('ulong C_FindObjects(ulong, _Out_ ulong *, ulong, _Out_ ulong *)'),
      C_FindObjectsFinal: f('ulong C_FindObjectsFinal(ulong)'),
      C_GetAttributeValue: f('ulong C_GetAttributeValue(ulong, ulong, _Inout_ CK_ATTRIBUTE *, ulong)'),
      C_GenerateKeyPair: f(
        'ulong C_GenerateKeyPair(ulong, CK_MECHANISM *, CK_ATTRIBUTE *, ulong, CK_ATTRIBUTE *, ulong, _Out_ ulong *, _Out_ ulong *)',
      ),
      C_SignInit: f('ulong C_SignInit(ulong, CK_MECHANISM *, ulong)'),
      C_Sign: f('ulong C_Sign(ulong, const uint8_t *, ulong, _Out_ uint8_t *, _Inout_ ulong *)'),
    };
    const rv = this.fn.C_Initialize?.(null) as number;
    if (rv !== C.CKR_OK && rv !== C.CKR_CRYPTOKI_ALREADY_INITIALIZED) this.check(rv, 'C_Initialize');
  }

  /** One instance per module path: C_Initialize is process-wide. */
  static load(path: string): Pkcs11Module {
    let m = loaded.get(path);
    if (!m) {
      m = new Pkcs11Module(path);
      loaded.set(path, m);
    }
    return m;
  }

  check(rv: number, what: string): void {
    if (rv === C.CKR_OK) return;
    const name = C.CKR[rv] ?? `0x${rv.toString(16)}`;
    if (rv === C.CKR_PIN_INCORRECT || rv === C.CKR_PIN_LOCKED) {
      throw new ProvaraError('PIN_INCORRECT', `${what}: ${name}`, { ckr: name });
    }
    throw new ProvaraError('TOKEN_ERROR', `${what}: ${name}`, { ckr: name });
  }

  private call(name: string, ...args: unknown[]): void {
    this.check((this.fn[name] as Fn)(...args), name);
  }

  tokens(): TokenInfo[] {
    const count = [0];
    this.call('C_GetSlotList', 1, null, count);
    const slots: number[] = new Array(count[0]).fill(0);
    if (slots.length) this.call('C_GetSlotList', 1, slots, count);
    return slots.slice(0, count[0]).map((slot) => {
      const info: Record<string, unknown> = {};
      this.call('C_GetTokenInfo', slot, info);
      return {
        slot,
        label: text(info.label as number[]),
        manufacturer: text(info.manufacturerID as number[]),
        model: text(info.model as number[]),
        serial: text(info.serialNumber as number[]),
        pinPad: ((info.flags as number) & C.CKF_PROTECTED_AUTHENTICATION_PATH) !== 0,
        initialized: ((info.flags as number) & C.CKF_TOKEN_INITIALIZED) !== 0,
      };
    });
  }

  openSession(slot: number, readWrite: boolean): number {
    const h = [0];
    this.call(
      'C_OpenSession',
      slot,
      C.CKF_SERIAL_SESSION | (readWrite ? C.CKF_RW_SESSION : 0),
      null,
      null,
      h,
    );
    return h[0] as number;
  }

  closeSession(session: number): void {
    (this.fn.C_CloseSession as Fn)(session);
  }

  /** `pin` undefined logs in through the token's PIN pad (CKF_PROTECTED_AUTHENTICATION_PATH). */
  login(session: number, pin: string | undefined): void {
    const p = pin === undefined ? null : new TextEncoder().encode(pin);
    const rv = (this.fn.C_Login as Fn)(session, C.CKU_USER, p, p ? p.length : 0);
    if (rv !== C.CKR_USER_ALREADY_LOGGED_IN) this.check(rv, 'C_Login');
  }

  findObjects(session: number, template: Attribute[]): number[] {
    this.call('C_FindObjectsInit', session, template, template.length);
    const out: number[] = [];
    try {
      for (;;) {
        const handles = new Array(16).fill(0);
        const n = [0];
        this.call('C_FindObjects', session, handles, 16, n);
        out.push(...handles.slice(0, n[0]));
        if ((n[0] as number) < 16) break;
      }
    } finally {
      (this.fn.C_FindObjectsFinal as Fn)(session);
    }
    return out;
  }

  attribute(session: number, object: number, type: number): Uint8Array {
    const probe = [{ type, pValue: null, ulValueLen: 0 }];
    this.call('C_GetAttributeValue', session, object, probe, 1);
    const buf = new Uint8Array(probe[0]?.ulValueLen ?? 0);
    const a = [{ type, pValue: buf, ulValueLen: buf.length }];
    this.call('C_GetAttributeValue', session, object, a, 1);
    return buf.subarray(0, a[0]?.ulValueLen ?? 0);
  }

  /** Ed25519 private keys (CKK_EC_EDWARDS), optionally by label. */
  findEd25519Keys(session: number, cls: number, label?: string): number[] {
    const t = [attr(C.CKA_CLASS, ulong(cls)), attr(C.CKA_KEY_TYPE, ulong(C.CKK_EC_EDWARDS))];
    if (label !== undefined) t.push(attr(C.CKA_LABEL, new TextEncoder().encode(label)));
    return this.findObjects(session, t);
  }

  /** Generates a non-extractable Ed25519 key pair on the token; returns [public, private] handles. */
  generateEd25519(session: number, label: string, id: Uint8Array): [number, number] {
    const l = new TextEncoder().encode(label);
    const pub = [
      attr(C.CKA_EC_PARAMS, C.ED25519_EC_PARAMS),
      attr(C.CKA_TOKEN, TRUE),
      attr(C.CKA_VERIFY, TRUE),
      attr(C.CKA_LABEL, l),
      attr(C.CKA_ID, id),
    ];
    const priv = [
      attr(C.CKA_TOKEN, TRUE),
      attr(C.CKA_PRIVATE, TRUE),
      attr(C.CKA_SENSITIVE, TRUE),
      attr(C.CKA_EXTRACTABLE, FALSE),
      attr(C.CKA_SIGN, TRUE),
      attr(C.CKA_LABEL, l),
      attr(C.CKA_ID, id),
    ];
    const ph = [0];
    const kh = [0];
    this.call(
      'C_GenerateKeyPair',
      session,
      { mechanism: C.CKM_EC_EDWARDS_KEY_PAIR_GEN, pParameter: null, ulParameterLen: 0 },
      pub,
      pub.length,
      priv,
      priv.length,
      ph,
      kh,
    );
    return [ph[0] as number, kh[0] as number];
  }

  /** CKM_EDDSA without parameters: pure Ed25519 over the whole message (RFC 8032), as Profile A requires. */
  signEdDSA(session: number, key: number, message: Uint8Array): Uint8Array {
    this.call('C_SignInit', session, { mechanism: C.CKM_EDDSA, pParameter: null, ulParameterLen: 0 }, key);
    const sig = new Uint8Array(64);
    const len = [64];
    this.call('C_Sign', session, message, message.length, sig, len);
    return sig.subarray(0, len[0]);
  }
}

/** CKA_EC_POINT of an Ed25519 key: a DER OCTET STRING (04 20 ‖ key) per PKCS#11 3.0; some modules give raw. */
export function ecPointToRaw(point: Uint8Array): Uint8Array | undefined {
  if (point.length === 32) return point;
  if (point.length === 34 && point[0] === 0x04 && point[1] === 0x20) return point.subarray(2);
  return undefined;
}
