import { describe, expect, it } from 'vitest';
import { checkAkAttributes } from './ak.ts';
import { TPM_ALG, TPM_ECC, TPMA_OBJECT } from './constants.ts';
import { TpmError, type TpmReason } from './errors.ts';
import type { EccPublic, RsaPublic } from './structures/public.ts';
import { AK_ATTRIBUTES } from './testing/software-signer.ts';

function ecc(objectAttributes: number, over: Partial<EccPublic> = {}): EccPublic {
  return {
    type: TPM_ALG.ECC,
    nameAlg: TPM_ALG.SHA256,
    objectAttributes,
    authPolicy: new Uint8Array(0),
    symmetric: { algorithm: TPM_ALG.NULL, keyBits: 0, mode: 0 },
    scheme: { scheme: TPM_ALG.ECDSA, hashAlg: TPM_ALG.SHA256 },
    curveId: TPM_ECC.NIST_P256,
    kdf: { scheme: TPM_ALG.NULL, hashAlg: TPM_ALG.NULL },
    x: new Uint8Array(32),
    y: new Uint8Array(32),
    ...over,
  };
}

function rsa(bits: number, over: Partial<RsaPublic> = {}): RsaPublic {
  const modulus = new Uint8Array(bits / 8).fill(0xc3);
  return {
    type: TPM_ALG.RSA,
    nameAlg: TPM_ALG.SHA256,
    objectAttributes: AK_ATTRIBUTES,
    authPolicy: new Uint8Array(0),
    symmetric: { algorithm: TPM_ALG.NULL, keyBits: 0, mode: 0 },
    scheme: { scheme: TPM_ALG.RSASSA, hashAlg: TPM_ALG.SHA256 },
    keyBits: bits,
    exponent: 0,
    modulus,
    ...over,
  };
}

function reason(f: () => void): TpmReason | 'ok' {
  try {
    f();
    return 'ok';
  } catch (e) {
    if (e instanceof TpmError) return e.reason;
    throw e;
  }
}

describe('checkAkAttributes', () => {
  it('accepts the tpm2_createak attributes 0x00050072 and the Windows PCP ones with noDA (0x00050472)', () => {
    expect(AK_ATTRIBUTES).toBe(0x00050072);
    expect(reason(() => checkAkAttributes(ecc(0x00050072)))).toBe('ok');
    expect(reason(() => checkAkAttributes(ecc(0x00050472)))).toBe('ok');
  });

  for (const [name, bit] of Object.entries({
    fixedTPM: TPMA_OBJECT.fixedTPM,
    fixedParent: TPMA_OBJECT.fixedParent,
    sensitiveDataOrigin: TPMA_OBJECT.sensitiveDataOrigin,
    restricted: TPMA_OBJECT.restricted,
    sign: TPMA_OBJECT.sign,
  })) {
    it(`rejects an AK without ${name}`, () => {
      expect(reason(() => checkAkAttributes(ecc(AK_ATTRIBUTES & ~bit)))).toBe('AK_ATTRIBUTES_INVALID');
    });
  }

  it('rejects an AK that can also decrypt', () => {
    expect(reason(() => checkAkAttributes(ecc(AK_ATTRIBUTES | TPMA_OBJECT.decrypt)))).toBe(
      'AK_ATTRIBUTES_INVALID',
    );
  });

  it('rejects the default EK template attributes as an AK', () => {
    expect(reason(() => checkAkAttributes(ecc(0x000300b2)))).toBe('AK_ATTRIBUTES_INVALID');
  });

  it('rejects an RSA-1024 AK', () => {
    expect(reason(() => checkAkAttributes(rsa(1024)))).toBe('UNSUPPORTED_ALGORITHM');
  });

  it('accepts an RSA-2048 AK', () => {
    expect(reason(() => checkAkAttributes(rsa(2048)))).toBe('ok');
  });

  it('rejects a BN_P256 AK (about 100-bit security)', () => {
    expect(reason(() => checkAkAttributes(ecc(AK_ATTRIBUTES, { curveId: TPM_ECC.BN_P256 })))).toBe(
      'UNSUPPORTED_ALGORITHM',
    );
  });

  it('rejects an anonymous ECDAA AK', () => {
    expect(
      reason(() =>
        checkAkAttributes(
          ecc(AK_ATTRIBUTES, { scheme: { scheme: TPM_ALG.ECDAA, hashAlg: TPM_ALG.SHA256, count: 1 } }),
        ),
      ),
    ).toBe('UNSUPPORTED_ALGORITHM');
  });

  it('rejects an AK whose nameAlg cannot be hashed (its Name could not be pinned)', () => {
    expect(reason(() => checkAkAttributes(ecc(AK_ATTRIBUTES, { nameAlg: 0x010b })))).toBe(
      'UNSUPPORTED_ALGORITHM',
    );
  });

  it('rejects an RSA AK with an OAEP scheme', () => {
    expect(
      reason(() =>
        checkAkAttributes(rsa(2048, { scheme: { scheme: TPM_ALG.OAEP, hashAlg: TPM_ALG.SHA256 } })),
      ),
    ).toBe('UNSUPPORTED_ALGORITHM');
  });
});
