import { ByteReader, ByteWriter } from '../cursor.ts';

/**
 * `TPMS_ECC_POINT` (Part 2 §11.2.5.2): TPM2B x ‖ TPM2B y, and `TPM2B_ECC_POINT` (its size-prefixed form).
 * The encrypted secret of an ECC-EK MakeCredential is a TPMS_ECC_POINT (the ephemeral public key).
 */
export interface TpmsEccPoint {
  x: Uint8Array;
  y: Uint8Array;
}

/** A generous `MAX_ECC_KEY_BYTES` (P-521 needs 66, BN_P638 80). */
export const MAX_ECC_COORDINATE_BYTES = 128;

export function readEccPoint(r: ByteReader): TpmsEccPoint {
  const x = r.tpm2b('x', MAX_ECC_COORDINATE_BYTES);
  const y = r.tpm2b('y', MAX_ECC_COORDINATE_BYTES);
  return { x, y };
}

export function writeEccPoint(w: ByteWriter, p: TpmsEccPoint): void {
  w.tpm2b(p.x).tpm2b(p.y);
}

/** A bare TPMS_ECC_POINT; trailing bytes are rejected. */
export function parseEccPoint(bytes: Uint8Array): TpmsEccPoint {
  const r = new ByteReader(bytes, 'TPMS_ECC_POINT');
  const p = readEccPoint(r);
  r.end();
  return p;
}

export function marshalEccPoint(p: TpmsEccPoint): Uint8Array {
  const w = new ByteWriter();
  writeEccPoint(w, p);
  return w.finish();
}

/** A TPM2B_ECC_POINT: the size must cover the point exactly. */
export function parseEccPoint2b(bytes: Uint8Array): TpmsEccPoint {
  const r = new ByteReader(bytes, 'TPM2B_ECC_POINT');
  const inner = r.sub('point', 'TPMS_ECC_POINT');
  r.end();
  const p = readEccPoint(inner);
  inner.end();
  return p;
}

export function marshalEccPoint2b(p: TpmsEccPoint): Uint8Array {
  return new ByteWriter().tpm2b(marshalEccPoint(p)).finish();
}
