import { canonicalBytes } from './canonical-json.ts';
import { ed25519Verify } from './ed25519.ts';
import { type JsonObject, without } from './json-value.ts';
import type { KeyRecord } from './keys-file.ts';
import { type MemberFailure, proofMembers, readProof, writeProof } from './signature-members.ts';
import { type SignatureProof, type Signer, WEBAUTHN_SIG_FORMAT } from './signature-proof.ts';
import { type AssertionFailure, verifyAssertion } from './webauthn-assertion.ts';

/**
 * Provara's one signing rule, for events and every other signed object: the signature covers the canonical
 * bytes of the object without its proof members (PROVARA.md §2.3). `sig_format` is added before signing
 * when the signer is a FIDO2 authenticator, so it is covered.
 */
export function signaturePreimage(obj: JsonObject): Uint8Array {
  return canonicalBytes(without(obj, ...proofMembers(obj)));
}

/** Marks the object for the signer's format. Call before computing anything that hashes the object. */
export function prepareForSigner(obj: JsonObject, signer: Signer): void {
  if (signer.format === 'webauthn.v1') obj.set('sig_format', WEBAUTHN_SIG_FORMAT);
  else obj.delete('sig_format');
}

/** Signs `obj` in place with `signer` (which must already be prepared for with prepareForSigner). */
export async function signObject(obj: JsonObject, signer: Signer): Promise<void> {
  const proof = await signer.sign(signaturePreimage(obj));
  writeProof(obj, proof);
}

export type ProofFailure =
  | MemberFailure
  | AssertionFailure
  | 'SIGNATURE_INVALID'
  | 'KEY_ALGORITHM_UNSUPPORTED'
  | 'WEBAUTHN_KEY_NOT_FIDO2'
  | 'WEBAUTHN_CREDENTIAL_MISMATCH';

export type ProofResult = { ok: true; signCount: number | undefined } | { ok: false; reason: ProofFailure };

/**
 * Verifies the proof on `obj` under `key`. For a FIDO2 proof it also returns the signature counter, which
 * the caller compares with the previous one for the same credential (a clone or a replay shows as a counter
 * that does not increase).
 */
export async function verifyObjectProof(obj: JsonObject, key: KeyRecord): Promise<ProofResult> {
  const r = readProof(obj);
  if (!r.ok) return r;
  return verifyProof(r.proof, key, signaturePreimage(obj));
}

/** Verifies a proof over explicit message bytes (cosignatures sign a statement, not their own object). */
export async function verifyProof(
  proof: SignatureProof,
  key: KeyRecord,
  message: Uint8Array,
): Promise<ProofResult> {
  const pub = key.publicKey;
  if (!pub) return { ok: false, reason: 'KEY_ALGORITHM_UNSUPPORTED' };
  if (proof.format === 'ed25519') {
    if (key.algorithm !== 'Ed25519') return { ok: false, reason: 'KEY_ALGORITHM_UNSUPPORTED' };
    return (await ed25519Verify(pub, proof.signature, message))
      ? { ok: true, signCount: undefined }
      : { ok: false, reason: 'SIGNATURE_INVALID' };
  }
  if (!key.fido2) return { ok: false, reason: 'WEBAUTHN_KEY_NOT_FIDO2' };
  if (!sameBytes(key.fido2.credentialId, proof.credentialId))
    return { ok: false, reason: 'WEBAUTHN_CREDENTIAL_MISMATCH' };
  const expectedAlg = key.algorithm === 'Ed25519' ? -8 : key.algorithm === 'ES256' ? -7 : undefined;
  if (expectedAlg !== proof.alg) return { ok: false, reason: 'KEY_ALGORITHM_UNSUPPORTED' };
  const a = await verifyAssertion({
    publicKey: pub,
    alg: proof.alg,
    rpId: key.fido2.rpId,
    authenticatorData: proof.authenticatorData,
    signature: proof.signature,
    message,
  });
  return a.ok ? { ok: true, signCount: a.authData.signCount } : a;
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}
