import { concatBytes, utf8 } from '../encoding/bytes.ts';
import { TPM_ALG } from './constants.ts';
import { TpmError } from './errors.ts';
import { kdfe } from './kdf.ts';
import { marshalEccPoint } from './structures/ecc-point.ts';
import type { EccPublic, RsaPublic, TpmtPublic } from './structures/public.ts';
import { eccCurve, hashAlgorithm, padToField, publicKeyToCryptoKey } from './structures/public.ts';
import type { WebCryptoKey } from './webcrypto-types.ts';

/**
 * "Secret sharing" (TPM 2.0 Part 1 §11.4.10.x / Annex B.10 and C.6.x): how a remote party hands a seed
 * to the one TPM that holds a decryption key, so that only that TPM can rebuild the symmetric keys
 * derived from it. TPM2_MakeCredential (label "IDENTITY"), TPM2_Import ("DUPLICATE") and salted
 * TPM2_StartAuthSession ("SECRET") all use it.
 *
 * - RSA key: seed = random bytes of the OAEP hash size; encryptedSecret =
 *   RSA-OAEP(seed) with label = the ASCII label plus its NUL, and OAEP hash = the scheme hash if the
 *   key's scheme is OAEP, else nameAlg (TPM `CryptRsaEncrypt` via `CryptSecretEncrypt`).
 * - ECC key: one-pass ECDH with an ephemeral key on the key's curve; seed = KDFe(nameAlg, Z.x, label,
 *   ephemeral.x, key.x, digest bits); encryptedSecret = TPMS_ECC_POINT(ephemeral public key).
 */

/**
 * Where random bytes come from. The default is `crypto.getRandomValues`; tests inject fixed bytes to
 * reproduce reference vectors. Both the RSA seed and the ECC ephemeral private key are drawn from it.
 */
export type RandomSource = (length: number) => Uint8Array;

export const systemRandom: RandomSource = (length) => crypto.getRandomValues(new Uint8Array(length));

export interface SharedSecret {
  /** The seed both sides derive their keys from (nameAlg digest size). */
  seed: Uint8Array;
  /** TPMU_ENCRYPTED_SECRET content (wrap it in a TPM2B_ENCRYPTED_SECRET to send it). */
  encryptedSecret: Uint8Array;
}

/** The OAEP label is the secret-sharing label including its terminating NUL (Part 1, "Secret Sharing"). */
export function oaepLabel(label: string): Uint8Array {
  return concatBytes(utf8.encode(label), Uint8Array.of(0));
}

/**
 * The OAEP hash: the scheme's hash when the key's scheme is OAEP, else nameAlg (restricted decryption
 * keys such as EKs must have a NULL scheme, so for them it is always nameAlg).
 */
function oaepHashAlg(key: RsaPublic): number {
  return key.scheme.scheme === TPM_ALG.OAEP ? key.scheme.hashAlg : key.nameAlg;
}

async function shareWithRsa(key: RsaPublic, label: string, random: RandomSource): Promise<SharedSecret> {
  // The seed is as long as the OAEP hash output (the reference vectors, made against the TPM simulator,
  // use exactly that; for an EK it equals the nameAlg digest size, the usual 32 bytes).
  const seed = drawBytes(random, hashAlgorithm(oaepHashAlg(key), 'OAEP hash').size);
  const publicKey = await publicKeyToCryptoKey(key, 'encrypt-oaep');
  const encryptedSecret = new Uint8Array(
    await crypto.subtle.encrypt(
      { name: 'RSA-OAEP', label: oaepLabel(label) as Uint8Array<ArrayBuffer> },
      publicKey,
      seed as Uint8Array<ArrayBuffer>,
    ),
  );
  return { seed, encryptedSecret };
}

/**
 * Group orders of the NIST curves (FIPS 186-4 D.1.2). The ephemeral private key must lie in [1, n-1];
 * it is drawn by rejection sampling (SP 800-56A §5.6.1.2.2, "testing candidates") so no value is biased.
 */
const CURVE_ORDER: Readonly<Record<string, bigint>> = {
  'P-256': 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n,
  'P-384':
    0xffffffffffffffffffffffffffffffffffffffffffffffffc7634d81f4372ddf581a0db248b0a77aecec196accc52973n,
  'P-521':
    0x01ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffa51868783bf2f966b7fcc0148f709a5d03bb5c9b8899c47aebb6fb71e91386409n,
};

/** DER OIDs of the curves (RFC 5480 §2.1.1.1), for the PKCS #8 wrapper below. */
const CURVE_OID: Readonly<Record<string, string>> = {
  'P-256': '06082a8648ce3d030107',
  'P-384': '06052b81040022',
  'P-521': '06052b81040023',
};
const EC_PUBLIC_KEY_OID = '06072a8648ce3d0201';

function drawBytes(random: RandomSource, n: number): Uint8Array {
  const b = random(n);
  if (b.length !== n)
    throw new TpmError('MALFORMED_STRUCTURE', `random source returned ${b.length} bytes, asked ${n}`);
  return b;
}

function bigintOf(b: Uint8Array): bigint {
  let v = 0n;
  for (const x of b) v = (v << 8n) | BigInt(x);
  return v;
}

function hexBytes(h: string): Uint8Array {
  return Uint8Array.from(h.match(/../g) ?? [], (x) => Number.parseInt(x, 16));
}

