import { HASH_ALGS } from '../constants.ts';
import { ByteReader, ByteWriter } from '../cursor.ts';
import { TpmError } from '../errors.ts';

/**
 * `TPMS_PCR_SELECTION` / `TPML_PCR_SELECTION` (Part 2 §10.6.2, §10.9.7). PCR i is bit (i % 8) of byte
 * floor(i / 8), least significant bit first.
 */
export interface TpmsPcrSelection {
  hash: number;
  pcrSelect: Uint8Array;
}

/** `HASH_COUNT` bounds the list in a real TPM; 16 banks is more than any TPM implements. */
export const MAX_PCR_BANKS = 16;
/** `PCR_SELECT_MAX` for up to 64 PCRs; PC Client TPMs have 24 (sizeofSelect 3). */
export const PCR_SELECT_MAX = 8;
/** `PCR_SELECT_MIN` for a PC Client TPM (24 PCRs). */
export const PCR_SELECT_MIN = 3;

export function readPcrSelectionList(r: ByteReader): TpmsPcrSelection[] {
  const count = r.u32('TPML_PCR_SELECTION.count');
  if (count > MAX_PCR_BANKS) {
    throw new TpmError(
      'MALFORMED_STRUCTURE',
      `TPML_PCR_SELECTION: ${count} banks exceed the maximum ${MAX_PCR_BANKS}`,
    );
  }
  const out: TpmsPcrSelection[] = [];
  for (let i = 0; i < count; i++) {
    const hash = r.u16('pcrSelections.hash');
    const size = r.u8('pcrSelections.sizeofSelect');
    if (size > PCR_SELECT_MAX) {
      throw new TpmError(
        'MALFORMED_STRUCTURE',
        `TPMS_PCR_SELECTION: sizeofSelect ${size} exceeds ${PCR_SELECT_MAX}`,
      );
    }
    out.push({ hash, pcrSelect: r.bytesN(size, 'pcrSelections.pcrSelect') });
  }
  return out;
}

export function writePcrSelectionList(w: ByteWriter, list: readonly TpmsPcrSelection[]): void {
  w.u32(list.length);
  for (const s of list) w.u16(s.hash).u8(s.pcrSelect.length).bytes(s.pcrSelect);
}

/** A bare TPML_PCR_SELECTION; trailing bytes are rejected. */
export function parsePcrSelectionList(bytes: Uint8Array): TpmsPcrSelection[] {
  const r = new ByteReader(bytes, 'TPML_PCR_SELECTION');
  const list = readPcrSelectionList(r);
  r.end();
  return list;
}

export function marshalPcrSelectionList(list: readonly TpmsPcrSelection[]): Uint8Array {
  const w = new ByteWriter();
  writePcrSelectionList(w, list);
  return w.finish();
}

/** The selected PCR indices of one bank, ascending: the order their values enter the pcrDigest. */
export function selectedPcrs(sel: TpmsPcrSelection): number[] {
  const out: number[] = [];
  for (let byte = 0; byte < sel.pcrSelect.length; byte++) {
    const bits = sel.pcrSelect[byte] ?? 0;
    for (let bit = 0; bit < 8; bit++) if (bits & (1 << bit)) out.push(byte * 8 + bit);
  }
  return out;
}

/** The bank name ('sha256', …) of a TPM hash algorithm, or UNSUPPORTED_ALGORITHM. */
export function bankName(hash: number): string {
  const h = HASH_ALGS[hash];
  if (!h)
    throw new TpmError('UNSUPPORTED_ALGORITHM', `PCR bank 0x${hash.toString(16)} is not a supported hash`);
  return h.name;
}

/** The TPM hash algorithm of a bank name, or UNSUPPORTED_ALGORITHM. */
export function bankAlg(name: string): number {
  for (const [alg, h] of Object.entries(HASH_ALGS)) if (h.name === name) return Number(alg);
  throw new TpmError('UNSUPPORTED_ALGORITHM', `PCR bank '${name}' is not a supported hash`);
}

/**
 * Builds a selection from `{ sha256: [0, …, 7] }` (API.md's pcrSelection), banks in the given key order.
 * sizeofSelect is at least PCR_SELECT_MIN (TPMs reject shorter selections, Part 2 §10.6.1).
 */
export function pcrSelectionFromBanks(
  banks: Readonly<Record<string, readonly number[]>>,
): TpmsPcrSelection[] {
  return Object.entries(banks).map(([name, indices]) => {
    let size = PCR_SELECT_MIN;
    for (const i of indices) {
      if (!Number.isInteger(i) || i < 0 || i >= PCR_SELECT_MAX * 8) {
        throw new TpmError('MALFORMED_STRUCTURE', `PCR index ${i} is out of range`);
      }
      size = Math.max(size, (i >> 3) + 1);
    }
    const pcrSelect = new Uint8Array(size);
    for (const i of indices) pcrSelect[i >> 3] = (pcrSelect[i >> 3] ?? 0) | (1 << (i & 7));
    return { hash: bankAlg(name), pcrSelect };
  });
}

/** The selection as `{ sha256: [0, …, 7] }`, indices ascending. */
export function pcrSelectionToBanks(list: readonly TpmsPcrSelection[]): Record<string, number[]> {
  const out: Record<string, number[]> = {};
  for (const s of list) out[bankName(s.hash)] = selectedPcrs(s);
  return out;
}
