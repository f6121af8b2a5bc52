import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { fromHex, toHex } from '../encoding/bytes.ts';
import { TPM_ALG } from './constants.ts';
import { TpmError } from './errors.ts';
import { kdfa, kdfe } from './kdf.ts';

const VECTORS = new URL('../../../shared/vectors/tpm/tpm-test-vectors/', import.meta.url);

interface KdfaVector {
  Name: string;
  HashAlg: number;
  Key: string;
  Label: string;
  ContextU: string;
  ContextV: string;
  Bits: number;
  Result: string;
}
interface KdfeVector {
  Name: string;
  HashAlg: number;
  Z: string;
  Label: string;
  ContextU: string;
  ContextV: string;
  Bits: number;
  Result: string;
}

function load<T>(file: string): T[] {
  return JSON.parse(readFileSync(new URL(file, VECTORS), 'utf8')) as T[];
}

function hex(s: string): Uint8Array {
  const b = fromHex(s);
  if (!b) throw new Error(`bad hex in vector: ${s}`);
  return b;
}

const kdfaVectors = load<KdfaVector>('kdfa.json');
const kdfeVectors = load<KdfeVector>('kdfe.json');

describe('KDFa (SP800-108 counter mode HMAC)', () => {
  it('has all 100 reference vectors, 4 of them with an empty key', () => {
    expect(kdfaVectors).toHaveLength(100);
    expect(kdfaVectors.filter((v) => v.Key === '')).toHaveLength(4);
  });

  it.each(kdfaVectors.map((v) => [v.Name, v] as const))('reproduces vector %s', async (_name, v) => {
    const out = await kdfa(v.HashAlg, hex(v.Key), v.Label, hex(v.ContextU), hex(v.ContextV), v.Bits);
    expect(toHex(out)).toBe(v.Result);
  });

  it('treats the empty key as HMAC does (zero-padded to the block), although WebCrypto refuses it', async () => {
    const empty = await kdfa(
      TPM_ALG.SHA256,
      new Uint8Array(),
      'SECRET',
      Uint8Array.of(1),
      Uint8Array.of(2),
      256,
    );
    const zero = await kdfa(
      TPM_ALG.SHA256,
      Uint8Array.of(0),
      'SECRET',
      Uint8Array.of(1),
      Uint8Array.of(2),
      256,
    );
    expect(toHex(empty)).toBe(toHex(zero));
  });

  it('derives zero bytes for a zero bit length', async () => {
    expect(
      await kdfa(TPM_ALG.SHA256, Uint8Array.of(1), 'X', new Uint8Array(), new Uint8Array(), 0),
    ).toHaveLength(0);
  });

  it('masks the unused high bits of the first byte for an odd bit length', async () => {
    const full = await kdfa(TPM_ALG.SHA1, Uint8Array.of(7), 'XOR', new Uint8Array(), new Uint8Array(), 12);
    expect(full).toHaveLength(2);
    expect((full[0] ?? 0) & 0xf0).toBe(0);
  });

  it('accepts a label that already carries its NUL terminator without adding a second one', async () => {
    const plain = await kdfa(
      TPM_ALG.SHA256,
      Uint8Array.of(9),
      'STORAGE',
      new Uint8Array(),
      new Uint8Array(),
      128,
    );
    const withNul = await kdfa(
      TPM_ALG.SHA256,
      Uint8Array.of(9),
      new TextEncoder().encode('STORAGE\0'),
      new Uint8Array(),
      new Uint8Array(),
      128,
    );
    expect(toHex(withNul)).toBe(toHex(plain));
  });

  it('rejects an unknown hash algorithm with UNSUPPORTED_ALGORITHM', async () => {
    await expect(
      kdfa(TPM_ALG.SM3_256, Uint8Array.of(1), 'X', new Uint8Array(), new Uint8Array(), 128),
    ).rejects.toMatchObject({ reason: 'UNSUPPORTED_ALGORITHM' });
  });

  it('rejects a negative, fractional or huge bit length with MALFORMED_STRUCTURE', async () => {
    for (const bits of [-8, 12.5, 1 << 20]) {
      const p = kdfa(TPM_ALG.SHA256, Uint8Array.of(1), 'X', new Uint8Array(), new Uint8Array(), bits);
      await expect(p).rejects.toBeInstanceOf(TpmError);
      await expect(p).rejects.toMatchObject({ reason: 'MALFORMED_STRUCTURE' });
    }
  });
});

describe('KDFe (SP800-56A concatenation KDF)', () => {
  it('has all 100 reference vectors', () => {
    expect(kdfeVectors).toHaveLength(100);
  });

  it.each(kdfeVectors.map((v) => [v.Name, v] as const))('reproduces vector %s', async (_name, v) => {
    const out = await kdfe(v.HashAlg, hex(v.Z), v.Label, hex(v.ContextU), hex(v.ContextV), v.Bits);
    expect(toHex(out)).toBe(v.Result);
  });

  it('rejects an unknown hash algorithm with UNSUPPORTED_ALGORITHM', async () => {
    await expect(
      kdfe(0x0099, Uint8Array.of(1), 'X', new Uint8Array(), new Uint8Array(), 128),
    ).rejects.toMatchObject({
      reason: 'UNSUPPORTED_ALGORITHM',
    });
  });

  it('rejects a negative bit length with MALFORMED_STRUCTURE', async () => {
    await expect(
      kdfe(TPM_ALG.SHA256, Uint8Array.of(1), 'X', new Uint8Array(), new Uint8Array(), -1),
    ).rejects.toMatchObject({ reason: 'MALFORMED_STRUCTURE' });
  });
});
