import { TPM_ALG } from '../../../../shared/tpm2/constants.ts';
import { type ByteReader, ByteWriter } from '../../../../shared/tpm2/cursor.ts';
import {
  type TpmsPcrSelection,
  writePcrSelectionList,
} from '../../../../shared/tpm2/structures/pcr-selection.ts';
import {
  marshalSignature,
  readSignature,
  type TpmtSignature,
} from '../../../../shared/tpm2/structures/signature.ts';
import { TPM2B_MAX } from '../../../../shared/tpm2/structures/tpm2b.ts';
import { TPM_CC } from './constants.ts';
import { passwordAuth } from './sessions.ts';
import type { Tpm } from './tpm.ts';

/**
 * TPM2_Quote and TPM2_Certify: the TPM signs a TPMS_ATTEST it built itself with the (restricted) AK. The
 * results are the exact bytes the API takes: `attest` = TPMS_ATTEST (the TPM2B_ATTEST content, i.e. the
 * signed message), `signature` = TPMT_SIGNATURE.
 */
export interface SignedAttestation {
  attest: Uint8Array;
  signature: Uint8Array;
  parsedSignature: TpmtSignature;
}

/** TPMT_SIG_SCHEME NULL: use the key's own scheme (ECDSA-SHA256 for the agent's keys). */
function nullScheme(w: ByteWriter): ByteWriter {
  return w.u16(TPM_ALG.NULL);
}

function readSigned(r: ByteReader): SignedAttestation {
  const attest = r.tpm2b('attest', TPM2B_MAX.TPM2B_ATTEST);
  const parsedSignature = readSignature(r);
  return { attest, signature: marshalSignature(parsedSignature), parsedSignature };
}

/** TPM2_Quote over `selection` with `qualifyingData` (the server's nonce) as extraData. */
export function quote(
  tpm: Tpm,
  akHandle: number,
  qualifyingData: Uint8Array,
  selection: readonly TpmsPcrSelection[],
): Promise<SignedAttestation> {
  const w = nullScheme(new ByteWriter().tpm2b(qualifyingData));
  writePcrSelectionList(w, selection);
  return tpm.run({
    name: 'Quote',
    code: TPM_CC.Quote,
    handles: [akHandle],
    sessions: [passwordAuth()],
    params: w.finish(),
    parse: readSigned,
  });
}

/**
 * TPM2_Certify of `objectHandle` by `signHandle` (the AK), with qualifying data — unlike tpm2-tools 5.4,
 * the agent sets it (to the registration nonce), so the certification is fresh too.
 */
export function certify(
  tpm: Tpm,
  objectHandle: number,
  signHandle: number,
  qualifyingData: Uint8Array,
): Promise<SignedAttestation> {
  return tpm.run({
    name: 'Certify',
    code: TPM_CC.Certify,
    handles: [objectHandle, signHandle],
    sessions: [passwordAuth(), passwordAuth()],
    params: nullScheme(new ByteWriter().tpm2b(qualifyingData)).finish(),
    parse: readSigned,
  });
}
