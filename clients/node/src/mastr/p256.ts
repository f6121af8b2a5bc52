import { createPublicKey, type KeyObject, sign, verify } from 'node:crypto';
import { MastrError } from './errors.ts';

/**
 * P-256 as MASTR puts it on the wire (MASTR.md §3.1): public keys are 64 bytes `X ‖ Y` (big-endian, no
 * 0x04), signatures 64 bytes `r ‖ s`. Every coordinate and scalar is left-padded to 32 bytes — the Python
 * TPM backend concatenated the TPM's buffers unpadded, which breaks about one key or signature in 128 (§7.11).
 */

/** Left-pads to `size` bytes; strips surplus leading zeros; anything longer is KEY_INVALID. */
export function leftPad(bytes: Uint8Array, size = 32, what = 'value'): Uint8Array {
  let start = 0;
  while (bytes.length - start > size && bytes[start] === 0) start++;
  const v = bytes.subarray(start);
  if (v.length > size) throw new MastrError('KEY_INVALID', `${what} is ${v.length} bytes, more than ${size}`);
  const out = new Uint8Array(size);
  out.set(v, size - v.length);
  return out;
}

/** `X ‖ Y` → a verifying KeyObject. Points not on P-256 are KEY_INVALID. */
export function publicKeyFromRaw(raw: Uint8Array, what = 'public key'): KeyObject {
  if (raw.length !== 64)
    throw new MastrError('KEY_INVALID', `${what} must be 64 bytes X‖Y, got ${raw.length}`);
  try {
    return createPublicKey({
      key: {
        kty: 'EC',
        crv: 'P-256',
        x: Buffer.from(raw.subarray(0, 32)).toString('base64url'),
        y: Buffer.from(raw.subarray(32)).toString('base64url'),
      },
      format: 'jwk',
    });
  } catch {
    throw new MastrError('KEY_INVALID', `${what} is not a point on P-256`);
  }
}

/** A P-256 KeyObject (public or private) → 64 bytes `X ‖ Y`. */
export function rawFromKeyObject(key: KeyObject): Uint8Array {
  const jwk = key.export({ format: 'jwk' });
  if (jwk.crv !== 'P-256' || !jwk.x || !jwk.y) throw new MastrError('KEY_INVALID', 'not a P-256 key');
  const out = new Uint8Array(64);
  out.set(leftPad(Buffer.from(jwk.x, 'base64url'), 32, 'X'), 0);
  out.set(leftPad(Buffer.from(jwk.y, 'base64url'), 32, 'Y'), 32);
  return out;
}

/** ECDSA-SHA256 over `message`, `r ‖ s` out (software keys: the emulator's token key, ephemerals). */
export function signRaw(privateKey: KeyObject, message: Uint8Array): Uint8Array {
  return new Uint8Array(sign('sha256', message, { key: privateKey, dsaEncoding: 'ieee-p1363' }));
}

/** Verifies an ECDSA-SHA256 `r ‖ s` over `message` (any valid r, s: the firmware does not enforce low-S). */
export function verifyRaw(publicRaw: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean {
  if (signature.length !== 64) return false;
  const key = publicKeyFromRaw(publicRaw);
  return verify('sha256', message, { key, dsaEncoding: 'ieee-p1363' }, signature);
}

export function toHex(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('hex');
}

/** Strict hex: even length, only hex digits (either case), optional whitespace stripped first. */
export function fromHex(hex: string, what = 'hex', expectBytes?: number): Uint8Array {
  const s = hex.replace(/\s+/g, '');
  if (!/^(?:[0-9a-fA-F]{2})*$/.test(s)) throw new MastrError('USAGE', `${what} is not hex`);
  if (expectBytes !== undefined && s.length !== expectBytes * 2) {
    throw new MastrError('USAGE', `${what} must be ${expectBytes * 2} hex characters, got ${s.length}`);
  }
  return new Uint8Array(Buffer.from(s, 'hex'));
}
