import { HASH_ALGS, TPM_ALG, TPM_ECC } from '../constants.ts';
import { ByteReader, ByteWriter } from '../cursor.ts';
import { TpmError } from '../errors.ts';
import type { ImportAlgorithm, KeyUsages, PublicJwk, WebCryptoKey } from '../webcrypto-types.ts';

/**
 * TPMT_PUBLIC (TPM 2.0 Part 2 §12.2.4): the public area of a TPM object, and its Name (Part 1 §16).
 * Only RSA and ECC objects are modelled: those are the only keys an attestation verifier meets
 * (AKs, EKs, certified node keys). KEYEDHASH/SYMCIPHER areas are rejected as UNSUPPORTED_ALGORITHM.
 */

/** `TPMT_SYM_DEF_OBJECT`; keyBits and mode are 0 when algorithm is TPM_ALG.NULL (they are not marshalled). */
export interface TpmtSymDefObject {
  algorithm: number;
  keyBits: number;
  mode: number;
}

/**
 * `TPMT_RSA_SCHEME` / `TPMT_ECC_SCHEME` / `TPMT_KDF_SCHEME`. hashAlg is TPM_ALG.NULL when the scheme is NULL
 * (and for RSAES, whose details are empty); count only for ECDAA.
 */
export interface TpmtScheme {
  scheme: number;
  hashAlg: number;
  count?: number;
}

interface PublicBase {
  nameAlg: number;
  objectAttributes: number;
  authPolicy: Uint8Array;
  symmetric: TpmtSymDefObject;
  scheme: TpmtScheme;
}

export interface RsaPublic extends PublicBase {
  type: typeof TPM_ALG.RSA;
  keyBits: number;
  /** As marshalled; 0 means the default exponent 65537 (Part 2 §12.2.3.5). */
  exponent: number;
  modulus: Uint8Array;
}

export interface EccPublic extends PublicBase {
  type: typeof TPM_ALG.ECC;
  curveId: number;
  kdf: TpmtScheme;
  x: Uint8Array;
  y: Uint8Array;
}

export type TpmtPublic = RsaPublic | EccPublic;

/** `sizeof(TPMU_HA)`: the largest digest (SHA-512), which caps authPolicy. */
const MAX_DIGEST_BUFFER = 64;
/** `MAX_RSA_KEY_BYTES` for a 4096-bit TPM; no TPM makes larger keys. */
const MAX_RSA_KEY_BYTES = 512;
/** A generous `MAX_ECC_KEY_BYTES` (P-521 needs 66, BN_P638 80). */
const MAX_ECC_KEY_BYTES = 128;
/** A generous `sizeof(TPMT_PUBLIC)`, the cap of a TPM2B_PUBLIC. */
const MAX_PUBLIC_BYTES = 2048;

/** The default RSA public exponent the TPM means by exponent 0. */
const RSA_DEFAULT_EXPONENT = 65537;

function readSymDef(r: ByteReader): TpmtSymDefObject {
  const algorithm = r.u16('symmetric.algorithm');
  if (algorithm === TPM_ALG.NULL) return { algorithm, keyBits: 0, mode: 0 };
  return { algorithm, keyBits: r.u16('symmetric.keyBits'), mode: r.u16('symmetric.mode') };
}

function writeSymDef(w: ByteWriter, s: TpmtSymDefObject): void {
  w.u16(s.algorithm);
  if (s.algorithm !== TPM_ALG.NULL) w.u16(s.keyBits).u16(s.mode);
}

/** Scheme selectors whose `TPMU_*_SCHEME` details are empty (Part 2 §11.2.3.2: TPMS_ENC_SCHEME_RSAES). */
function schemeHasHash(scheme: number): boolean {
  return scheme !== TPM_ALG.NULL && scheme !== TPM_ALG.RSAES;
}

function readScheme(r: ByteReader, field: string): TpmtScheme {
  const scheme = r.u16(`${field}.scheme`);
  if (!schemeHasHash(scheme)) return { scheme, hashAlg: TPM_ALG.NULL };
  const hashAlg = r.u16(`${field}.hashAlg`);
  if (scheme === TPM_ALG.ECDAA) return { scheme, hashAlg, count: r.u16(`${field}.count`) };
  return { scheme, hashAlg };
}

function writeScheme(w: ByteWriter, s: TpmtScheme): void {
  w.u16(s.scheme);
  if (!schemeHasHash(s.scheme)) return;
  w.u16(s.hashAlg);
  if (s.scheme === TPM_ALG.ECDAA) w.u16(s.count ?? 0);
}

