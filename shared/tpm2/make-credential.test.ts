import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { concatBytes, fromBase64, fromHex, timingSafeEqual, toHex } from '../encoding/bytes.ts';
import { aesCfbDecrypt, aesCfbEncrypt } from './aes-cfb.ts';
import { TPM_ALG, TPM_ECC } from './constants.ts';
import { ByteReader } from './cursor.ts';
import { TpmError } from './errors.ts';
import { kdfa, kdfe } from './kdf.ts';
import { makeCredential, marshalTpm2ToolsCredential, wrapCredential } from './make-credential.ts';
import { oaepLabel } from './secret-sharing.ts';
import { parseEccPoint } from './structures/ecc-point.ts';
import type { EccPublic, RsaPublic, TpmtPublic } from './structures/public.ts';

const VECTORS = new URL('../../../shared/vectors/tpm/', import.meta.url);

function hex(s: string): Uint8Array {
  const b = fromHex(s);
  if (!b) throw new Error(`bad hex: ${s}`);
  return b;
}
function b64(s: string): Uint8Array {
  const b = fromBase64(s);
  if (!b) throw new Error('bad base64');
  return b;
}
const b64u = (s: string | undefined): Uint8Array => new Uint8Array(Buffer.from(s ?? '', 'base64url'));

/** The TCG default EK template policy: PolicySecret(TPM_RH_ENDORSEMENT) (EK Credential Profile §B.3.3). */
const EK_POLICY = hex('837197674484b3f81a90cc8d46a5d724fd52d76e06520b64f2a1da1b331469aa');
const EK_ATTRIBUTES = 0x000300b2;
const AES_128_CFB = { algorithm: TPM_ALG.AES, keyBits: 128, mode: TPM_ALG.CFB };

function rsaEk(modulus: Uint8Array): RsaPublic {
  return {
    type: TPM_ALG.RSA,
    nameAlg: TPM_ALG.SHA256,
    objectAttributes: EK_ATTRIBUTES,
    authPolicy: EK_POLICY,
    symmetric: AES_128_CFB,
    scheme: { scheme: TPM_ALG.NULL, hashAlg: TPM_ALG.NULL },
    keyBits: modulus.length * 8,
    exponent: 0,
    modulus,
  };
}
function eccEk(x: Uint8Array, y: Uint8Array): EccPublic {
  return {
    type: TPM_ALG.ECC,
    nameAlg: TPM_ALG.SHA256,
    objectAttributes: EK_ATTRIBUTES,
    authPolicy: EK_POLICY,
    symmetric: AES_128_CFB,
    scheme: { scheme: TPM_ALG.NULL, hashAlg: TPM_ALG.NULL },
    curveId: TPM_ECC.NIST_P256,
    kdf: { scheme: TPM_ALG.NULL, hashAlg: TPM_ALG.NULL },
    x,
    y,
  };
}
function pemBody(pem: string): Uint8Array<ArrayBuffer> {
  return new Uint8Array(b64(pem.replace(/-----[^-]+-----/g, '').replace(/\s+/g, '')));
}

/**
 * What TPM2_ActivateCredential does inside the TPM, in test code, given the recovered seed:
 * check the outer HMAC over encIdentity ‖ Name, then decrypt the TPM2B_DIGEST credential.
 */
async function unwrapCredential(blob: Uint8Array, seed: Uint8Array, name: Uint8Array): Promise<Uint8Array> {
  const outer = new ByteReader(blob, 'TPM2B_ID_OBJECT');
  const inner = new ByteReader(outer.tpm2b('credentialBlob'), 'TPMS_ID_OBJECT');
  outer.end();
  const integrity = inner.tpm2b('integrityHMAC');
  const encIdentity = inner.rest();
  const hmacKey = await kdfa(TPM_ALG.SHA256, seed, 'INTEGRITY', new Uint8Array(), new Uint8Array(), 256);
  const key = await crypto.subtle.importKey(
    'raw',
    new Uint8Array(hmacKey),
    { name: 'HMAC', hash: 'SHA-256' },
    false,
    ['sign'],
  );
  const expected = new Uint8Array(
    await crypto.subtle.sign('HMAC', key, new Uint8Array(concatBytes(encIdentity, name))),
  );
  if (!timingSafeEqual(expected, integrity)) throw new Error('integrity check failed');
  const symKey = await kdfa(TPM_ALG.SHA256, seed, 'STORAGE', name, new Uint8Array(), 128);
  const plain = new ByteReader(await aesCfbDecrypt(symKey, new Uint8Array(16), encIdentity), 'TPM2B_DIGEST');
  const secret = plain.tpm2b('credential');
  plain.end();
  return secret;
}

