import { TPM_ALG, TPM_ST } from '../../../../shared/tpm2/constants.ts';
import { ByteWriter } from '../../../../shared/tpm2/cursor.ts';
import {
  marshalSignature,
  readSignature,
  type TpmtSignature,
} from '../../../../shared/tpm2/structures/signature.ts';
import { TPM_CC, TPM_RH } from './constants.ts';
import { passwordAuth } from './sessions.ts';
import type { Tpm } from './tpm.ts';

/**
 * TPM2_Sign of a SHA-256 digest with a non-restricted signing key (the node key). The validation ticket is
 * the NULL ticket (TPM_ST_HASHCHECK, TPM_RH_NULL, empty): only restricted keys need a real one.
 */
export async function signDigest(
  tpm: Tpm,
  keyHandle: number,
  digest: Uint8Array,
): Promise<{ signature: Uint8Array; parsed: TpmtSignature }> {
  const params = new ByteWriter()
    .tpm2b(digest)
    .u16(TPM_ALG.NULL) // inScheme: the key's own (ECDSA-SHA256)
    .u16(TPM_ST.HASHCHECK)
    .u32(TPM_RH.NULL)
    .tpm2b(new Uint8Array(0))
    .finish();
  const parsed = await tpm.run({
    name: 'Sign',
    code: TPM_CC.Sign,
    handles: [keyHandle],
    sessions: [passwordAuth()],
    params,
    parse: (r) => readSignature(r),
  });
  return { signature: marshalSignature(parsed), parsed };
}

/** Hashes `message` with SHA-256 and signs the digest in the TPM. */
export async function signMessage(
  tpm: Tpm,
  keyHandle: number,
  message: Uint8Array,
): Promise<{ signature: Uint8Array; parsed: TpmtSignature }> {
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', message as Uint8Array<ArrayBuffer>));
  return signDigest(tpm, keyHandle, digest);
}
