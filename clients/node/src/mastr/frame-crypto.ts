import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { GCM_OVERHEAD } from './constants.ts';
import { MastrError } from './errors.ts';

/**
 * Frame encryption (MASTR.md §3.1): AES-128-GCM over the **whole inner frame** (type‖len‖payload‖cksum),
 * 12-byte IV, 16-byte tag, no AAD; body on the wire = `IV ‖ C ‖ tag`. Neither side numbers frames, so
 * replay protection is not possible at this layer (§7.4) — the guard compensates (guard.ts).
 */

const IV_BYTES = 12;
const TAG_BYTES = 16;

export function encryptFrameBody(
  key: Uint8Array,
  inner: Uint8Array,
  iv: Uint8Array = randomBytes(12),
): Uint8Array {
  if (key.length !== 16)
    throw new MastrError('KEY_INVALID', `session key must be 16 bytes, got ${key.length}`);
  if (iv.length !== IV_BYTES) throw new MastrError('KEY_INVALID', `IV must be 12 bytes, got ${iv.length}`);
  const c = createCipheriv('aes-128-gcm', key, iv, { authTagLength: TAG_BYTES });
  const ct = Buffer.concat([c.update(inner), c.final()]);
  const out = new Uint8Array(IV_BYTES + ct.length + TAG_BYTES);
  out.set(iv, 0);
  out.set(ct, IV_BYTES);
  out.set(c.getAuthTag(), IV_BYTES + ct.length);
  return out;
}

/** Returns the inner frame; FRAME_DECRYPT_FAILED when too short for IV+tag or the tag does not verify. */
export function decryptFrameBody(key: Uint8Array, body: Uint8Array): Uint8Array {
  if (key.length !== 16)
    throw new MastrError('KEY_INVALID', `session key must be 16 bytes, got ${key.length}`);
  if (body.length < GCM_OVERHEAD) {
    throw new MastrError(
      'FRAME_DECRYPT_FAILED',
      `encrypted frame of ${body.length} bytes is shorter than IV + tag (${GCM_OVERHEAD})`,
    );
  }
  const iv = body.subarray(0, IV_BYTES);
  const tag = body.subarray(body.length - TAG_BYTES);
  const ct = body.subarray(IV_BYTES, body.length - TAG_BYTES);
  const d = createDecipheriv('aes-128-gcm', key, iv, { authTagLength: TAG_BYTES });
  d.setAuthTag(tag);
  try {
    return new Uint8Array(Buffer.concat([d.update(ct), d.final()]));
  } catch {
    throw new MastrError('FRAME_DECRYPT_FAILED', 'GCM authentication failed (wrong key or altered frame)');
  }
}
