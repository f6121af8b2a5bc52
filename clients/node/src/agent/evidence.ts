import { toHex } from '../../../../shared/encoding/bytes.ts';
import { HASH_ALGS } from '../../../../shared/tpm2/constants.ts';
import { parseAttest } from '../../../../shared/tpm2/structures/attest.ts';
import { pcrSelectionFromBanks, selectedPcrs } from '../../../../shared/tpm2/structures/pcr-selection.ts';
import { AgentError } from '../errors.ts';
import { quote, type SignedAttestation } from '../tpm/attestation.ts';
import { pcrRead } from '../tpm/pcr.ts';
import type { Tpm } from '../tpm/tpm.ts';

/**
 * A quote together with the PCR values it covers, as the API takes them. The values are read after the
 * quote, so a PCR extended in between would make the server reject the pair (PCR_DIGEST_MISMATCH): the agent
 * recomputes the digest itself and quotes again when it does not match.
 */
export interface QuoteEvidence extends SignedAttestation {
  pcrValues: Record<string, Record<string, string>>;
}

async function digestOf(values: Uint8Array[]): Promise<string> {
  const all = new Uint8Array(values.reduce((n, v) => n + v.length, 0));
  let o = 0;
  for (const v of values) {
    all.set(v, o);
    o += v.length;
  }
  return toHex(new Uint8Array(await crypto.subtle.digest('SHA-256', all)));
}

export async function quoteWithPcrs(
  tpm: Tpm,
  akHandle: number,
  nonce: Uint8Array,
  banks: Readonly<Record<string, readonly number[]>>,
): Promise<QuoteEvidence> {
  const selection = pcrSelectionFromBanks(banks);
  for (let attempt = 0; attempt < 3; attempt++) {
    const q = await quote(tpm, akHandle, nonce, selection);
    const values = await pcrRead(tpm, selection);
    const ordered: Uint8Array[] = [];
    const pcrValues: Record<string, Record<string, string>> = {};
    for (const sel of selection) {
      const bank = HASH_ALGS[sel.hash]!.name;
      for (const i of selectedPcrs(sel)) {
        const v = values[bank]?.[i];
        if (!v) throw new AgentError('TPM_RESPONSE_MALFORMED', `PCR ${bank}:${i} missing from TPM2_PCR_Read`);
        ordered.push(v);
        const bankValues = pcrValues[bank] ?? {};
        bankValues[String(i)] = toHex(v);
        pcrValues[bank] = bankValues;
      }
    }
    const attest = parseAttest(q.attest);
    if (attest.attested.type !== 0x8018)
      throw new AgentError('TPM_RESPONSE_MALFORMED', 'TPM2_Quote did not return a quote');
    // The AK signs with SHA-256 (its template's scheme), which is also the pcrDigest hash.
    if ((await digestOf(ordered)) === toHex(attest.attested.pcrDigest)) return { ...q, pcrValues };
  }
  throw new AgentError(
    'TPM_COMMAND_FAILED',
    'PCRs changed between TPM2_Quote and TPM2_PCR_Read three times in a row',
  );
}
