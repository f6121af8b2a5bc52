/**
 * WebCrypto type names that work under both type environments of this repo: the Node types (root
 * tsconfig, where `CryptoKey` is not a global) and the Workers types (functions/tsconfig). Derived from
 * the global `crypto` object, which both declare, so shared code never imports `node:crypto`.
 */
type Subtle = typeof crypto.subtle;

/** A WebCrypto `CryptoKey`. */
export type WebCryptoKey = Awaited<ReturnType<Subtle['importKey']>>;

/**
 * The `importKey` algorithms tpm2-ts uses, spelled out (not derived from the overloaded signature, whose
 * last overload differs between the Node, DOM and Workers typings).
 */
export type ImportAlgorithm =
  | { name: 'ECDSA' | 'ECDH'; namedCurve: string }
  | { name: 'RSASSA-PKCS1-v1_5' | 'RSA-PSS' | 'RSA-OAEP'; hash: string };

/** Key usages tpm2-ts asks for. */
export type KeyUsages = ('verify' | 'encrypt' | 'sign' | 'deriveBits' | 'deriveKey')[];

/** The JWK members tpm2-ts produces (a subset of RFC 7517/7518 public-key members). */
export interface PublicJwk {
  kty: 'RSA' | 'EC';
  n?: string;
  e?: string;
  crv?: string;
  x?: string;
  y?: string;
  ext?: boolean;
}
