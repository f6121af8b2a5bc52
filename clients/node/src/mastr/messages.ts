import { MastrError } from './errors.ts';

/**
 * The signed messages (MASTR.md §1.5, §3.2). Each side signs only its own ephemeral (64 bytes); the host
 * signs `hash ‖ nonce` (36 bytes) for integrity. The digest is always SHA-256 of these exact bytes.
 */

export interface EcdhShare {
  /** Ephemeral public key X ‖ Y (64). */
  ephemeralPub: Uint8Array;
  /** ECDSA-SHA256 r ‖ s (64) by the sender's permanent key over `ephemeralPub`. */
  signature: Uint8Array;
}

export function encodeEcdhShare(share: EcdhShare): Uint8Array {
  if (share.ephemeralPub.length !== 64 || share.signature.length !== 64) {
    throw new MastrError('MESSAGE_MALFORMED', 'ECDH share needs a 64-byte key and a 64-byte signature');
  }
  const out = new Uint8Array(128);
  out.set(share.ephemeralPub, 0);
  out.set(share.signature, 64);
  return out;
}

export function decodeEcdhShare(payload: Uint8Array): EcdhShare {
  if (payload.length !== 128) {
    throw new MastrError('MESSAGE_MALFORMED', `ECDH share must be 128 bytes, got ${payload.length}`);
  }
  return { ephemeralPub: payload.slice(0, 64), signature: payload.slice(64) };
}

/** The integrity challenge: 4 opaque bytes (the token's uint32 in little-endian memory order). */
export function decodeIntegrityChallenge(payload: Uint8Array): Uint8Array {
  if (payload.length !== 4) {
    throw new MastrError('MESSAGE_MALFORMED', `integrity challenge must be 4 bytes, got ${payload.length}`);
  }
  return payload.slice();
}

/** What the host signs for integrity: `hash (32) ‖ nonce (4, exactly as received)`. */
export function integritySignedBytes(hash: Uint8Array, nonce: Uint8Array): Uint8Array {
  if (hash.length !== 32)
    throw new MastrError('MESSAGE_MALFORMED', `hash must be 32 bytes, got ${hash.length}`);
  if (nonce.length !== 4)
    throw new MastrError('MESSAGE_MALFORMED', `nonce must be 4 bytes, got ${nonce.length}`);
  const out = new Uint8Array(36);
  out.set(hash, 0);
  out.set(nonce, 32);
  return out;
}

export interface IntegrityResponse {
  hash: Uint8Array;
  signature: Uint8Array;
}

export function encodeIntegrityResponse(r: IntegrityResponse): Uint8Array {
  if (r.hash.length !== 32 || r.signature.length !== 64) {
    throw new MastrError(
      'MESSAGE_MALFORMED',
      'integrity response needs a 32-byte hash and a 64-byte signature',
    );
  }
  const out = new Uint8Array(96);
  out.set(r.hash, 0);
  out.set(r.signature, 32);
  return out;
}

export function decodeIntegrityResponse(payload: Uint8Array): IntegrityResponse {
  if (payload.length !== 96) {
    throw new MastrError('MESSAGE_MALFORMED', `integrity response must be 96 bytes, got ${payload.length}`);
  }
  return { hash: payload.slice(0, 32), signature: payload.slice(32) };
}

/** Only the first 4 bytes are compared, by both sides (`ping` from the token, `pong` from the host). */
export function startsWith(payload: Uint8Array, word: Uint8Array): boolean {
  if (payload.length < word.length) return false;
  for (let i = 0; i < word.length; i++) if (payload[i] !== word[i]) return false;
  return true;
}
