import { createPrivateKey, generateKeyPairSync, type KeyObject, randomBytes } from 'node:crypto';
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import type { Ephemeral } from '../ephemeral.ts';
import { MastrError } from '../errors.ts';
import { rawFromKeyObject, signRaw, verifyRaw } from '../p256.ts';
import { signPrehashed, verifyPrehashed } from './p256-prehashed.ts';

/**
 * The emulated ATECC608A, as much of it as MASTR uses (MASTR.md §2.1): slot 0 holds the token's permanent
 * P-256 key (a real token needs it generated beforehand — the firmware has no genkey code — so the emulator
 * makes one on first start), slot 8 blocks 0–1 the host public key, block 2 the golden hash, block 3 the
 * WiFi PSK (plaintext), TempKey the ephemeral. With a state file, slots 0 and 8 survive restarts the way
 * the chip's EEPROM survives power cycles.
 */

export const SLOT8_BLOCK = 32;

interface StateFile {
  v: 1;
  slot0: string; // PKCS#8 DER, base64
  slot8: string; // 128 bytes hex
}

export class Atecc {
  readonly slot8 = new Uint8Array(4 * SLOT8_BLOCK);
  private slot0: KeyObject;
  /** The ATECC TempKey ephemeral (GenKey(TempKey)); replaced by each new handshake. */
  tempKey: Ephemeral | null = null;

  private constructor(
    slot0: KeyObject,
    private readonly stateFile: string | undefined,
  ) {
    this.slot0 = slot0;
  }

  /** Loads the chip from `stateFile` (creating it with a fresh slot 0 key), or an in-memory chip. */
  static open(stateFile?: string): Atecc {
    if (stateFile && existsSync(stateFile)) {
      let s: StateFile;
      try {
        s = JSON.parse(readFileSync(stateFile, 'utf8')) as StateFile;
      } catch (e) {
        throw new MastrError('USAGE', `emulator state ${stateFile} is not JSON: ${(e as Error).message}`);
      }
      if (s.v !== 1 || typeof s.slot0 !== 'string' || !/^[0-9a-f]{256}$/.test(s.slot8)) {
        throw new MastrError('USAGE', `emulator state ${stateFile} is malformed`);
      }
      const chip = new Atecc(
        createPrivateKey({ key: Buffer.from(s.slot0, 'base64'), format: 'der', type: 'pkcs8' }),
        stateFile,
      );
      chip.slot8.set(Buffer.from(s.slot8, 'hex'));
      return chip;
    }
    const chip = new Atecc(generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey, stateFile);
    chip.save();
    return chip;
  }

  /** `atcab_get_pubkey(slot 0)`: 64 bytes X ‖ Y. */
  get tokenPub(): Uint8Array {
    return rawFromKeyObject(this.slot0);
  }

  block(n: 0 | 1 | 2 | 3): Uint8Array {
    return this.slot8.slice(n * SLOT8_BLOCK, (n + 1) * SLOT8_BLOCK);
  }

  writeBlock(n: 0 | 1 | 2 | 3, data: Uint8Array): void {
    if (data.length !== SLOT8_BLOCK) throw new MastrError('MESSAGE_MALFORMED', 'slot 8 blocks are 32 bytes');
    this.slot8.set(data, n * SLOT8_BLOCK);
    this.save();
  }

  get hostPub(): Uint8Array {
    return this.slot8.slice(0, 64);
  }

  writeHostPub(pub: Uint8Array): void {
    if (pub.length !== 64) throw new MastrError('MESSAGE_MALFORMED', 'the host key is 64 bytes');
    this.slot8.set(pub, 0);
    this.save();
  }

  get psk(): string {
    const b = this.block(3);
    const end = b.indexOf(0);
    return Buffer.from(b.subarray(0, end < 0 ? b.length : end)).toString('ascii');
  }

  /** The firmware's "provisioned" test: blocks 0–1 not all zero and block 2 not all zero. */
  get provisioned(): boolean {
    return (
      this.slot8.subarray(0, 64).some((b) => b !== 0) && this.slot8.subarray(64, 96).some((b) => b !== 0)
    );
  }

  /** ECDSA with slot 0: SHA-256 of the message, or the message itself when it is exactly 32 bytes. */
  sign(message: Uint8Array): Uint8Array {
    if (message.length === 32) {
      const d = this.slot0.export({ format: 'jwk' }).d;
      return signPrehashed(Buffer.from(d ?? '', 'base64url'), message);
    }
    return signRaw(this.slot0, message);
  }

  /** `atcab_verify_extern` with the same 32-byte rule. */
  verify(pub: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean {
    try {
      return message.length === 32
        ? verifyPrehashed(pub, message, signature)
        : verifyRaw(pub, message, signature);
    } catch {
      return false; // a host key that is not a point: the ATECC reports an error, the firmware FAIL_HALTs
    }
  }

  random(n: number): Uint8Array {
    return new Uint8Array(randomBytes(n));
  }

  private save(): void {
    if (!this.stateFile) return;
    const s: StateFile = {
      v: 1,
      slot0: this.slot0.export({ format: 'der', type: 'pkcs8' }).toString('base64'),
      slot8: Buffer.from(this.slot8).toString('hex'),
    };
    const tmp = `${this.stateFile}.tmp`;
    writeFileSync(tmp, `${JSON.stringify(s)}\n`, { mode: 0o600 });
    renameSync(tmp, this.stateFile);
  }
}