const goTpm = JSON.parse(readFileSync(new URL('go-tpm/makecredential_vector.json', VECTORS), 'utf8')) as {
  aik_name_alg: string;
  aik_name_digest_b64: string;
  credential_secret_b64: string;
  rsa: { ek_spki_pem: string; seed_hex: string; expected_blob_b64: string };
  ecc: { ek_spki_pem: string; expected_blob_b64: string };
};
const akName = concatBytes(hex(goTpm.aik_name_alg.slice(2)), b64(goTpm.aik_name_digest_b64));
const credential = b64(goTpm.credential_secret_b64);

async function goTpmRsaEk(): Promise<RsaPublic> {
  const k = await crypto.subtle.importKey(
    'spki',
    pemBody(goTpm.rsa.ek_spki_pem),
    { name: 'RSA-OAEP', hash: 'SHA-256' },
    true,
    ['encrypt'],
  );
  return rsaEk(b64u((await crypto.subtle.exportKey('jwk', k)).n));
}

describe('AES-CFB-128 built from WebCrypto AES-CTR', () => {
  it('matches the NIST SP 800-38A F.3.13 CFB128-AES128 example', async () => {
    const key = hex('2b7e151628aed2a6abf7158809cf4f3c');
    const iv = hex('000102030405060708090a0b0c0d0e0f');
    const pt = hex(
      '6bc1bee22e409f96e93d7e117393172aae2d8a571e03ac9c9eb76fac45af8e5130c81c46a35ce411e5fbc1191a0a52eff69f2445df4f9b17ad2b417be66c3710',
    );
    const ct =
      '3b3fd92eb72dad20333449f8e83cfb4ac8a64537a0b3a93fcde3cdad9f1ce58b26751f67a3cbb140b1808cf187a4f4dfc04b05357c5d1c0eeac4c66f9ff7f2e6';
    expect(toHex(await aesCfbEncrypt(key, iv, pt))).toBe(ct);
    expect(toHex(await aesCfbDecrypt(key, iv, hex(ct)))).toBe(toHex(pt));
  });

  it('keeps the length of a partial final block (no padding)', async () => {
    const out = await aesCfbEncrypt(new Uint8Array(16), new Uint8Array(16), new Uint8Array(34));
    expect(out).toHaveLength(34);
    expect(await aesCfbDecrypt(new Uint8Array(16), new Uint8Array(16), out)).toEqual(new Uint8Array(34));
  });

  it('rejects a key that is not an AES size with UNSUPPORTED_ALGORITHM', async () => {
    await expect(
      aesCfbEncrypt(new Uint8Array(15), new Uint8Array(16), new Uint8Array(1)),
    ).rejects.toMatchObject({
      reason: 'UNSUPPORTED_ALGORITHM',
    });
  });

  it('rejects an IV that is not one block with MALFORMED_STRUCTURE', async () => {
    await expect(
      aesCfbEncrypt(new Uint8Array(16), new Uint8Array(8), new Uint8Array(1)),
    ).rejects.toMatchObject({
      reason: 'MALFORMED_STRUCTURE',
    });
  });
});

describe('wrapCredential (the outer wrap of TPM2_MakeCredential)', () => {
  it("reproduces go-tpm's RSA credential blob byte for byte for its 16-byte zero seed", async () => {
    const expected = b64(goTpm.rsa.expected_blob_b64);
    const ek = await goTpmRsaEk();
    const blob = await wrapCredential({
      nameAlg: ek.nameAlg,
      symmetric: ek.symmetric,
      seed: hex(goTpm.rsa.seed_hex),
      objectName: akName,
      secret: credential,
    });
    expect(toHex(blob)).toBe(toHex(expected.subarray(0, blob.length)));
    // …and what follows in go-tpm's output is the TPM2B_ENCRYPTED_SECRET: one RSA-2048 OAEP block.
    const rest = new ByteReader(expected.subarray(blob.length), 'TPM2B_ENCRYPTED_SECRET');
    expect(rest.tpm2b('secret')).toHaveLength(256);
    rest.end();
  });
});

