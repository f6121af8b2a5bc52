import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { fromHex, toHex } from '../encoding/bytes.ts';
import { TPM_ALG } from './constants.ts';
import { ByteReader } from './cursor.ts';
import { oaepLabel, shareSecret } from './secret-sharing.ts';
import type { RsaPublic } from './structures/public.ts';
import { parsePublic } from './structures/public.ts';

const VECTORS = new URL('../../../shared/vectors/tpm/tpm-test-vectors/', import.meta.url);

interface RsaVector {
  Name: string;
  Label: string;
  PublicKey: string;
  PrivateKey: string;
  Secret: string;
  Ciphertext: string;
}
interface EccVector {
  Name: string;
  Label: string;
  EphemeralPrivate: string;
  PublicKey: string;
  Secret: string;
  Ciphertext: string;
}

function hex(s: string): Uint8Array {
  const b = fromHex(s);
  if (!b) throw new Error(`bad hex in vector: ${s}`);
  return b;
}

function load<T>(file: string): T[] {
  return JSON.parse(readFileSync(new URL(file, VECTORS), 'utf8')) as T[];
}

/** A random source that hands out exactly these bytes once, then fails the test. */
function fixedRandom(bytes: Uint8Array): (n: number) => Uint8Array {
  let used = false;
  return (n) => {
    if (used) throw new Error('random source asked twice');
    used = true;
    expect(n).toBe(bytes.length);
    return bytes.slice();
  };
}

// --- test-only RSA private key reconstruction from the vector's TPMT_SENSITIVE (prime p) ---
const b64u = (b: Uint8Array): string => Buffer.from(b).toString('base64url');
const big = (b: Uint8Array): bigint => BigInt(`0x${toHex(b) || '0'}`);
function bytesOf(v: bigint, len: number): Uint8Array {
  return hex(v.toString(16).padStart(len * 2, '0'));
}
function modInv(a: bigint, m: bigint): bigint {
  let [r0, r1, s0, s1] = [a % m, m, 1n, 0n];
  while (r1 !== 0n) {
    const q = r0 / r1;
    [r0, r1, s0, s1] = [r1, r0 - q * r1, s1, s0 - q * s1];
  }
  return ((s0 % m) + m) % m;
}
function sensitivePrime(tpmtSensitive: Uint8Array): Uint8Array {
  const r = new ByteReader(tpmtSensitive, 'TPMT_SENSITIVE');
  r.u16('sensitiveType');
  r.tpm2b('authValue');
  r.tpm2b('seedValue');
  const p = r.tpm2b('sensitive');
  r.end();
  return p;
}
async function rsaPrivateKey(pub: RsaPublic, prime: Uint8Array, hash: string) {
  const n = big(pub.modulus);
  const e = BigInt(pub.exponent === 0 ? 65537 : pub.exponent);
  const p = big(prime);
  const q = n / p;
  expect(p * q).toBe(n);
  const d = modInv(e, (p - 1n) * (q - 1n));
  const half = prime.length;
  const jwk = {
    kty: 'RSA',
    n: b64u(pub.modulus),
    e: b64u(bytesOf(e, 3)),
    d: b64u(bytesOf(d, pub.modulus.length)),
    p: b64u(bytesOf(p, half)),
    q: b64u(bytesOf(q, half)),
    dp: b64u(bytesOf(d % (p - 1n), half)),
    dq: b64u(bytesOf(d % (q - 1n), half)),
    qi: b64u(bytesOf(modInv(q, p), half)),
  };
  return crypto.subtle.importKey('jwk', jwk, { name: 'RSA-OAEP', hash }, false, ['decrypt']);
}
/** OAEP hash rule of TPM secret sharing: the scheme hash for an OAEP-scheme key, else nameAlg. */
function oaepHash(pub: RsaPublic): string {
  const alg = pub.scheme.scheme === TPM_ALG.OAEP ? pub.scheme.hashAlg : pub.nameAlg;
  return {
    [TPM_ALG.SHA1]: 'SHA-1',
    [TPM_ALG.SHA256]: 'SHA-256',
    [TPM_ALG.SHA384]: 'SHA-384',
    [TPM_ALG.SHA512]: 'SHA-512',
  }[alg] as string;
}
async function rsaDecrypt(
  key: Awaited<ReturnType<typeof rsaPrivateKey>>,
  label: string,
  ct: Uint8Array,
): Promise<string> {
  return toHex(
    new Uint8Array(
      await crypto.subtle.decrypt(
        { name: 'RSA-OAEP', label: new Uint8Array(oaepLabel(label)) },
        key,
        new Uint8Array(ct),
      ),
    ),
  );
}

