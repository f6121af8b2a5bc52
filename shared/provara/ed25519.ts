import { concatBytes, fromHex } from '../encoding/bytes.ts';
import { ProvaraError } from './errors.ts';

/**
 * Ed25519 (RFC 8032 pure mode) through WebCrypto, which Node 20 and workerd both provide. Provara stores
 * keys raw: public keys as the 32 bytes, private keys as the 32-byte seed (PROVARA.md §2.3), so they are
 * wrapped in SPKI/PKCS#8 headers to import them.
 */
const PKCS8_PREFIX = fromHex('302e020100300506032b657004220420') as Uint8Array;
const ED25519 = { name: 'Ed25519' } as const;

type Bytes = Uint8Array<ArrayBuffer>;
const ab = (b: Uint8Array): Bytes => b as Bytes;

export interface Ed25519KeyPair {
  privateKey: CryptoKey;
  publicKey: Uint8Array;
}

/** A fresh key pair; `extractable` only when the seed must be stored (software identities). */
export async function generateEd25519(extractable = false): Promise<Ed25519KeyPair> {
  const kp = (await crypto.subtle.generateKey(ED25519, extractable, ['sign', 'verify'])) as CryptoKeyPair;
  return {
    privateKey: kp.privateKey,
    publicKey: new Uint8Array((await crypto.subtle.exportKey('raw', kp.publicKey)) as ArrayBuffer),
  };
}

export async function importEd25519Seed(seed: Uint8Array, extractable = false): Promise<Ed25519KeyPair> {
  if (seed.length !== 32)
    throw new ProvaraError('KEY_INVALID', `an Ed25519 seed is 32 bytes, not ${seed.length}`);
  const privateKey = await crypto.subtle.importKey(
    'pkcs8',
    ab(concatBytes(PKCS8_PREFIX, seed)),
    ED25519,
    true,
    ['sign'],
  );
  // WebCrypto cannot derive the public key directly; the JWK export of a private key carries `x`.
  const jwk = (await crypto.subtle.exportKey('jwk', privateKey)) as JsonWebKey;
  const publicKey = base64UrlDecode(jwk.x ?? '');
  const key = extractable
    ? privateKey
    : await crypto.subtle.importKey('pkcs8', ab(concatBytes(PKCS8_PREFIX, seed)), ED25519, false, ['sign']);
  return { privateKey: key, publicKey };
}

/** The 32-byte seed of an extractable private key (the last 32 bytes of its PKCS#8 encoding). */
export async function exportEd25519Seed(privateKey: CryptoKey): Promise<Uint8Array> {
  const pkcs8 = new Uint8Array((await crypto.subtle.exportKey('pkcs8', privateKey)) as ArrayBuffer);
  return pkcs8.slice(pkcs8.length - 32);
}

export async function ed25519Sign(privateKey: CryptoKey, message: Uint8Array): Promise<Uint8Array> {
  return new Uint8Array(await crypto.subtle.sign(ED25519, privateKey, ab(message)));
}

const publicKeyCache = new Map<string, Promise<CryptoKey>>();

/** Imports a raw public key; cached because a vault verifies thousands of events under a few keys. */
export function importEd25519Public(raw: Uint8Array): Promise<CryptoKey> {
  if (raw.length !== 32)
    throw new ProvaraError('KEY_INVALID', `an Ed25519 public key is 32 bytes, not ${raw.length}`);
  const id = String.fromCharCode(...raw);
  let k = publicKeyCache.get(id);
  if (!k) {
    if (publicKeyCache.size > 1024) publicKeyCache.clear();
    k = crypto.subtle.importKey('raw', ab(raw), ED25519, false, ['verify']);
    publicKeyCache.set(id, k);
  }
  return k;
}

/** False for a wrong signature or a malformed key/signature; never throws on attacker data. */
export async function ed25519Verify(
  publicKey: Uint8Array,
  signature: Uint8Array,
  message: Uint8Array,
): Promise<boolean> {
  if (publicKey.length !== 32 || signature.length !== 64) return false;
  try {
    return await crypto.subtle.verify(
      ED25519,
      await importEd25519Public(publicKey),
      ab(signature),
      ab(message),
    );
  } catch {
    return false;
  }
}

function base64UrlDecode(s: string): Uint8Array {
  const b = atob(s.replace(/-/g, '+').replace(/_/g, '/') + '='.repeat((4 - (s.length % 4)) % 4));
  return Uint8Array.from(b, (c) => c.charCodeAt(0));
}