/** Reads a TPMT_PUBLIC from a cursor (for structures that embed one). */
export function readPublic(r: ByteReader): TpmtPublic {
  const type = r.u16('type');
  const nameAlg = r.u16('nameAlg');
  const objectAttributes = r.u32('objectAttributes');
  const authPolicy = r.tpm2b('authPolicy', MAX_DIGEST_BUFFER);
  const symmetric = readSymDef(r);
  if (type === TPM_ALG.RSA) {
    const scheme = readScheme(r, 'scheme');
    const keyBits = r.u16('keyBits');
    const exponent = r.u32('exponent');
    const modulus = r.tpm2b('unique.rsa', MAX_RSA_KEY_BYTES);
    return { type, nameAlg, objectAttributes, authPolicy, symmetric, scheme, keyBits, exponent, modulus };
  }
  if (type === TPM_ALG.ECC) {
    const scheme = readScheme(r, 'scheme');
    const curveId = r.u16('curveID');
    const kdf = readScheme(r, 'kdf');
    const x = r.tpm2b('unique.ecc.x', MAX_ECC_KEY_BYTES);
    const y = r.tpm2b('unique.ecc.y', MAX_ECC_KEY_BYTES);
    return { type, nameAlg, objectAttributes, authPolicy, symmetric, scheme, curveId, kdf, x, y };
  }
  throw new TpmError(
    'UNSUPPORTED_ALGORITHM',
    `TPMT_PUBLIC: object type 0x${type.toString(16)} is not RSA or ECC`,
  );
}

/** Writes a TPMT_PUBLIC into a writer. */
export function writePublic(w: ByteWriter, pub: TpmtPublic): void {
  w.u16(pub.type).u16(pub.nameAlg).u32(pub.objectAttributes).tpm2b(pub.authPolicy);
  writeSymDef(w, pub.symmetric);
  writeScheme(w, pub.scheme);
  if (pub.type === TPM_ALG.RSA) {
    w.u16(pub.keyBits).u32(pub.exponent).tpm2b(pub.modulus);
  } else {
    w.u16(pub.curveId);
    writeScheme(w, pub.kdf);
    w.tpm2b(pub.x).tpm2b(pub.y);
  }
}

/** Parses a bare TPMT_PUBLIC; trailing bytes are rejected. */
export function parsePublic(bytes: Uint8Array): TpmtPublic {
  const r = new ByteReader(bytes, 'TPMT_PUBLIC');
  const pub = readPublic(r);
  r.end();
  return pub;
}

/** Parses a TPM2B_PUBLIC (u16 size ‖ TPMT_PUBLIC); the size must cover the area exactly. */
export function parsePublic2b(bytes: Uint8Array): TpmtPublic {
  const outer = new ByteReader(bytes, 'TPM2B_PUBLIC');
  const inner = outer.tpm2b('publicArea', MAX_PUBLIC_BYTES);
  outer.end();
  return parsePublic(inner);
}

/**
 * Either form, as tpm2-tools writes them (`-f tss` gives TPM2B_PUBLIC; some tools write bare TPMT_PUBLIC).
 * A bare TPMT_PUBLIC starts with its type (0x0001/0x0023), which can never equal length-2 for a real area,
 * so "u16 prefix == length - 2" identifies the TPM2B form without ambiguity.
 */
export function parsePublicAny(bytes: Uint8Array): TpmtPublic {
  if (bytes.length >= 2 && ((bytes[0] ?? 0) << 8) + (bytes[1] ?? 0) === bytes.length - 2)
    return parsePublic2b(bytes);
  return parsePublic(bytes);
}

/** The TPMT_PUBLIC bytes; `marshalPublic(parsePublic(b))` equals `b`. */
export function marshalPublic(pub: TpmtPublic): Uint8Array {
  const w = new ByteWriter();
  writePublic(w, pub);
  return w.finish();
}

/** TPM2B_PUBLIC bytes (what API.md's `akPublic`/`ekPublic` carry). */
export function marshalPublic2b(pub: TpmtPublic): Uint8Array {
  return new ByteWriter().tpm2b(marshalPublic(pub)).finish();
}

