import { TpmError } from '../../../shared/tpm2/errors.ts';
import type { AttestationPolicy, PcrSelection, PcrValues } from '../storage/types.ts';

/**
 * Judging quoted PCR values against a tier's policy (design/API.md, admin `PUT /policies/{tier}`):
 * - `baseline`: the values seen at registration must not change;
 * - `allowlist`: each selected PCR must be one of the listed values;
 * - `none`: values are recorded, not judged.
 * Only values the quote covered are passed in, so the caller has already proven them.
 */

/** The quote must cover every PCR the policy selects; extra PCRs are harmless. */
export function requirePolicySelection(policy: PcrSelection, quoted: Record<string, number[]>): void {
  for (const [bank, indices] of Object.entries(policy)) {
    const have = new Set(quoted[bank] ?? []);
    const missing = (indices ?? []).filter((i) => !have.has(i));
    if (missing.length > 0) {
      throw new TpmError(
        'PCR_SELECTION_MISMATCH',
        `the quote does not cover ${bank} PCR ${missing.join(', ')} required by this tier's policy; quote the selection install/config returned`,
      );
    }
  }
}

/** The policy-selected PCR values out of a verified quote, as hex (the form stored as baseline). */
export function selectedValues(
  policy: PcrSelection,
  verified: Record<string, Record<string, Uint8Array>>,
): PcrValues {
  const out: PcrValues = {};
  for (const [bank, indices] of Object.entries(policy) as [keyof PcrValues, number[]][]) {
    const values: Record<string, string> = {};
    for (const i of indices) {
      const v = verified[bank]?.[String(i)];
      if (v) values[String(i)] = Array.from(v, (b) => b.toString(16).padStart(2, '0')).join('');
    }
    out[bank] = values;
  }
  return out;
}

export function judgePcrs(
  policy: Pick<AttestationPolicy, 'pcrMode' | 'pcrSelection' | 'allowedPcrValues'>,
  values: PcrValues,
  baseline: PcrValues | null,
): void {
  if (policy.pcrMode === 'none') return;
  for (const [bank, indices] of Object.entries(policy.pcrSelection) as [keyof PcrValues, number[]][]) {
    for (const i of indices) {
      const key = String(i);
      const value = values[bank]?.[key];
      if (policy.pcrMode === 'allowlist') {
        const allowed = policy.allowedPcrValues[bank]?.[key] ?? [];
        if (!value || !allowed.includes(value)) {
          throw new TpmError(
            'PCR_POLICY_VIOLATION',
            `${bank} PCR ${key} is not one of the values this tier allows`,
          );
        }
      } else if (baseline) {
        if (baseline[bank]?.[key] !== value) {
          throw new TpmError('PCR_POLICY_VIOLATION', `${bank} PCR ${key} changed since registration`);
        }
      }
    }
  }
}
