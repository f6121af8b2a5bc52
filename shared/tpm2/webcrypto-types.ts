/**
 * WebCrypto type names that work under both type environments of this repo: the Node types (root
 * tsconfig, where `CryptoKey` is not a global) and the Workers types (functions/tsconfig). Derived from
 * the global `crypto` object, which both declare, so shared code never imports `node:crypto`.
 */
type Subtle = typeof crypto.subtle;

/** A WebCrypto `CryptoKey`. */
export type WebCryptoKey = Awaited<ReturnType<Subtle['importKey']>>;

/** The algorithm parameter of `importKey`. */
export type ImportAlgorithm = Parameters<Subtle['importKey']>[2];

/** The usages parameter of `importKey`. */
export type KeyUsages = Parameters<Subtle['importKey']>[4];

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
