import { ByteWriter } from '../../../../shared/tpm2/cursor.ts';
import { parseEncryptedSecret, parseIdObject, TPM2B_MAX } from '../../../../shared/tpm2/structures/tpm2b.ts';
import { TPM_CC, TPM_RH, TPM_SE } from './constants.ts';
import { flushContext, passwordAuth, policyAuth, policySecret, startAuthSession } from './sessions.ts';
import type { Tpm } from './tpm.ts';

/**
 * TPM2_ActivateCredential (Part 1 §24, ATTESTATION.md §3.7): the TPM decrypts the server's credential with
 * the EK and releases it only if the Name it was made for is the loaded AK's Name. The EK's authPolicy is
 * PolicySecret(endorsement), so its authorization is a policy session that ran that assertion; the AK's
 * (ADMIN role, adminWithPolicy clear) is its empty password.
 */
export async function activateCredential(
  tpm: Tpm,
  input: {
    akHandle: number;
    ekHandle: number;
    /** TPM2B_ID_OBJECT as the API sends it (with its size prefix). */
    credentialBlob: Uint8Array;
    /** TPM2B_ENCRYPTED_SECRET as the API sends it (with its size prefix). */
    encryptedSecret: Uint8Array;
    endorsementAuth?: Uint8Array;
  },
): Promise<Uint8Array> {
  // Both blobs are checked by the shared codec before they reach the TPM (typed MALFORMED_STRUCTURE).
  const idObject = parseIdObject(input.credentialBlob);
  const secret = parseEncryptedSecret(input.encryptedSecret);
  const session = await startAuthSession(tpm, TPM_SE.POLICY);
  let consumed = false;
  try {
    await policySecret(tpm, TPM_RH.ENDORSEMENT, session, input.endorsementAuth);
    const out = await tpm.run({
      name: 'ActivateCredential',
      code: TPM_CC.ActivateCredential,
      handles: [input.akHandle, input.ekHandle],
      sessions: [passwordAuth(), policyAuth(session.handle)],
      params: new ByteWriter().tpm2b(idObject).tpm2b(secret).finish(),
      parse: (r) => r.tpm2b('certInfo', TPM2B_MAX.TPM2B_DIGEST),
    });
    consumed = true; // continueSession clear: a successful command flushed the session
    return out;
  } finally {
    if (!consumed) await flushContext(tpm, session.handle).catch(() => undefined);
  }
}
