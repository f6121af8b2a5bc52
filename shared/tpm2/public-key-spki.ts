import { fromBase64 } from '../encoding/bytes.ts';
import { TPM_ALG } from './constants.ts';
import { TpmError } from './errors.ts';
import { eccCurve, eccJwk, publicKeyToCryptoKey, rsaJwk, type TpmtPublic } from './structures/public.ts';
import type { PublicJwk, WebCryptoKey } from './webcrypto-types.ts';

/**
 * The bridge between TPM public areas and X.509/PEM keys: the API receives the node key both as a TPM
 * public area (certified by the AK) and as an SPKI PEM (`publicKey`); they must be the same key, or a node
 * could have the TPM certify one key and then register another (NODE_KEY_MISMATCH).
 */

/** The DER of a `-----BEGIN PUBLIC KEY-----` PEM; MALFORMED_STRUCTURE for anything else. */
export function spkiFromPem(pem: string): Uint8Array {
  const m = /^\s*-----BEGIN PUBLIC KEY-----([A-Za-z0-9+/=\s]+)-----END PUBLIC KEY-----\s*$/.exec(pem);
  const der = m?.[1] ? fromBase64(m[1].replace(/\s+/g, '')) : undefined;
  if (!der || der.length === 0) throw new TpmError('MALFORMED_STRUCTURE', 'not a PUBLIC KEY PEM');
  return der;
}

/** The public area's key as SubjectPublicKeyInfo DER (RSA: rsaEncryption; ECC: id-ecPublicKey, uncompressed). */
export async function publicKeyToSpki(pub: TpmtPublic): Promise<Uint8Array> {
  const key = await publicKeyToCryptoKey(
    pub,
    'verify',
    pub.type === TPM_ALG.RSA ? { scheme: TPM_ALG.RSASSA, hashAlg: TPM_ALG.SHA256 } : undefined,
  );
  const spki: unknown = await crypto.subtle.exportKey('spki', key);
  if (!(spki instanceof ArrayBuffer))
    throw new TpmError('UNSUPPORTED_ALGORITHM', 'WebCrypto did not export an SPKI');
  return new Uint8Array(spki);
}

async function importSpki(pub: TpmtPublic, spki: Uint8Array): Promise<WebCryptoKey | undefined> {
  const alg =
    pub.type === TPM_ALG.RSA
      ? { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' }
      : { name: 'ECDSA', namedCurve: eccCurve(pub).namedCurve };
  try {
    return await crypto.subtle.importKey('spki', spki as Uint8Array<ArrayBuffer>, alg, true, ['verify']);
  } catch {
    return undefined; // not an SPKI of this key type/curve: it cannot be the same key
  }
}

/**
 * Whether `spkiDer` holds the same public key as `pub`. Compared as key components (n/e or x/y), not as
 * DER bytes, so equivalent encodings (e.g. a compressed EC point) of the same key match.
 */
export async function publicKeyMatchesSpki(pub: TpmtPublic, spkiDer: Uint8Array): Promise<boolean> {
  const ours = pub.type === TPM_ALG.RSA ? rsaJwk(pub) : eccJwk(pub);
  const key = await importSpki(pub, spkiDer);
  if (!key) return false;
  const theirs = (await crypto.subtle.exportKey('jwk', key)) as PublicJwk;
  if (pub.type === TPM_ALG.RSA) return theirs.n === ours.n && theirs.e === ours.e;
  return theirs.crv === ours.crv && theirs.x === ours.x && theirs.y === ours.y;
}

/** Throws NODE_KEY_MISMATCH unless the PEM's key is the public area's key. */
export async function requirePublicKeyMatchesPem(pub: TpmtPublic, pem: string): Promise<void> {
  if (!(await publicKeyMatchesSpki(pub, spkiFromPem(pem)))) {
    throw new TpmError('NODE_KEY_MISMATCH', 'the PEM public key is not the TPM-certified key');
  }
}
