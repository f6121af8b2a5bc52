import { toHex } from '../encoding/bytes.ts';
import { HASH_ALGS, TPM_ALG } from './constants.ts';
import { TpmError } from './errors.ts';
import {
  ECC_CURVES,
  eccCurve,
  hashAlgorithm,
  publicKeyToCryptoKey,
  type TpmtPublic,
} from './structures/public.ts';
import type { TpmsSignatureEcc, TpmsSignatureRsa, TpmtSignature } from './structures/signature.ts';
import type { WebCryptoKey } from './webcrypto-types.ts';

/**
 * Verifies a TPMT_SIGNATURE over the exact signed bytes (a TPMS_ATTEST) with WebCrypto, binding the
 * signature scheme to the key (ATTESTATION.md §3.4): the sigAlg/hash must be what the key's TPMT_PUBLIC
 * scheme allows — go-attestation takes the hash from the AK, never from the signature — so an attacker
 * cannot pick a weaker hash. A NULL key scheme allows SHA-256/384/512 only (go-tpm-tools' allowlist);
 * SHA-1 verifies only when the key pins it (Windows PCP AKs are RSASSA-SHA1).
 */

/** Hashes a NULL-scheme key may sign with. */
const UNPINNED_HASHES: readonly number[] = [TPM_ALG.SHA256, TPM_ALG.SHA384, TPM_ALG.SHA512];

/** Who signed: a TPM public area (scheme-bound), or a WebCrypto key (e.g. a WebAuthn AIK certificate's key). */
export type AttestSigner = TpmtPublic | WebCryptoKey;

/** The scheme that verified, e.g. to hash PCR values with (the pcrDigest uses the signing hash). */
export interface VerifiedSignature {
  sigAlg: number;
  hashAlg: number;
}

function isCryptoKey(s: AttestSigner): s is WebCryptoKey {
  return !('objectAttributes' in s);
}

type SupportedSignature = TpmsSignatureRsa | (TpmsSignatureEcc & { sigAlg: typeof TPM_ALG.ECDSA });

function mismatch(message: string): TpmError {
  return new TpmError('SIGNATURE_SCHEME_MISMATCH', message);
}

function hex(v: number): string {
  return `0x${v.toString(16).padStart(4, '0')}`;
}

/** Checks the signature against the key's scheme and narrows it to a scheme we verify. */
function bindToPublic(pub: TpmtPublic, sig: TpmtSignature): SupportedSignature {
  const expectedAlg: readonly number[] =
    pub.type === TPM_ALG.RSA ? [TPM_ALG.RSASSA, TPM_ALG.RSAPSS] : [TPM_ALG.ECDSA];
  const keyScheme = pub.scheme.scheme;
  if (keyScheme !== TPM_ALG.NULL && !expectedAlg.includes(keyScheme)) {
    throw new TpmError(
      'UNSUPPORTED_ALGORITHM',
      `key scheme ${hex(keyScheme)} is not a supported signing scheme`,
    );
  }
  if (sig.sigAlg === TPM_ALG.NULL || sig.sigAlg === TPM_ALG.HMAC) {
    throw mismatch(`signature algorithm ${hex(sig.sigAlg)} is not an asymmetric signature`);
  }
  if (keyScheme === TPM_ALG.NULL) {
    if (!expectedAlg.includes(sig.sigAlg))
      throw mismatch(`signature algorithm ${hex(sig.sigAlg)} does not fit the key type`);
    if (!UNPINNED_HASHES.includes(sig.hash)) {
      throw mismatch(
        `hash ${hex(sig.hash)} is not allowed for a key without a pinned scheme (SHA-256/384/512 only)`,
      );
    }
  } else if (sig.sigAlg !== keyScheme || sig.hash !== pub.scheme.hashAlg) {
    throw mismatch(
      `signature ${hex(sig.sigAlg)}/${hex(sig.hash)} does not match the key scheme ${hex(keyScheme)}/${hex(pub.scheme.hashAlg)}`,
    );
  }
  return sig as SupportedSignature;
}

interface KeyAlgorithmView {
  name: string;
  hash?: { name: string };
  namedCurve?: string;
  modulusLength?: number;
}

function hashAlgOfWebCrypto(name: string | undefined): number | undefined {
  for (const [alg, h] of Object.entries(HASH_ALGS)) if (h.webcrypto === name) return Number(alg);
  return undefined;
}

/** Checks the signature against a WebCrypto key's algorithm (RSA keys carry their hash; ECDSA keys do not). */
function bindToCryptoKey(key: WebCryptoKey, sig: TpmtSignature): SupportedSignature {
  const alg = key.algorithm as KeyAlgorithmView;
  if (sig.sigAlg === TPM_ALG.NULL || sig.sigAlg === TPM_ALG.HMAC) {
    throw mismatch(`signature algorithm ${hex(sig.sigAlg)} is not an asymmetric signature`);
  }
  if (alg.name === 'ECDSA') {
    if (sig.sigAlg !== TPM_ALG.ECDSA)
      throw mismatch(`an ECDSA key cannot verify signature algorithm ${hex(sig.sigAlg)}`);
    if (!UNPINNED_HASHES.includes(sig.hash))
      throw mismatch(`hash ${hex(sig.hash)} is not allowed for ECDSA (SHA-256/384/512 only)`);
    return sig as SupportedSignature;
  }
  const sigAlg =
    alg.name === 'RSASSA-PKCS1-v1_5' ? TPM_ALG.RSASSA : alg.name === 'RSA-PSS' ? TPM_ALG.RSAPSS : undefined;
  if (sigAlg === undefined)
    throw new TpmError('UNSUPPORTED_ALGORITHM', `key algorithm ${alg.name} cannot verify TPM signatures`);
  if (sig.sigAlg !== sigAlg || sig.hash !== hashAlgOfWebCrypto(alg.hash?.name)) {
    throw mismatch(
      `signature ${hex(sig.sigAlg)}/${hex(sig.hash)} does not match the key algorithm ${alg.name}/${alg.hash?.name}`,
    );
  }
  return sig as SupportedSignature;
}

