import { sha256Hex } from './digest.ts';
import { ProvaraError } from './errors.ts';

export const KEY_ID_PATTERN = /^bp1_[0-9a-f]{16}$/;

/**
 * `bp1_` + the first 16 lowercase hex chars of SHA-256(raw 32-byte Ed25519 public key) — what
 * `backpack_signing.key_id_from_public_bytes` computes and PROTOCOL_PROFILE.txt requires.
 *
 * Provara's HARDWARE_KEY_SUPPORT.md §4 says "SHA-256 → Base64 → bp1_"; that sentence is wrong (it gives
 * `bp1_XJlZ…` for the vector key, which no Provara code produces). Hashing the SPKI DER instead of the raw
 * key is the other classic mistake. For a hardware key (PIV, COSE OKP `x`) the raw bytes are the same
 * 32 bytes, so the id does not change. For an ES256 FIDO2 credential (no Ed25519 on the authenticator)
 * the id is taken over the 65-byte uncompressed point: a Profile A verifier cannot use that key anyway.
 *
 * @example await keyIdFromPublicKey(fromHex('42e47a04…e5c7')) === 'bp1_5c99599d178e7632'
 */
export async function keyIdFromPublicKey(raw: Uint8Array): Promise<string> {
  if (raw.length !== 32 && raw.length !== 65) {
    throw new ProvaraError(
      'KEY_INVALID',
      `a public key is 32 bytes (Ed25519) or 65 (P-256), not ${raw.length}`,
    );
  }
  return `bp1_${(await sha256Hex(raw)).slice(0, 16)}`;
}