/** The WebCrypto name of a TPM hash algorithm, or UNSUPPORTED_ALGORITHM. */
export function hashAlgorithm(
  alg: number,
  what: string,
): { name: string; webcrypto: 'SHA-1' | 'SHA-256' | 'SHA-384' | 'SHA-512'; size: number } {
  const h = HASH_ALGS[alg];
  if (!h)
    throw new TpmError(
      'UNSUPPORTED_ALGORITHM',
      `${what}: hash algorithm 0x${alg.toString(16)} is not supported`,
    );
  return h;
}

/**
 * The object's Name: nameAlg (2 bytes, big-endian) ‖ H_nameAlg(TPMT_PUBLIC). Part 1 §16: the hash covers
 * the TPMT_PUBLIC only, never the TPM2B size prefix (hashing the prefix is a classic bug).
 */
export async function computeName(pub: TpmtPublic): Promise<Uint8Array> {
  const h = hashAlgorithm(pub.nameAlg, 'TPMT_PUBLIC.nameAlg');
  const digest = new Uint8Array(
    await crypto.subtle.digest(h.webcrypto, marshalPublic(pub) as Uint8Array<ArrayBuffer>),
  );
  const name = new Uint8Array(2 + digest.length);
  name[0] = pub.nameAlg >>> 8;
  name[1] = pub.nameAlg & 0xff;
  name.set(digest, 2);
  return name;
}

/** Curves we accept, with their field sizes. BN_P256 is refused on purpose (~100-bit security, ATTESTATION.md §3.4). */
export const ECC_CURVES: Readonly<Record<number, { namedCurve: 'P-256' | 'P-384' | 'P-521'; size: number }>> =
  {
    [TPM_ECC.NIST_P256]: { namedCurve: 'P-256', size: 32 },
    [TPM_ECC.NIST_P384]: { namedCurve: 'P-384', size: 48 },
    [TPM_ECC.NIST_P521]: { namedCurve: 'P-521', size: 66 },
  };

/** The WebCrypto curve of an ECC public area, or UNSUPPORTED_ALGORITHM. */
export function eccCurve(pub: EccPublic): { namedCurve: 'P-256' | 'P-384' | 'P-521'; size: number } {
  const c = ECC_CURVES[pub.curveId];
  if (!c)
    throw new TpmError(
      'UNSUPPORTED_ALGORITHM',
      `ECC curve 0x${pub.curveId.toString(16)} is not P-256/384/521`,
    );
  return c;
}

/** Smallest accepted RSA modulus (NIST SP 800-57: 2048 bits). */
export const MIN_RSA_BITS = 2048;

function base64Url(b: Uint8Array): string {
  let s = '';
  for (const x of b) s += String.fromCharCode(x);
  return btoa(s).replaceAll('+', '-').replaceAll('/', '_').replace(/=+$/, '');
}

/**
 * A coordinate left-padded to the field size. TPMs may drop leading zero bytes (P-521 coordinates vary in
 * bit length, ATTESTATION.md §4); a longer value is only accepted if the excess is leading zeros.
 */
export function padToField(v: Uint8Array, size: number, what: string): Uint8Array {
  if (v.length === size) return v;
  if (v.length > size) {
    for (let i = 0; i < v.length - size; i++) {
      if (v[i] !== 0)
        throw new TpmError('MALFORMED_STRUCTURE', `${what}: ${v.length} bytes exceed the field size ${size}`);
    }
    return v.subarray(v.length - size);
  }
  const out = new Uint8Array(size);
  out.set(v, size - v.length);
  return out;
}

/** The RSA modulus size in bits, checked against keyBits and the minimum we accept. */
export function rsaModulusBits(pub: RsaPublic): number {
  const bits = pub.modulus.length * 8;
  if (bits !== pub.keyBits) {
    throw new TpmError(
      'MALFORMED_STRUCTURE',
      `TPMT_PUBLIC: modulus has ${bits} bits but keyBits says ${pub.keyBits}`,
    );
  }
  if (bits < MIN_RSA_BITS || ((pub.modulus[0] ?? 0) & 0x80) === 0) {
    throw new TpmError(
      'UNSUPPORTED_ALGORITHM',
      `TPMT_PUBLIC: RSA keys must have a full modulus of at least ${MIN_RSA_BITS} bits`,
    );
  }
  return bits;
}

