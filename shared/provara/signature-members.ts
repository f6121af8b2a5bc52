import { fromBase64, toBase64 } from '../encoding/bytes.ts';
import { type JsonObject, stringField, toJson } from './json-value.ts';
import { type SignatureProof, WEBAUTHN_SIG_FORMAT } from './signature-proof.ts';

/**
 * How a proof is written into a signed object (an event, a cosignature, a manifest.sig).
 *
 * Profile A: one member, `sig` (standard base64, 64 bytes), and the preimage is the object without `sig`.
 * FIDO2 (`webauthn.v1`): `sig_format: "webauthn.v1"` stays *inside* the preimage (so nobody can strip it to
 * pass the assertion off as a raw signature), and `webauthn: {alg, authenticator_data_b64,
 * credential_id_b64}` is excluded like `sig`, because it is produced by signing. Any other object that
 * carries a `webauthn` member without the format marker is refused: Python would sign over it, we would not.
 */
export const WEBAUTHN_MEMBER = 'webauthn';

export type MemberFailure = 'SIGNATURE_MISSING' | 'SIGNATURE_FORMAT' | 'SIG_FORMAT_UNKNOWN';

export function isWebAuthnObject(obj: JsonObject): boolean {
  return obj.get('sig_format') === WEBAUTHN_SIG_FORMAT;
}

/** The members left out of the preimage for this object's format. */
export function proofMembers(obj: JsonObject): string[] {
  return isWebAuthnObject(obj) ? ['sig', WEBAUTHN_MEMBER] : ['sig'];
}

/** Writes the proof members; for a FIDO2 proof `sig_format` must already be in the object (it was signed). */
export function writeProof(obj: JsonObject, proof: SignatureProof): void {
  obj.set('sig', toBase64(proof.signature));
  if (proof.format === 'webauthn.v1') {
    obj.set(
      WEBAUTHN_MEMBER,
      toJson({
        alg: proof.alg,
        authenticator_data_b64: toBase64(proof.authenticatorData),
        credential_id_b64: toBase64(proof.credentialId),
      }),
    );
  }
}

export function readProof(
  obj: JsonObject,
): { ok: true; proof: SignatureProof } | { ok: false; reason: MemberFailure } {
  const sigText = obj.get('sig');
  if (sigText === undefined || sigText === null || sigText === '')
    return { ok: false, reason: 'SIGNATURE_MISSING' };
  // Strict base64: Python's lenient b64decode drops stray characters, which lets two texts be one signature.
  const signature = typeof sigText === 'string' ? fromBase64(sigText) : undefined;
  if (!signature) return { ok: false, reason: 'SIGNATURE_FORMAT' };
  const format = obj.get('sig_format');
  if (format === undefined) {
    if (obj.has(WEBAUTHN_MEMBER)) return { ok: false, reason: 'SIG_FORMAT_UNKNOWN' };
    if (signature.length !== 64) return { ok: false, reason: 'SIGNATURE_FORMAT' };
    return { ok: true, proof: { format: 'ed25519', signature } };
  }
  if (format !== WEBAUTHN_SIG_FORMAT) return { ok: false, reason: 'SIG_FORMAT_UNKNOWN' };
  const w = obj.get(WEBAUTHN_MEMBER);
  if (!(w instanceof Map)) return { ok: false, reason: 'SIGNATURE_FORMAT' };
  const alg = w.get('alg');
  const ad = fromBase64(stringField(w, 'authenticator_data_b64') ?? '');
  const cred = fromBase64(stringField(w, 'credential_id_b64') ?? '');
  if ((alg !== -8n && alg !== -7n) || !ad || !cred || cred.length === 0 || w.size !== 3) {
    return { ok: false, reason: 'SIGNATURE_FORMAT' };
  }
  return {
    ok: true,
    proof: {
      format: 'webauthn.v1',
      signature,
      authenticatorData: ad,
      credentialId: cred,
      alg: alg === -8n ? -8 : -7,
    },
  };
}
