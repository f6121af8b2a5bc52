import type { z } from 'zod';
import type { HeartbeatAttestation } from '../../../shared/api/heartbeat.ts';
import { fromBase64 } from '../../../shared/encoding/bytes.ts';
import { checkClockProgress } from '../../../shared/tpm2/clock.ts';
import { TpmError } from '../../../shared/tpm2/errors.ts';
import { verifyQuote } from '../../../shared/tpm2/verify-quote.ts';
import type { AttestationPolicy, ClockInfo, NodeRecord, PcrValues } from '../storage/types.ts';
import { judgeEventLog } from './measured-boot.ts';
import { judgePcrs, requirePolicySelection, selectedValues } from './pcr-policy.ts';

/**
 * A periodic re-attestation (a heartbeat answering a nonce): the quote must be signed by the AK pinned
 * at registration, over the nonce, with the TPM clock moving forward since the last accepted quote, and
 * the policy-selected PCRs must satisfy the tier's policy against the node's registration baseline.
 */
export interface Reattestation {
  pcrValues: PcrValues;
  clockInfo: ClockInfo;
}

function bytes(b64: string, field: string): Uint8Array {
  const b = fromBase64(b64);
  if (!b) throw new TpmError('MALFORMED_STRUCTURE', `${field} is not standard base64`);
  return b;
}

export async function verifyReattestation(input: {
  node: Pick<NodeRecord, 'akPublic' | 'pcrBaseline' | 'lastClockInfo'>;
  attestation: z.infer<typeof HeartbeatAttestation>;
  nonce: Uint8Array;
  policy: AttestationPolicy;
}): Promise<Reattestation> {
  const a = input.attestation;
  const quote = await verifyQuote({
    akPublic: bytes(input.node.akPublic, 'akPublic'),
    quote: bytes(a.quote, 'quote'),
    signature: bytes(a.signature, 'signature'),
    pcrValues: a.pcrValues,
    nonce: input.nonce,
  });
  const clockInfo: ClockInfo = {
    clock: Number(quote.clockInfo.clock),
    resetCount: quote.clockInfo.resetCount,
    restartCount: quote.clockInfo.restartCount,
    safe: quote.clockInfo.safe,
  };
  const last = input.node.lastClockInfo;
  if (last) {
    checkClockProgress({ ...last, clock: BigInt(last.clock) }, quote.clockInfo);
  }
  requirePolicySelection(input.policy.pcrSelection, quote.pcrSelection);
  const pcrValues = selectedValues(input.policy.pcrSelection, quote.pcrs);
  judgePcrs(input.policy, pcrValues, input.node.pcrBaseline);
  await judgeEventLog(input.policy, a.eventLog, quote.pcrs);
  return { pcrValues, clockInfo };
}
