import { HASH_ALGS } from '../../../../shared/tpm2/constants.ts';
import { ByteWriter } from '../../../../shared/tpm2/cursor.ts';
import {
  readPcrSelectionList,
  selectedPcrs,
  type TpmsPcrSelection,
  writePcrSelectionList,
} from '../../../../shared/tpm2/structures/pcr-selection.ts';
import { AgentError } from '../errors.ts';
import { TPM_CC } from './constants.ts';
import type { Tpm } from './tpm.ts';

/**
 * TPM2_PCR_Read. One call returns at most 8 digests (TPML_DIGEST), so the selection is read in rounds,
 * removing what each round returned. The pcrUpdateCounter must not move between rounds, or the values
 * would mix two PCR states; then the whole read starts again.
 */

/** bank name → PCR index → value. */
export type PcrBankValues = Record<string, Record<number, Uint8Array>>;

interface PcrReadRound {
  updateCounter: number;
  selection: TpmsPcrSelection[];
  digests: Uint8Array[];
}

function pcrReadOnce(tpm: Tpm, selection: readonly TpmsPcrSelection[]): Promise<PcrReadRound> {
  const w = new ByteWriter();
  writePcrSelectionList(w, selection);
  return tpm.run({
    name: 'PCR_Read',
    code: TPM_CC.PCR_Read,
    params: w.finish(),
    parse: (r) => {
      const updateCounter = r.u32('pcrUpdateCounter');
      const sel = readPcrSelectionList(r);
      const n = r.u32('TPML_DIGEST.count');
      if (n > 8) throw new AgentError('TPM_RESPONSE_MALFORMED', `TPM2_PCR_Read: ${n} digests (at most 8)`);
      const digests: Uint8Array[] = [];
      for (let i = 0; i < n; i++) digests.push(r.tpm2b('digest', 64));
      return { updateCounter, selection: sel, digests };
    },
  });
}

export async function pcrRead(tpm: Tpm, selection: readonly TpmsPcrSelection[]): Promise<PcrBankValues> {
  for (let attempt = 0; attempt < 5; attempt++) {
    const out: PcrBankValues = {};
    let pending = selection.map((s) => ({ hash: s.hash, pcrSelect: s.pcrSelect.slice() }));
    let counter: number | undefined;
    let moved = false;
    while (pending.some((s) => s.pcrSelect.some((b) => b !== 0))) {
      const round = await pcrReadOnce(tpm, pending);
      if (counter !== undefined && round.updateCounter !== counter) {
        moved = true;
        break;
      }
      counter = round.updateCounter;
      let i = 0;
      let got = 0;
      for (const sel of round.selection) {
        const bank = HASH_ALGS[sel.hash];
        const target = pending.find((p) => p.hash === sel.hash);
        for (const pcr of selectedPcrs(sel)) {
          const digest = round.digests[i++];
          if (!bank || !target || digest === undefined || digest.length !== bank.size) {
            throw new AgentError(
              'TPM_RESPONSE_MALFORMED',
              `TPM2_PCR_Read: digest list does not match the selection`,
            );
          }
          const byte = pcr >> 3;
          if (byte >= target.pcrSelect.length || !((target.pcrSelect[byte] ?? 0) & (1 << (pcr & 7)))) {
            throw new AgentError(
              'TPM_RESPONSE_MALFORMED',
              `TPM2_PCR_Read: returned PCR ${pcr} that was not asked for`,
            );
          }
          target.pcrSelect[byte] = (target.pcrSelect[byte] ?? 0) & ~(1 << (pcr & 7));
          const bankValues = out[bank.name] ?? {};
          bankValues[pcr] = digest;
          out[bank.name] = bankValues;
          got++;
        }
      }
      if (i !== round.digests.length) {
        throw new AgentError('TPM_RESPONSE_MALFORMED', 'TPM2_PCR_Read: more digests than selected PCRs');
      }
      if (got === 0) {
        const missing = pending.filter((p) => p.pcrSelect.some((b) => b !== 0));
        throw new AgentError(
          'TPM_COMMAND_FAILED',
          `TPM2_PCR_Read: the TPM returned no values for ${missing
            .map((m) => `${HASH_ALGS[m.hash]?.name ?? m.hash}:${selectedPcrs(m).join(',')}`)
            .join(' ')} (bank not allocated?)`,
        );
      }
      pending = pending.filter((p) => p.pcrSelect.some((b) => b !== 0));
    }
    if (!moved) return out;
  }
  throw new AgentError('TPM_COMMAND_FAILED', 'TPM2_PCR_Read: PCRs kept changing while being read');
}
