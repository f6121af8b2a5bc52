import { fromBase64 } from '../encoding/bytes.ts';
import { ProvaraError } from './errors.ts';
import { type JsonObject, stringField, toJson } from './json-value.ts';
import { newKeyRecord } from './keys-file.ts';
import type { Vault } from './vault.ts';

/**
 * Mirrors a committed KEY_REVOCATION / KEY_PROMOTION into keys.json, as `rekey_backpack.rotate_key` does:
 * the revoked key gets `status: "revoked"`, `revoked_at_utc`, `revocation_event_id`; the new key is added
 * with `promotion_event_id`; a `revocations` entry records the trust boundary. The log stays the authority:
 * our verifier checks keys.json against these events.
 */
export async function applyKeyEffects(vault: Vault, ev: JsonObject): Promise<void> {
  const type = stringField(ev, 'type');
  const payload = ev.get('payload') as JsonObject;
  const eventId = stringField(ev, 'event_id') as string;
  if (type === 'KEY_REVOCATION') {
    const revoked = vault.key(stringField(payload, 'revoked_key_id') ?? '');
    if (!revoked) throw new ProvaraError('ROTATION_REFUSED', 'the revoked key is not in keys.json');
    revoked.entry.set('status', 'revoked');
    revoked.entry.set('revoked_at_utc', payload.get('revoked_at_utc') ?? null);
    revoked.entry.set('revocation_event_id', eventId);
    revoked.status = 'revoked';
    const list = vault.keys.doc.get('revocations');
    const entry = toJson({
      key_id: revoked.keyId,
      revoked_at_utc: payload.get('revoked_at_utc') ?? null,
      reason: payload.get('reason') ?? null,
      trust_boundary_event_id: payload.get('trust_boundary_event_id') ?? null,
      revocation_event_id: eventId,
    });
    if (Array.isArray(list)) list.push(entry);
    else vault.keys.doc.set('revocations', [entry]);
  } else if (type === 'KEY_PROMOTION') {
    const pub = fromBase64(stringField(payload, 'new_public_key_b64') ?? '');
    const algorithm = stringField(payload, 'algorithm');
    if (!pub || (algorithm !== 'Ed25519' && algorithm !== 'ES256'))
      throw new ProvaraError('ROTATION_REFUSED', 'the promotion carries no usable key');
    const roles = payload.get('roles');
    const extras = payload.get('key_extras');
    const rec = newKeyRecord({
      keyId: stringField(payload, 'new_key_id') as string,
      algorithm,
      publicKey: pub,
      roles: Array.isArray(roles) ? roles.filter((r): r is string => typeof r === 'string') : [],
      createdAt: stringField(payload, 'promoted_at_utc') ?? '',
      ...(extras instanceof Map ? { extras } : {}),
    });
    rec.entry.set('promotion_event_id', eventId);
    vault.keys.keys.push(rec);
  }
}
