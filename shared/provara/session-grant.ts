import { fromBase64 } from '../encoding/bytes.ts';
import { type JsonObject, stringField } from './json-value.ts';
import { KEY_ID_PATTERN } from './key-id.ts';
import { parseUtc } from './timestamp.ts';

/**
 * Session signing: one hardware signature (a touch) on a `com.noderr.provara.session_grant` event
 * promotes a short-lived software key, which then signs a batch. A hardware signature costs 200–500 ms
 * (Provara's hardware spec); 10,000 events one touch each is not usable.
 *
 * The session key goes into keys.json as an ordinary active Ed25519 key (role `session`) so a Profile A
 * verifier accepts its events; ours additionally enforces the grant: events of a session key must come
 * after the grant in the log, lie within `[not_before_utc, expires_at_utc)`, have a type and actor in
 * `scope`, and number at most `max_events`. Timestamps are written by the signer, so expiry alone cannot
 * stop a thief who back-dates; `max_events` and the key never leaving process memory are what bound it.
 */
export interface SessionGrant {
  grantEventId: string;
  grantIndex: number;
  sessionKeyId: string;
  sessionPublicKey: Uint8Array;
  notBefore: number;
  expiresAt: number;
  types: Set<string>;
  actors: Set<string>;
  maxEvents: number;
}

export function parseSessionGrant(
  eventId: string,
  index: number,
  payload: JsonObject,
): SessionGrant | string {
  const sessionKeyId = stringField(payload, 'session_key_id');
  const pub = fromBase64(stringField(payload, 'session_public_key_b64') ?? '');
  const notBefore = parseUtc(stringField(payload, 'not_before_utc') ?? '');
  const expiresAt = parseUtc(stringField(payload, 'expires_at_utc') ?? '');
  const scope = payload.get('scope');
  const max = payload.get('max_events');
  if (!sessionKeyId || !KEY_ID_PATTERN.test(sessionKeyId)) return 'session_key_id is not a bp1_ key id';
  if (pub?.length !== 32) return 'session_public_key_b64 is not a 32-byte Ed25519 key';
  if (Number.isNaN(notBefore) || Number.isNaN(expiresAt) || expiresAt <= notBefore)
    return 'the validity window is malformed';
  if (!(scope instanceof Map)) return 'scope is missing';
  const types = scope.get('types');
  const actors = scope.get('actors');
  const strings = (v: unknown): v is string[] =>
    Array.isArray(v) && v.length > 0 && v.every((x) => typeof x === 'string');
  if (!strings(types) || !strings(actors))
    return 'scope.types and scope.actors must be non-empty string lists';
  if (typeof max !== 'bigint' || max < 1n) return 'max_events must be a positive integer';
  return {
    grantEventId: eventId,
    grantIndex: index,
    sessionKeyId,
    sessionPublicKey: pub,
    notBefore,
    expiresAt,
    types: new Set(types),
    actors: new Set(actors),
    maxEvents: Number(max),
  };
}
