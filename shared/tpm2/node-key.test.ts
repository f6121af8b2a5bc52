import { describe, expect, it } from 'vitest';
import { TPM_ALG, TPM_ECC, TPMA_OBJECT } from './constants.ts';
import { TpmError, type TpmReason } from './errors.ts';
import { requireNodeKeyAttributes } from './node-key.ts';
import type { EccPublic } from './structures/public.ts';
import { AK_ATTRIBUTES, NODE_KEY_ATTRIBUTES } from './testing/software-signer.ts';

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

function reason(f: () => void): TpmReason | 'ok' {
  try {
    f();
    return 'ok';
  } catch (e) {
    if (e instanceof TpmError) return e.reason;
    throw e;
  }
}

describe('requireNodeKeyAttributes', () => {
  it('accepts a fixedTPM, fixedParent, sensitiveDataOrigin signing key', () => {
    expect(reason(() => requireNodeKeyAttributes(ecc(NODE_KEY_ATTRIBUTES)))).toBe('ok');
  });

  for (const [name, bit] of Object.entries({
    fixedTPM: TPMA_OBJECT.fixedTPM,
    fixedParent: TPMA_OBJECT.fixedParent,
    sensitiveDataOrigin: TPMA_OBJECT.sensitiveDataOrigin,
    sign: TPMA_OBJECT.sign,
  })) {
    it(`rejects a node key without ${name}`, () => {
      expect(reason(() => requireNodeKeyAttributes(ecc(NODE_KEY_ATTRIBUTES & ~bit)))).toBe(
        'NODE_KEY_ATTRIBUTES_INVALID',
      );
    });
  }

  it('rejects a restricted node key (an AK is not a node key)', () => {
    expect(reason(() => requireNodeKeyAttributes(ecc(AK_ATTRIBUTES)))).toBe('NODE_KEY_ATTRIBUTES_INVALID');
  });

  it('rejects a node key that can also decrypt', () => {
    expect(reason(() => requireNodeKeyAttributes(ecc(NODE_KEY_ATTRIBUTES | TPMA_OBJECT.decrypt)))).toBe(
      'NODE_KEY_ATTRIBUTES_INVALID',
    );
  });
});
