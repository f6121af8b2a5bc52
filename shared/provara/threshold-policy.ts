import { type JsonObject, stringField } from './json-value.ts';
import { KEY_ID_PATTERN } from './key-id.ts';

/**
 * A t-of-n threshold policy, recorded in the log as a `com.noderr.provara.threshold_policy` event so that
 * it is signed, ordered and cannot be swapped like a file: payload `{policy_id, threshold, signers}`.
 * The first policy is set by a single authorized key; every later one is itself a critical operation and
 * needs `t` signatures of the policy in force.
 *
 * Why list-style multisig and not FROST: each holder signs on their own token (PKCS#11 or FIDO2) with no
 * interactive rounds and no dealer; Provara's `threshold.py` rebuilds the whole secret (PROVARA.md §5.3).
 */
export interface ThresholdPolicy {
  policyEventId: string;
  policyId: string;
  threshold: number;
  signers: string[];
}

export function parseThresholdPolicy(eventId: string, payload: JsonObject): ThresholdPolicy | string {
  const policyId = stringField(payload, 'policy_id');
  const t = payload.get('threshold');
  const signers = payload.get('signers');
  if (!policyId) return 'policy_id is missing';
  if (typeof t !== 'bigint' || t < 1n) return 'threshold must be an integer ≥ 1';
  if (!Array.isArray(signers) || !signers.every((s) => typeof s === 'string' && KEY_ID_PATTERN.test(s))) {
    return 'signers must be a list of bp1_ key ids';
  }
  const list = signers as string[];
  if (new Set(list).size !== list.length) return 'signers contains a key twice';
  if (t > BigInt(list.length)) return `threshold ${t} exceeds the ${list.length} signers`;
  return { policyEventId: eventId, policyId, threshold: Number(t), signers: list };
}
