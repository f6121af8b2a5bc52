import { canonicalBytes } from './canonical-json.ts';
import { type JsonObject, toJson, without } from './json-value.ts';

export const MULTISIG_MEMBER = 'multisig';
const DOMAIN = 'noderr.provara.multisig.v1';

/**
 * The envelope: a critical event carries `multisig: {policy_event_id, cosignatures:[{key_id, sig,
 * [sig_format, webauthn]}]}` and is committed with an ordinary Profile A `sig` by one of the policy's
 * signers, over everything including `multisig` — so any Profile A verifier still sees one valid standard
 * signature, while ours also counts the cosignatures.
 *
 * Each cosignature signs a *statement*, not the event: canonical bytes of {domain, vault_uid,
 * policy_event_id, proposal}, where the proposal is the event without what only exists at commit time
 * (`event_id`, `actor_key_id`, `sig`, `sig_format`, `webauthn`, `multisig`). The domain string keeps a
 * cosignature from doubling as an event signature, the vault uid and the proposal's `prev_event_hash`
 * keep it from being replayed in another vault or at another place in the chain.
 */
export function proposalBody(event: JsonObject): JsonObject {
  return without(event, 'event_id', 'actor_key_id', 'sig', 'sig_format', 'webauthn', MULTISIG_MEMBER);
}

export function multisigStatement(vaultUid: string, policyEventId: string, proposal: JsonObject): Uint8Array {
  return canonicalBytes(
    toJson({ domain: DOMAIN, vault_uid: vaultUid, policy_event_id: policyEventId, proposal }),
  );
}
