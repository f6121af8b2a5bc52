import { toBase64 } from '../encoding/bytes.ts';
import { ProvaraError } from './errors.ts';
import type { JsonObject } from './json-value.ts';
import { applyKeyEffects } from './key-effects.ts';
import type { Signer } from './signature-proof.ts';
import { pythonUtcNow } from './timestamp.ts';
import type { EventDraft, Vault } from './vault.ts';

export const ROTATION_ACTOR = 'key_rotation_authority';

export interface NewKey {
  keyId: string;
  publicKey: Uint8Array;
  algorithm: 'Ed25519' | 'ES256';
  roles?: string[];
  extras?: JsonObject;
}

/**
 * The two events of a rotation (PROVARA.md §4.4): KEY_REVOCATION then KEY_PROMOTION, actor
 * `key_rotation_authority`, namespace canonical.
 *
 * `trust_boundary_event_id` is the last event the revoked key is still trusted for. Provara stores it but
 * its reference verifier rejects *every* event of a revoked key, so a rotation after a lost laptop
 * erases years of valid history; ours keeps events up to the boundary valid and rejects the key's events
 * after it. Pick an earlier boundary when the key was compromised at a known point; the default is the
 * current end of the log (a planned rotation).
 */
export function rotationDrafts(
  vault: Vault,
  input: { revokedKeyId: string; newKey: NewKey; reason?: string; trustBoundaryEventId?: string },
): EventDraft[] {
  const now = pythonUtcNow();
  const boundary = input.trustBoundaryEventId ?? vault.lastEventId;
  if (!boundary || !vault.eventIds.has(boundary))
    throw new ProvaraError('ROTATION_REFUSED', `trust boundary ${boundary} is not an event of this vault`);
  if (!vault.key(input.revokedKeyId))
    throw new ProvaraError('ROTATION_REFUSED', `key ${input.revokedKeyId} is not in keys.json`);
  if (vault.key(input.newKey.keyId))
    throw new ProvaraError('ROTATION_REFUSED', `key ${input.newKey.keyId} is already in keys.json`);
  return [
    {
      type: 'KEY_REVOCATION',
      actor: ROTATION_ACTOR,
      payload: {
        revoked_key_id: input.revokedKeyId,
        reason: input.reason ?? 'rotation',
        trust_boundary_event_id: boundary,
        revoked_at_utc: now,
      },
    },
    {
      type: 'KEY_PROMOTION',
      actor: ROTATION_ACTOR,
      payload: {
        new_key_id: input.newKey.keyId,
        new_public_key_b64: toBase64(input.newKey.publicKey),
        algorithm: input.newKey.algorithm,
        roles: input.newKey.roles ?? ['root', 'attestation'],
        promoted_by: '',
        replaces_key_id: input.revokedKeyId,
        promoted_at_utc: now,
        ...(input.newKey.extras ? { key_extras: input.newKey.extras } : {}),
      },
    },
  ];
}

/**
 * Rotates with a single surviving key (no threshold policy in force). With a policy, the two events are
 * critical operations: use propose/cosign/commit (multisig.ts) with `rotationDrafts`.
 */
export async function rotateKey(
  vault: Vault,
  input: { revokedKeyId: string; newKey: NewKey; reason?: string; trustBoundaryEventId?: string },
  authority: Signer,
): Promise<JsonObject[]> {
  if (vault.thresholdPolicyEventId)
    throw new ProvaraError(
      'ROTATION_REFUSED',
      'a threshold policy is in force: propose the rotation and collect cosignatures',
    );
  if (authority.keyId === input.revokedKeyId)
    throw new ProvaraError('ROTATION_REFUSED', 'the surviving key must sign, not the key being revoked');
  const auth = vault.key(authority.keyId);
  if (auth?.status !== 'active')
    throw new ProvaraError('ROTATION_REFUSED', `signer ${authority.keyId} is not an active key`);
  const drafts = rotationDrafts(vault, input);
  const promo = drafts[1]?.payload as Record<string, unknown>;
  promo.promoted_by = authority.keyId;
  const out: JsonObject[] = [];
  for (const d of drafts) {
    const ev = await vault.append(d, authority);
    await applyKeyEffects(vault, ev);
    out.push(ev);
  }
  await vault.saveKeys();
  return out;
}

/** Promotes an additional key (a second or third hardware holder) without revoking one. */
export async function addKey(vault: Vault, newKey: NewKey, authority: Signer): Promise<JsonObject> {
  if (vault.thresholdPolicyEventId)
    throw new ProvaraError('ROTATION_REFUSED', 'a threshold policy is in force: propose the promotion');
  if (vault.key(newKey.keyId))
    throw new ProvaraError('ROTATION_REFUSED', `key ${newKey.keyId} is already in keys.json`);
  const ev = await vault.append(promotionDraft(newKey, authority.keyId, null), authority);
  await applyKeyEffects(vault, ev);
  await vault.saveKeys();
  return ev;
}

export function promotionDraft(newKey: NewKey, promotedBy: string, replaces: string | null): EventDraft {
  return {
    type: 'KEY_PROMOTION',
    actor: ROTATION_ACTOR,
    payload: {
      new_key_id: newKey.keyId,
      new_public_key_b64: toBase64(newKey.publicKey),
      algorithm: newKey.algorithm,
      roles: newKey.roles ?? ['attestation'],
      promoted_by: promotedBy,
      replaces_key_id: replaces,
      promoted_at_utc: pythonUtcNow(),
      ...(newKey.extras ? { key_extras: newKey.extras } : {}),
    },
  };
}
