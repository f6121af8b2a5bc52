import { canonicalBytes } from './canonical-json.ts';
import { sha256Hex } from './digest.ts';
import { type JsonObject, without } from './json-value.ts';
import { proofMembers } from './signature-members.ts';

export const EVENT_ID_PATTERN = /^evt_[0-9a-f]{24}$/;

/**
 * Which preimage an event id was computed over (PROVARA.md §2.2).
 * - `A`: the event without `event_id` and `sig` — the profile's rule, and what bootstrap writes.
 * - `B`: also without `actor_key_id`, because `cli.cmd_append`, `Vault.append_event`, rotation and redaction
 *   hash before `sign_event` adds the key id. Existing vaults contain both, so both verify; we write A.
 */
export type EventIdVariant = 'A' | 'B';

/** `evt_` + the first 24 hex chars of SHA-256 over the chosen preimage (96 bits). */
export async function computeEventId(event: JsonObject, variant: EventIdVariant = 'A'): Promise<string> {
  const drop = ['event_id', ...proofMembers(event)];
  if (variant === 'B') drop.push('actor_key_id');
  return `evt_${(await sha256Hex(canonicalBytes(without(event, ...drop)))).slice(0, 24)}`;
}

/** Which variant reproduces the stored id, or undefined when neither does. */
export async function matchEventId(event: JsonObject): Promise<EventIdVariant | undefined> {
  const stored = event.get('event_id');
  if (typeof stored !== 'string') return undefined;
  if ((await computeEventId(event, 'A')) === stored) return 'A';
  if (event.has('actor_key_id') && (await computeEventId(event, 'B')) === stored) return 'B';
  return undefined;
}