/** DER TLV with definite length (short or long form). */
function der(tag: number, content: Uint8Array): Uint8Array {
  const n = content.length;
  const len = n < 0x80 ? [n] : n < 0x100 ? [0x81, n] : [0x82, n >> 8, n & 0xff];
  return concatBytes(Uint8Array.of(tag, ...len), content);
}

/**
 * A private scalar as PKCS #8 (RFC 5208) around an RFC 5915 ECPrivateKey WITHOUT the optional public key.
 * WebCrypto cannot derive a public key from a raw scalar, and a JWK import would need x/y already; both
 * OpenSSL (Node) and BoringSSL (workerd) compute the missing public point on a PKCS #8 import, and the
 * JWK export then hands it to us.
 */
function ecPrivatePkcs8(d: Uint8Array, namedCurve: string): Uint8Array {
  const oid = hexBytes(CURVE_OID[namedCurve] ?? '');
  const ecPrivateKey = der(0x30, concatBytes(der(0x02, Uint8Array.of(1)), der(0x04, d), der(0xa0, oid)));
  const algorithm = der(0x30, concatBytes(hexBytes(EC_PUBLIC_KEY_OID), oid));
  return der(0x30, concatBytes(der(0x02, Uint8Array.of(0)), algorithm, der(0x04, ecPrivateKey)));
}

function fromBase64Url(s: string | undefined): Uint8Array {
  const b64 = (s ?? '').replaceAll('-', '+').replaceAll('_', '/');
  return Uint8Array.from(atob(b64 + '='.repeat((4 - (b64.length % 4)) % 4)), (c) => c.charCodeAt(0));
}

/** An ephemeral ECDH key pair on `namedCurve`, its private scalar drawn from `random`. */
async function ephemeralKey(
  namedCurve: 'P-256' | 'P-384' | 'P-521',
  size: number,
  random: RandomSource,
): Promise<{
  privateKey: Awaited<ReturnType<typeof crypto.subtle.importKey>>;
  x: Uint8Array;
  y: Uint8Array;
}> {
  const n = CURVE_ORDER[namedCurve] ?? 0n;
  const topBits = n.toString(2).length % 8;
  // 64 tries: for P-256 a candidate fails with probability ~2^-32, so this only ends on a broken source.
  for (let attempt = 0; attempt < 64; attempt++) {
    const d = drawBytes(random, size);
    if (topBits !== 0) d[0] = (d[0] ?? 0) & ((1 << topBits) - 1);
    const v = bigintOf(d);
    if (v === 0n || v >= n) continue;
    const privateKey = await crypto.subtle.importKey(
      'pkcs8',
      ecPrivatePkcs8(d, namedCurve) as Uint8Array<ArrayBuffer>,
      { name: 'ECDH', namedCurve },
      true,
      ['deriveBits'],
    );
    const jwk = (await crypto.subtle.exportKey('jwk', privateKey)) as { x?: string; y?: string };
    return { privateKey, x: fromBase64Url(jwk.x), y: fromBase64Url(jwk.y) };
  }
  throw new TpmError('MALFORMED_STRUCTURE', 'random source never produced a valid ECC private key');
}

/**
 * The ECDH parameters naming the peer key. WebCrypto calls the member `public`; the Workers type
 * declarations spell it `$public` (a reserved-word workaround), so the object is cast to whatever the
 * ambient `deriveBits` declares. Both runtimes read `public`.
 */
function ecdhWith(peer: WebCryptoKey): Parameters<typeof crypto.subtle.deriveBits>[0] {
  return { name: 'ECDH', public: peer } as unknown as Parameters<typeof crypto.subtle.deriveBits>[0];
}

async function shareWithEcc(key: EccPublic, label: string, random: RandomSource): Promise<SharedSecret> {
  const { namedCurve, size } = eccCurve(key);
  const digest = hashAlgorithm(key.nameAlg, 'TPMT_PUBLIC.nameAlg');
  const publicKey = await publicKeyToCryptoKey(key, 'ecdh');
  const eph = await ephemeralKey(namedCurve, size, random);
  // deriveBits gives the x-coordinate of d·Q, already the full field size (Z in SP 800-56A).
  const z = new Uint8Array(await crypto.subtle.deriveBits(ecdhWith(publicKey), eph.privateKey, size * 8));
  const keyX = padToField(key.x, size, 'TPMT_PUBLIC.unique.x');
  const seed = await kdfe(key.nameAlg, z, label, eph.x, keyX, digest.size * 8);
  return { seed, encryptedSecret: marshalEccPoint({ x: eph.x, y: eph.y }) };
}

/**
 * Creates a seed that only the holder of `key`'s private part can recover, bound to `label`.
 *
 * @example
 * const { seed, encryptedSecret } = await shareSecret(ekPublic, 'IDENTITY');
 */
export async function shareSecret(
  key: TpmtPublic,
  label: string,
  random: RandomSource = systemRandom,
): Promise<SharedSecret> {
  if (key.type === TPM_ALG.RSA) return shareWithRsa(key, label, random);
  if (key.type === TPM_ALG.ECC) return shareWithEcc(key, label, random);
  throw new TpmError('UNSUPPORTED_ALGORITHM', 'secret sharing needs an RSA or ECC key');
}