describe('makeCredential', () => {
  it('for an RSA EK returns a TPM2B_ID_OBJECT of the go-tpm shape and a 256-byte OAEP TPM2B_ENCRYPTED_SECRET', async () => {
    const ek = await goTpmRsaEk();
    const out = await makeCredential({ ekPublic: ek, objectName: akName, secret: credential });
    expect(out.credentialBlob).toHaveLength(2 + 2 + 32 + 34);
    expect(toHex(out.credentialBlob.subarray(0, 4))).toBe('00440020');
    expect(out.encryptedSecret).toHaveLength(2 + 256);
    expect(toHex(out.encryptedSecret.subarray(0, 2))).toBe('0100');
  });

  it('for an ECC EK returns the ephemeral point as TPMS_ECC_POINT inside TPM2B_ENCRYPTED_SECRET, same shape as go-tpm', async () => {
    const k = await crypto.subtle.importKey(
      'spki',
      pemBody(goTpm.ecc.ek_spki_pem),
      { name: 'ECDH', namedCurve: 'P-256' },
      true,
      [],
    );
    const jwk = await crypto.subtle.exportKey('jwk', k);
    const out = await makeCredential({
      ekPublic: eccEk(b64u(jwk.x), b64u(jwk.y)),
      objectName: akName,
      secret: credential,
    });
    const expected = b64(goTpm.ecc.expected_blob_b64);
    expect(out.credentialBlob.length + out.encryptedSecret.length).toBe(expected.length);
    const es = new ByteReader(out.encryptedSecret, 'TPM2B_ENCRYPTED_SECRET');
    const point = parseEccPoint(es.tpm2b('secret'));
    es.end();
    expect(point.x).toHaveLength(32);
    expect(point.y).toHaveLength(32);
  });

  it('round-trips through a software ActivateCredential with an RSA EK private key (OAEP seed recovered, HMAC checked, secret decrypted)', async () => {
    const pair = await crypto.subtle.generateKey(
      { name: 'RSA-OAEP', modulusLength: 2048, publicExponent: Uint8Array.of(1, 0, 1), hash: 'SHA-256' },
      true,
      ['encrypt', 'decrypt'],
    );
    const ek = rsaEk(b64u((await crypto.subtle.exportKey('jwk', pair.publicKey)).n));
    const secret = crypto.getRandomValues(new Uint8Array(32));
    const out = await makeCredential({ ekPublic: ek, objectName: akName, secret });
    const es = new ByteReader(out.encryptedSecret, 'TPM2B_ENCRYPTED_SECRET');
    const seed = new Uint8Array(
      await crypto.subtle.decrypt(
        { name: 'RSA-OAEP', label: new Uint8Array(oaepLabel('IDENTITY')) },
        pair.privateKey,
        new Uint8Array(es.tpm2b('secret')),
      ),
    );
    expect(seed).toHaveLength(32);
    expect(toHex(await unwrapCredential(out.credentialBlob, seed, akName))).toBe(toHex(secret));
  });

  it('round-trips through a software ActivateCredential with an ECC EK private key (ECDH + KDFe seed, HMAC checked)', async () => {
    const pair = await crypto.subtle.generateKey({ name: 'ECDH', namedCurve: 'P-256' }, true, ['deriveBits']);
    const jwk = await crypto.subtle.exportKey('jwk', pair.publicKey);
    const ek = eccEk(b64u(jwk.x), b64u(jwk.y));
    const secret = crypto.getRandomValues(new Uint8Array(20));
    const out = await makeCredential({ ekPublic: ek, objectName: akName, secret });
    const es = new ByteReader(out.encryptedSecret, 'TPM2B_ENCRYPTED_SECRET');
    const eph = parseEccPoint(es.tpm2b('secret'));
    const ephKey = await crypto.subtle.importKey(
      'jwk',
      {
        kty: 'EC',
        crv: 'P-256',
        x: Buffer.from(eph.x).toString('base64url'),
        y: Buffer.from(eph.y).toString('base64url'),
      },
      { name: 'ECDH', namedCurve: 'P-256' },
      false,
      [],
    );
    const z = new Uint8Array(
      await crypto.subtle.deriveBits({ name: 'ECDH', public: ephKey }, pair.privateKey, 256),
    );
    const seed = await kdfe(TPM_ALG.SHA256, z, 'IDENTITY', eph.x, ek.x, 256);
    expect(toHex(await unwrapCredential(out.credentialBlob, seed, akName))).toBe(toHex(secret));
  });

  it('binds the credential to the object Name: unwrapping under another Name fails the integrity check', async () => {
    const seed = new Uint8Array(32).fill(7);
    const blob = await wrapCredential({
      nameAlg: TPM_ALG.SHA256,
      symmetric: AES_128_CFB,
      seed,
      objectName: akName,
      secret: credential,
    });
    const otherName = akName.slice();
    otherName[5] = (otherName[5] ?? 0) ^ 1;
    await expect(unwrapCredential(blob, seed, otherName)).rejects.toThrow('integrity check failed');
    expect(toHex(await unwrapCredential(blob, seed, akName))).toBe(toHex(credential));
  });

  it('derives the seed deterministically from an injected random source', async () => {
    const ek = await goTpmRsaEk();
    const random = (n: number) => new Uint8Array(n).fill(1);
    const a = await makeCredential({ ekPublic: ek, objectName: akName, secret: credential, random });
    const b = await makeCredential({ ekPublic: ek, objectName: akName, secret: credential, random });
    expect(toHex(a.credentialBlob)).toBe(toHex(b.credentialBlob));
  });

  it('rejects an EK that is not a restricted decryption key with UNSUPPORTED_ALGORITHM', async () => {
    const ek: TpmtPublic = { ...(await goTpmRsaEk()), objectAttributes: 0x00040072 };
    await expect(
      makeCredential({ ekPublic: ek, objectName: akName, secret: credential }),
    ).rejects.toMatchObject({
      reason: 'UNSUPPORTED_ALGORITHM',
    });
  });

  it('rejects an EK whose symmetric definition is not AES-CFB with UNSUPPORTED_ALGORITHM', async () => {
    const ek: TpmtPublic = {
      ...(await goTpmRsaEk()),
      symmetric: { algorithm: TPM_ALG.AES, keyBits: 128, mode: TPM_ALG.CBC },
    };
    await expect(
      makeCredential({ ekPublic: ek, objectName: akName, secret: credential }),
    ).rejects.toMatchObject({
      reason: 'UNSUPPORTED_ALGORITHM',
    });
  });

  it('rejects an EK with an unsupported nameAlg with UNSUPPORTED_ALGORITHM', async () => {
    const ek: TpmtPublic = { ...(await goTpmRsaEk()), nameAlg: TPM_ALG.SM3_256 };
    await expect(
      makeCredential({ ekPublic: ek, objectName: akName, secret: credential }),
    ).rejects.toMatchObject({
      reason: 'UNSUPPORTED_ALGORITHM',
    });
  });

  it('rejects a secret longer than the EK nameAlg digest with MALFORMED_STRUCTURE', async () => {
    const ek = await goTpmRsaEk();
    await expect(
      makeCredential({ ekPublic: ek, objectName: akName, secret: new Uint8Array(33) }),
    ).rejects.toMatchObject({
      reason: 'MALFORMED_STRUCTURE',
    });
  });

  it('rejects an empty secret with MALFORMED_STRUCTURE', async () => {
    const ek = await goTpmRsaEk();
    await expect(
      makeCredential({ ekPublic: ek, objectName: akName, secret: new Uint8Array() }),
    ).rejects.toMatchObject({
      reason: 'MALFORMED_STRUCTURE',
    });
  });

  it('rejects an object Name that is too short or too long with MALFORMED_STRUCTURE', async () => {
    const ek = await goTpmRsaEk();
    for (const objectName of [new Uint8Array(1), new Uint8Array(67)]) {
      await expect(makeCredential({ ekPublic: ek, objectName, secret: credential })).rejects.toMatchObject({
        reason: 'MALFORMED_STRUCTURE',
      });
    }
  });

  it('rejects an ECC EK whose point is not on the curve with MALFORMED_STRUCTURE (property, 100 random points)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.uint8Array({ minLength: 32, maxLength: 32 }),
        fc.uint8Array({ minLength: 32, maxLength: 32 }),
        async (x, y) => {
          const p = makeCredential({ ekPublic: eccEk(x, y), objectName: akName, secret: credential });
          // A random (x, y) is on P-256 with negligible probability; an invalid-curve point must never be used.
          await expect(p).rejects.toBeInstanceOf(TpmError);
          await expect(p).rejects.toMatchObject({ reason: 'MALFORMED_STRUCTURE' });
        },
      ),
      { numRuns: 100 },
    );
  });

  it('rejects an RSA EK below 2048 bits with UNSUPPORTED_ALGORITHM', async () => {
    const ek = rsaEk(new Uint8Array(128).fill(0xc1));
    await expect(
      makeCredential({ ekPublic: ek, objectName: akName, secret: credential }),
    ).rejects.toMatchObject({
      reason: 'UNSUPPORTED_ALGORITHM',
    });
  });
});

describe('marshalTpm2ToolsCredential', () => {
  it('writes magic 0xBADCC0DE, version 1, then the TPM2B_ID_OBJECT and TPM2B_ENCRYPTED_SECRET unchanged', () => {
    const blob = hex('0004aabbccdd');
    const secret = hex('0002eeff');
    expect(toHex(marshalTpm2ToolsCredential(blob, secret))).toBe('badcc0de000000010004aabbccdd0002eeff');
  });
});