async function subtleVerify(
  params: Parameters<typeof crypto.subtle.verify>[0],
  key: WebCryptoKey,
  signature: Uint8Array,
  message: Uint8Array,
): Promise<boolean> {
  try {
    return await crypto.subtle.verify(
      params,
      key,
      signature as Uint8Array<ArrayBuffer>,
      message as Uint8Array<ArrayBuffer>,
    );
  } catch {
    // WebCrypto throws on e.g. a wrong-length RSA signature: that is an invalid signature, not a crash.
    return false;
  }
}

function invalid(): TpmError {
  return new TpmError(
    'SIGNATURE_INVALID',
    'the signature does not verify over the signed structure with this key',
  );
}

/**
 * Verifies `signature` over `message` (the exact TPMS_ATTEST bytes) and returns the scheme used.
 * Throws SIGNATURE_SCHEME_MISMATCH, UNSUPPORTED_ALGORITHM or SIGNATURE_INVALID.
 */
export async function verifyAttestSignature(
  signer: AttestSigner,
  message: Uint8Array,
  signature: TpmtSignature,
): Promise<VerifiedSignature> {
  const sig = isCryptoKey(signer) ? bindToCryptoKey(signer, signature) : bindToPublic(signer, signature);
  const hash = hashAlgorithm(sig.hash, 'signature hash');
  const key = isCryptoKey(signer) ? signer : await verificationKey(signer, sig.sigAlg, sig.hash);
  const result = { sigAlg: sig.sigAlg, hashAlg: sig.hash };

  if (sig.sigAlg === TPM_ALG.ECDSA) {
    const size = isCryptoKey(signer)
      ? curveSizeOf(signer)
      : eccCurve(signer as Extract<TpmtPublic, { type: typeof TPM_ALG.ECC }>).size;
    // WebCrypto wants raw r‖s, each left-padded to the field size; TPMs may return shorter values.
    if (sig.r.length > size || sig.s.length > size) throw invalid();
    const raw = new Uint8Array(2 * size);
    raw.set(sig.r, size - sig.r.length);
    raw.set(sig.s, 2 * size - sig.s.length);
    if (await subtleVerify({ name: 'ECDSA', hash: hash.webcrypto }, key, raw, message)) return result;
    throw invalid();
  }
  if (sig.sigAlg === TPM_ALG.RSASSA) {
    if (await subtleVerify({ name: 'RSASSA-PKCS1-v1_5' }, key, sig.sig, message)) return result;
    throw invalid();
  }
  // RSA-PSS: WebCrypto needs the exact salt. The reference TPM now uses salt = hLen (FIPS 186-4 cap);
  // older TPMs use the maximum, ceil((modBits-1)/8) - hLen - 2 (ms-tpm-20-ref CryptRsaPssSaltSize).
  const modBits = (key.algorithm as KeyAlgorithmView).modulusLength ?? 0;
  const maxSalt = Math.ceil((modBits - 1) / 8) - hash.size - 2;
  for (const saltLength of maxSalt === hash.size ? [hash.size] : [hash.size, maxSalt]) {
    if (saltLength >= 0 && (await subtleVerify({ name: 'RSA-PSS', saltLength }, key, sig.sig, message)))
      return result;
  }
  throw invalid();
}

/**
 * Imported verification keys by content. Importing a key costs about as much as verifying with it (JWK
 * parsing and point validation), and a verifier sees the same AKs again on every heartbeat. The cache key is
 * the complete key material plus the algorithm parameters, so a hit is the very key the miss would import.
 */
const KEY_CACHE_SIZE = 256;
const keyCache = new Map<string, Promise<WebCryptoKey>>();

function verificationKey(pub: TpmtPublic, sigAlg: number, hashAlg: number): Promise<WebCryptoKey> {
  const material =
    pub.type === TPM_ALG.RSA
      ? `${pub.exponent}:${toHex(pub.modulus)}`
      : `${pub.curveId}:${toHex(pub.x)}:${toHex(pub.y)}`;
  const id = `${pub.type}:${sigAlg}:${hashAlg}:${material}`;
  const hit = keyCache.get(id);
  if (hit) {
    keyCache.delete(id);
    keyCache.set(id, hit); // most recently used last
    return hit;
  }
  const imported = publicKeyToCryptoKey(pub, 'verify', { scheme: sigAlg, hashAlg });
  keyCache.set(id, imported);
  imported.catch(() => keyCache.delete(id)); // never cache a failure
  if (keyCache.size > KEY_CACHE_SIZE) {
    const oldest = keyCache.keys().next().value;
    if (oldest !== undefined) keyCache.delete(oldest);
  }
  return imported;
}

function curveSizeOf(key: WebCryptoKey): number {
  const named = (key.algorithm as KeyAlgorithmView).namedCurve;
  for (const c of Object.values(ECC_CURVES)) if (c.namedCurve === named) return c.size;
  throw new TpmError('UNSUPPORTED_ALGORITHM', `curve ${named} is not P-256/384/521`);
}
