import { createECDH, type ECDH } from 'node:crypto';
import { MastrError } from './errors.ts';
import { leftPad, publicKeyFromRaw } from './p256.ts';

/**
 * A fresh P-256 ephemeral for one handshake (hardening, MASTR.md §7.3: the Python TPM backend's
 * "ephemeral" came from a deterministic CreatePrimary and was the same on every boot). It lives in this
 * process's memory only and is dropped after the ECDH; the permanent key in the TPM signs it.
 */
export class Ephemeral {
  private readonly ecdh: ECDH;
  /** 64 bytes X ‖ Y. */
  readonly publicRaw: Uint8Array;

  /** A fresh key; `privateKey` (32 bytes) only for known-answer tests. */
  constructor(privateKey?: Uint8Array) {
    this.ecdh = createECDH('prime256v1');
    if (privateKey) this.ecdh.setPrivateKey(privateKey);
    else this.ecdh.generateKeys();
    const pub = this.ecdh.getPublicKey(); // 04 ‖ X ‖ Y, fixed length
    this.publicRaw = new Uint8Array(pub.subarray(1));
  }

  /** The shared secret: the 32-byte X coordinate of the shared point (§3.1). */
  sharedSecret(peerRaw: Uint8Array): Uint8Array {
    publicKeyFromRaw(peerRaw, 'peer ephemeral'); // rejects points off the curve with KEY_INVALID
    try {
      const x = this.ecdh.computeSecret(Buffer.concat([Buffer.of(4), peerRaw]));
      return leftPad(new Uint8Array(x), 32, 'ECDH secret');
    } catch (e) {
      throw new MastrError('KEY_INVALID', `ECDH failed: ${e instanceof Error ? e.message : String(e)}`);
    }
  }
}