/** The RSA public key as a JWK (n = unique bytes, e = big-endian exponent, 65537 when 0). */
export function rsaJwk(pub: RsaPublic): PublicJwk {
  rsaModulusBits(pub);
  const e = pub.exponent === 0 ? RSA_DEFAULT_EXPONENT : pub.exponent;
  const eBytes = [e >>> 24, (e >>> 16) & 0xff, (e >>> 8) & 0xff, e & 0xff];
  while (eBytes.length > 1 && eBytes[0] === 0) eBytes.shift();
  return { kty: 'RSA', n: base64Url(pub.modulus), e: base64Url(Uint8Array.from(eBytes)), ext: true };
}

/** The ECC public key as a JWK (x/y left-padded to the field size). */
export function eccJwk(pub: EccPublic): PublicJwk {
  const c = eccCurve(pub);
  return {
    kty: 'EC',
    crv: c.namedCurve,
    x: base64Url(padToField(pub.x, c.size, 'TPMT_PUBLIC.unique.x')),
    y: base64Url(padToField(pub.y, c.size, 'TPMT_PUBLIC.unique.y')),
    ext: true,
  };
}

/** How a verifying RSA key is imported when the caller pins the signature scheme (verify-signature.ts does). */
export interface VerifyAlgorithm {
  /** TPM_ALG.RSASSA or TPM_ALG.RSAPSS for RSA keys; ignored for ECC keys (ECDSA takes its hash per call). */
  scheme: number;
  hashAlg: number;
}

async function importJwk(jwk: PublicJwk, alg: ImportAlgorithm, usages: KeyUsages): Promise<WebCryptoKey> {
  try {
    return await crypto.subtle.importKey('jwk', jwk, alg, true, usages);
  } catch (e) {
    throw new TpmError(
      'MALFORMED_STRUCTURE',
      `TPMT_PUBLIC: WebCrypto refused the key (${e instanceof Error ? e.message : String(e)})`,
    );
  }
}

/**
 * Imports the public area into WebCrypto via JWK. RSA ≥ 2048 bits and ECC P-256/384/521 only, else
 * UNSUPPORTED_ALGORITHM. For `verify` the RSA algorithm comes from `as` or else from the key's own scheme
 * (RSASSA-SHA256 when the scheme is NULL); for `encrypt-oaep` the OAEP hash is the scheme's hash when the
 * scheme is OAEP, else nameAlg (what TPM2_MakeCredential's secret sharing uses, Part 1 §24).
 */
export async function publicKeyToCryptoKey(
  pub: TpmtPublic,
  usage: 'verify' | 'encrypt-oaep' | 'ecdh',
  as?: VerifyAlgorithm,
): Promise<WebCryptoKey> {
  if (pub.type === TPM_ALG.RSA) {
    const jwk = rsaJwk(pub);
    if (usage === 'ecdh') throw new TpmError('UNSUPPORTED_ALGORITHM', 'ECDH needs an ECC key, this is RSA');
    if (usage === 'encrypt-oaep') {
      const hashAlg = pub.scheme.scheme === TPM_ALG.OAEP ? pub.scheme.hashAlg : pub.nameAlg;
      const hash = hashAlgorithm(hashAlg, 'OAEP hash').webcrypto;
      return importJwk(jwk, { name: 'RSA-OAEP', hash }, ['encrypt']);
    }
    const scheme = as?.scheme ?? (pub.scheme.scheme === TPM_ALG.NULL ? TPM_ALG.RSASSA : pub.scheme.scheme);
    const hashAlg = as?.hashAlg ?? (pub.scheme.scheme === TPM_ALG.NULL ? TPM_ALG.SHA256 : pub.scheme.hashAlg);
    const hash = hashAlgorithm(hashAlg, 'signature hash').webcrypto;
    if (scheme === TPM_ALG.RSASSA) return importJwk(jwk, { name: 'RSASSA-PKCS1-v1_5', hash }, ['verify']);
    if (scheme === TPM_ALG.RSAPSS) return importJwk(jwk, { name: 'RSA-PSS', hash }, ['verify']);
    throw new TpmError(
      'UNSUPPORTED_ALGORITHM',
      `RSA signature scheme 0x${scheme.toString(16)} is not RSASSA or RSAPSS`,
    );
  }
  const jwk = eccJwk(pub);
  const namedCurve = eccCurve(pub).namedCurve;
  if (usage === 'encrypt-oaep')
    throw new TpmError('UNSUPPORTED_ALGORITHM', 'RSA-OAEP needs an RSA key, this is ECC');
  if (usage === 'ecdh') return importJwk(jwk, { name: 'ECDH', namedCurve }, []);
  return importJwk(jwk, { name: 'ECDSA', namedCurve }, ['verify']);
}
