import { concatBytes, utf8 } from '../encoding/bytes.ts';
import { sha256 } from './digest.ts';
import { ed25519Verify } from './ed25519.ts';
import type { CoseAlgorithm } from './signature-proof.ts';

/**
 * Verification of a CTAP2 assertion used as an event signature (the `webauthn.v1` envelope).
 * The authenticator signed `authenticatorData ‖ clientDataHash` (WebAuthn §6.3.3, CTAP2 §6.2) with
 * `clientDataHash = SHA-256(message)`, so an assertion made for one event cannot verify for another.
 */
export interface AuthenticatorData {
  rpIdHash: Uint8Array;
  flags: number;
  userPresent: boolean;
  userVerified: boolean;
  signCount: number;
}

export const FLAG_UP = 0x01;
export const FLAG_UV = 0x04;
export const FLAG_AT = 0x40;
export const FLAG_ED = 0x80;

export type AssertionFailure =
  | 'WEBAUTHN_AUTH_DATA_MALFORMED'
  | 'WEBAUTHN_RP_ID_MISMATCH'
  | 'WEBAUTHN_USER_NOT_PRESENT'
  | 'WEBAUTHN_SIGNATURE_INVALID';

/**
 * Parses the 37-byte assertion authenticatorData. Attested credential data and extensions are refused:
 * an assertion has no attested data, and extension outputs would be unsigned-by-us bytes we cannot read.
 */
export function parseAuthenticatorData(b: Uint8Array): AuthenticatorData | undefined {
  if (b.length !== 37) return undefined;
  const flags = b[32] ?? 0;
  if (flags & (FLAG_AT | FLAG_ED)) return undefined;
  const signCount = new DataView(b.buffer, b.byteOffset + 33, 4).getUint32(0);
  return {
    rpIdHash: b.slice(0, 32),
    flags,
    userPresent: (flags & FLAG_UP) !== 0,
    userVerified: (flags & FLAG_UV) !== 0,
    signCount,
  };
}

export async function rpIdHash(rpId: string): Promise<Uint8Array> {
  return sha256(utf8.encode(rpId));
}

/**
 * Checks rpIdHash, the user-presence flag (the touch) and the signature. The signature counter is checked
 * by the caller, which knows the previous value for this credential.
 */
export async function verifyAssertion(input: {
  publicKey: Uint8Array;
  alg: CoseAlgorithm;
  rpId: string;
  authenticatorData: Uint8Array;
  signature: Uint8Array;
  message: Uint8Array;
}): Promise<{ ok: true; authData: AuthenticatorData } | { ok: false; reason: AssertionFailure }> {
  const authData = parseAuthenticatorData(input.authenticatorData);
  if (!authData) return { ok: false, reason: 'WEBAUTHN_AUTH_DATA_MALFORMED' };
  if (!equalBytes(authData.rpIdHash, await rpIdHash(input.rpId)))
    return { ok: false, reason: 'WEBAUTHN_RP_ID_MISMATCH' };
  if (!authData.userPresent) return { ok: false, reason: 'WEBAUTHN_USER_NOT_PRESENT' };
  const signed = concatBytes(input.authenticatorData, await sha256(input.message));
  const ok =
    input.alg === -8
      ? await ed25519Verify(input.publicKey, input.signature, signed)
      : await es256Verify(input.publicKey, input.signature, signed);
  return ok ? { ok: true, authData } : { ok: false, reason: 'WEBAUTHN_SIGNATURE_INVALID' };
}

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/** ES256 as COSE/WebAuthn sends it: DER `SEQUENCE { r INTEGER, s INTEGER }`; WebCrypto wants r‖s. */
async function es256Verify(publicKey: Uint8Array, der: Uint8Array, message: Uint8Array): Promise<boolean> {
  const rs = derToP1363(der);
  if (!rs || publicKey.length !== 65 || publicKey[0] !== 0x04) return false;
  try {
    const key = await crypto.subtle.importKey(
      'raw',
      publicKey as Uint8Array<ArrayBuffer>,
      { name: 'ECDSA', namedCurve: 'P-256' },
      false,
      ['verify'],
    );
    return await crypto.subtle.verify(
      { name: 'ECDSA', hash: 'SHA-256' },
      key,
      rs as Uint8Array<ArrayBuffer>,
      message as Uint8Array<ArrayBuffer>,
    );
  } catch {
    return false;
  }
}

export function derToP1363(der: Uint8Array): Uint8Array | undefined {
  if (der[0] !== 0x30 || der[1] !== der.length - 2) return undefined;
  const out = new Uint8Array(64);
  let i = 2;
  for (const half of [0, 32]) {
    if (der[i] !== 0x02) return undefined;
    const len = der[i + 1] ?? 0;
    let v = der.subarray(i + 2, i + 2 + len);
    if (v.length !== len || len === 0 || len > 33) return undefined;
    if (len === 33) {
      if (v[0] !== 0) return undefined;
      v = v.subarray(1);
    }
    out.set(v, half + 32 - v.length);
    i += 2 + len;
  }
  return i === der.length ? out : undefined;
}
