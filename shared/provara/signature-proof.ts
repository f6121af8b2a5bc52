import type { JsonObject } from './json-value.ts';

/**
 * How a key proves it signed a message. Profile A knows one form, a raw Ed25519 signature over the
 * message bytes; PKCS#11 `CKM_EDDSA` and software keys produce exactly that. A FIDO2 authenticator never
 * signs the caller's bytes (PROVARA.md §5.2): it signs `authenticatorData ‖ clientDataHash`, so its proof
 * carries the authenticator data and we set `clientDataHash = SHA-256(message)`.
 */
export type SignatureFormat = 'ed25519' | 'webauthn.v1';

/** The `sig_format` value that marks a FIDO2 envelope; it is inside the signed preimage, so it cannot be stripped. */
export const WEBAUTHN_SIG_FORMAT = 'webauthn.v1';

export interface Ed25519Proof {
  format: 'ed25519';
  signature: Uint8Array;
}

/** COSE algorithm ids: −8 EdDSA (Ed25519), −7 ES256 (ECDSA P-256, DER signature). */
export type CoseAlgorithm = -8 | -7;

export interface WebAuthnProof {
  format: 'webauthn.v1';
  signature: Uint8Array;
  authenticatorData: Uint8Array;
  credentialId: Uint8Array;
  alg: CoseAlgorithm;
}

export type SignatureProof = Ed25519Proof | WebAuthnProof;

/** Anything that can sign for a `bp1_` key: software, PKCS#11 token, FIDO2 authenticator, session key. */
export interface Signer {
  readonly keyId: string;
  /** Raw public key: 32 bytes Ed25519, or the 65-byte uncompressed P-256 point for an ES256 credential. */
  readonly publicKey: Uint8Array;
  readonly algorithm: 'Ed25519' | 'ES256';
  readonly format: SignatureFormat;
  /** Extra keys.json members that verification needs (the FIDO2 rp id and credential id). */
  readonly keyRecordExtras?: JsonObject;
  sign(message: Uint8Array): Promise<SignatureProof>;
}