const rsaVectors = load<RsaVector>('rsa_labeled_encaps.json');
const eccVectors = load<EccVector>('ecc_labeled_encaps.json');

describe('RSA secret sharing (RSA-OAEP with the NUL-terminated label)', () => {
  it('has all 100 reference vectors', () => expect(rsaVectors).toHaveLength(100));

  it.each(rsaVectors.map((v) => [v.Name, v] as const))(
    'vector %s: the TPM-made ciphertext decrypts to the secret under our OAEP label/hash rule, and our own encapsulation of that secret decrypts back to it',
    async (_name, v) => {
      const pub = parsePublic(hex(v.PublicKey));
      if (pub.type !== TPM_ALG.RSA) throw new Error('not RSA');
      const privateKey = await rsaPrivateKey(pub, sensitivePrime(hex(v.PrivateKey)), oaepHash(pub));
      expect(await rsaDecrypt(privateKey, v.Label, hex(v.Ciphertext))).toBe(v.Secret);

      const ours = await shareSecret(pub, v.Label, fixedRandom(hex(v.Secret)));
      expect(toHex(ours.seed)).toBe(v.Secret);
      expect(ours.encryptedSecret).toHaveLength(pub.modulus.length);
      expect(await rsaDecrypt(privateKey, v.Label, ours.encryptedSecret)).toBe(v.Secret);
    },
  );
});

describe('ECC secret sharing (one-pass ECDH + KDFe)', () => {
  it('has all 100 reference vectors', () => expect(eccVectors).toHaveLength(100));

  it.each(eccVectors.map((v) => [v.Name, v] as const))(
    'vector %s: the vector ephemeral key reproduces the ciphertext point and the seed byte for byte',
    async (_name, v) => {
      const pub = parsePublic(hex(v.PublicKey));
      const ours = await shareSecret(pub, v.Label, fixedRandom(hex(v.EphemeralPrivate)));
      expect(toHex(ours.encryptedSecret)).toBe(v.Ciphertext);
      expect(toHex(ours.seed)).toBe(v.Secret);
    },
  );

  it('redraws the ephemeral scalar when the random source yields zero or a value ≥ the group order', async () => {
    const v = eccVectors.find((x) => x.Name.includes('P256')) as EccVector;
    const draws = [new Uint8Array(32), new Uint8Array(32).fill(0xff), hex(v.EphemeralPrivate)];
    const ours = await shareSecret(parsePublic(hex(v.PublicKey)), v.Label, () => draws.shift() as Uint8Array);
    expect(draws).toHaveLength(0);
    expect(toHex(ours.encryptedSecret)).toBe(v.Ciphertext);
  });

  it('rejects a random source that returns the wrong number of bytes with MALFORMED_STRUCTURE', async () => {
    const v = eccVectors[0] as EccVector;
    await expect(
      shareSecret(parsePublic(hex(v.PublicKey)), 'IDENTITY', () => new Uint8Array(3)),
    ).rejects.toMatchObject({
      reason: 'MALFORMED_STRUCTURE',
    });
  });

  it('rejects an ECC key on an unsupported curve with UNSUPPORTED_ALGORITHM', async () => {
    const v = eccVectors[0] as EccVector;
    const pub = parsePublic(hex(v.PublicKey));
    if (pub.type !== TPM_ALG.ECC) throw new Error('not ECC');
    await expect(shareSecret({ ...pub, curveId: 0x0010 }, 'IDENTITY')).rejects.toMatchObject({
      reason: 'UNSUPPORTED_ALGORITHM',
    });
  });
});
