import { hkdfSync } from 'node:crypto';
import { SESSION_KEY_SALT } from './constants.ts';
import { MastrError } from './errors.ts';

/**
 * The session key (MASTR.md §3.1): HKDF-SHA256 (RFC 5869) over the 32-byte ECDH secret (the shared point's
 * X coordinate), salt = ASCII `MASTR-Session-Key-v1`, info empty, 16 bytes → AES-128. One key serves both
 * directions; there is no transcript hash (a weakness the wire format fixes, §7.2).
 *
 * @example deriveSessionKey(sharedX) // 16 bytes
 */
export function deriveSessionKey(sharedSecret: Uint8Array): Uint8Array {
  if (sharedSecret.length !== 32) {
    throw new MastrError('KEY_INVALID', `ECDH secret must be 32 bytes, got ${sharedSecret.length}`);
  }
  return new Uint8Array(hkdfSync('sha256', sharedSecret, SESSION_KEY_SALT, new Uint8Array(0), 16));
}
