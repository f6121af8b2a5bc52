import { canonicalBytes, canonicalize, compareCodePoints } from './canonical-json.ts';
import { sha256Hex } from './digest.ts';
import { ProvaraError } from './errors.ts';
import { type JsonObject, type JsonValue, PyFloat, toJson } from './json-value.ts';
import { pyEquals, pyFloatOf, pyOr, pyStr, pyTruthy } from './python-semantics.ts';

export const REDUCER_NAME = 'SovereignReducerV0';
export const REDUCER_VERSION = '0.2.0';
const THRESHOLD = 0.5;
const DEFAULT_OBSERVATION_CONFIDENCE = 0.5;
const DEFAULT_ASSERTION_CONFIDENCE = 0.35;
const NAMESPACES = new Set(['canonical', 'local', 'contested', 'archived']);

interface Evidence {
  event_id: JsonValue;
  actor: string;
  namespace: string;
  timestamp_utc: string | null;
  value: JsonValue;
  confidence: number;
}

/**
 * Provara's `SovereignReducerV0` v0.2.0 (`reducer_v0.py`), ported with Python semantics because its state
 * hash is compared across implementations (PROVARA.md §4.3): belief keys are `str(subject):str(predicate)`,
 * skips use Python truthiness, equality is Python `==`, confidences are `float()`-coerced floats. It does no
 * signature checks; that is the verifier's job.
 *
 * @example const r = new Reducer(); for (const e of events) r.apply(e); await r.stateHash();
 */
export class Reducer {
  private readonly canonical: JsonObject = new Map();
  private readonly local: JsonObject = new Map();
  private readonly contested: JsonObject = new Map();
  private readonly archived: JsonObject = new Map();
  private readonly evidence = new Map<string, Evidence[]>();
  private lastEventId: JsonValue = null;
  private eventCount = 0n;
  private currentEpoch: JsonValue = null;

  apply(event: JsonValue): void {
    if (!(event instanceof Map)) return; // not a dict: skipped and not counted
    const type = event.get('type');
    const eventId = pyOr(event.get('event_id'), event.get('id'), 'unknown_event') as JsonValue;
    const actor = pyStr(pyOr(event.get('actor'), 'unknown') as JsonValue);
    const ns = pyStr(pyOr(event.get('namespace'), 'local') as JsonValue)
      .replace(/^[\s]+|[\s]+$/g, '')
      .toLowerCase();
    const namespace = NAMESPACES.has(ns) ? ns : 'local';
    const payloadValue = pyOr(event.get('payload'), new Map()) as JsonValue;
    const handled =
      type === 'OBSERVATION' ||
      type === 'ASSERTION' ||
      type === 'ATTESTATION' ||
      type === 'RETRACTION' ||
      type === 'REDUCER_EPOCH';
    if (handled && !(payloadValue instanceof Map)) {
      // Python calls payload.get() and raises AttributeError: the reference cannot replay this log.
      throw new ProvaraError(
        'REDUCER_INPUT_INVALID',
        `event ${pyStr(eventId)} has a payload that is not an object`,
      );
    }
    const payload = payloadValue as JsonObject;
    if (type === 'OBSERVATION')
      this.observation(eventId, actor, namespace, payload, DEFAULT_OBSERVATION_CONFIDENCE);
    else if (type === 'ASSERTION')
      this.observation(eventId, actor, namespace, payload, DEFAULT_ASSERTION_CONFIDENCE);
    else if (type === 'ATTESTATION') this.attestation(eventId, actor, payload);
    else if (type === 'RETRACTION') this.retraction(eventId, payload);
    else if (type === 'REDUCER_EPOCH') {
      this.currentEpoch = toJson({
        epoch_id: payload.get('epoch_id') ?? null,
        reducer_hash: payload.get('reducer_hash') ?? null,
        effective_from_event_id: (pyOr(payload.get('effective_from_event_id'), eventId) as JsonValue) ?? null,
        ontology_versions: payload.get('ontology_versions') ?? null,
      });
    }
    this.lastEventId = eventId;
    this.eventCount += 1n;
  }

  private beliefKey(payload: JsonObject): string | undefined {
    const subject = payload.get('subject');
    const predicate = payload.get('predicate');
    if (!pyTruthy(subject) || !pyTruthy(predicate)) return undefined;
    return `${pyStr(subject as JsonValue)}:${pyStr(predicate as JsonValue)}`;
  }

  private observation(
    eventId: JsonValue,
    actor: string,
    namespace: string,
    payload: JsonObject,
    defaultConf: number,
  ) {
    const key = this.beliefKey(payload);
    if (key === undefined) return;
    const value = payload.get('value') ?? null;
    const confidence = safeFloat(payload.get('confidence'), defaultConf);
    const ts = pyOr(payload.get('timestamp'), payload.get('timestamp_utc'));
    const tsText = ts === undefined || ts === null ? null : pyStr(ts);
    const list = this.evidence.get(key) ?? [];
    this.evidence.set(key, list);
    list.push({ event_id: eventId, actor, namespace, timestamp_utc: tsText, value, confidence });

    const canon = this.canonical.get(key) as JsonObject | undefined;
    const local = this.local.get(key) as JsonObject | undefined;
    if (canon && canon.size > 0 && !pyEquals(canon.get('value') ?? null, value) && confidence >= THRESHOLD) {
      this.markContested(key, 'conflicts_with_canonical');
      return;
    }
    if (local && local.size > 0 && !pyEquals(local.get('value') ?? null, value)) {
      const prev = safeFloat(local.get('confidence'), 0);
      if (Math.max(prev, confidence) >= THRESHOLD) {
        this.markContested(key, 'conflicts_with_local');
        return;
      }
    }
    if (local && local.size > 0 && pyEquals(local.get('value') ?? null, value)) {
      if (confidence <= safeFloat(local.get('confidence'), 0)) return;
    }
    this.local.set(
      key,
      toJson({
        value,
        confidence: new PyFloat(confidence),
        provenance: eventId,
        actor,
        timestamp: tsText,
        evidence_count: list.length,
      }),
    );
  }

  private archive(key: string, eventId: JsonValue, retracted: boolean): JsonObject | undefined {
    const existing = this.canonical.get(key) as JsonObject | undefined;
    if (existing === undefined) return undefined;
    const list = (this.archived.get(key) as JsonValue[] | undefined) ?? [];
    this.archived.set(key, list);
    const copy: JsonObject = structuredCloneJson(existing) as JsonObject;
    copy.set('superseded_by', eventId);
    if (retracted) copy.set('retracted', true);
    list.push(copy);
    return existing;
  }

  private attestation(eventId: JsonValue, actor: string, payload: JsonObject) {
    const key = this.beliefKey(payload);
    if (key === undefined) return;
    this.archive(key, eventId, false);
    this.canonical.set(
      key,
      toJson({
        value: payload.get('value') ?? null,
        attested_by: (pyOr(payload.get('actor_key_id'), actor) as JsonValue) ?? null,
        provenance: (pyOr(payload.get('target_event_id'), eventId) as JsonValue) ?? null,
        attestation_event_id: eventId,
      }),
    );
    this.local.delete(key);
    this.contested.delete(key);
  }

  private retraction(eventId: JsonValue, payload: JsonObject) {
    const key = this.beliefKey(payload);
    if (key === undefined) return;
    if (this.archive(key, eventId, true) !== undefined) this.canonical.delete(key);
    this.local.delete(key);
    this.contested.delete(key);
  }

  private markContested(key: string, reason: string) {
    const all = this.evidence.get(key) ?? [];
    const byValue = new Map<string, JsonValue[]>();
    for (const ev of all) {
      const k = canonicalize(ev.value);
      const l = byValue.get(k) ?? [];
      byValue.set(k, l);
      l.push(evidenceJson(ev));
    }
    const sorted: JsonObject = new Map([...byValue].sort(([a], [b]) => compareCodePoints(a, b)));
    const canon = this.canonical.get(key) as JsonObject | undefined;
    this.contested.set(
      key,
      toJson({
        status: 'AWAITING_RESOLUTION',
        reason,
        canonical_value: canon?.get('value') ?? null,
        evidence_by_value: sorted,
        total_evidence_count: all.length,
      }),
    );
    this.local.delete(key);
  }

  /** `export_state()` minus `metadata.state_hash`. */
  exportState(stateHash: string | null = null): JsonObject {
    return toJson({
      canonical: this.canonical,
      local: this.local,
      contested: this.contested,
      archived: this.archived,
      metadata: {
        last_event_id: this.lastEventId,
        event_count: this.eventCount,
        state_hash: stateHash,
        current_epoch: this.currentEpoch,
        reducer: this.reducerInfo(),
      },
    }) as JsonObject;
  }

  private reducerInfo(): JsonInputObject {
    return {
      name: REDUCER_NAME,
      version: REDUCER_VERSION,
      conflict_confidence_threshold: new PyFloat(THRESHOLD),
    };
  }

  /**
   * SHA-256 over canonical({canonical, local, contested, archived, metadata_partial}). The profile says
   * "state without metadata"; the code hashes `metadata_partial`, and the code is what vaults agree on.
   */
  async stateHash(): Promise<string> {
    const hashable = toJson({
      canonical: this.canonical,
      local: this.local,
      contested: this.contested,
      archived: this.archived,
      metadata_partial: {
        last_event_id: this.lastEventId,
        event_count: this.eventCount,
        current_epoch: this.currentEpoch,
        reducer: this.reducerInfo(),
      },
    });
    try {
      return await sha256Hex(canonicalBytes(hashable));
    } catch (e) {
      if (e instanceof ProvaraError) {
        // e.g. confidence "inf": Python's json.dumps(allow_nan=False) crashes here too.
        throw new ProvaraError('REDUCER_INPUT_INVALID', `the state cannot be hashed: ${e.message}`);
      }
      throw e;
    }
  }
}

type JsonInputObject = { [k: string]: JsonValue };

function safeFloat(v: JsonValue | undefined, fallback: number): number {
  if (v === undefined || v === null) return fallback;
  let f: number | undefined;
  try {
    f = pyFloatOf(v);
  } catch {
    throw new ProvaraError(
      'REDUCER_INPUT_INVALID',
      'a confidence is an integer too large for a float (Python raises OverflowError)',
    );
  }
  return f === undefined || Number.isNaN(f) ? fallback : f;
}

function evidenceJson(ev: Evidence): JsonObject {
  return toJson({
    event_id: ev.event_id,
    actor: ev.actor,
    namespace: ev.namespace,
    timestamp_utc: ev.timestamp_utc,
    value: ev.value,
    confidence: new PyFloat(ev.confidence),
  }) as JsonObject;
}

function structuredCloneJson(v: JsonValue): JsonValue {
  if (Array.isArray(v)) return v.map(structuredCloneJson);
  if (v instanceof Map) return new Map([...v].map(([k, x]) => [k, structuredCloneJson(x)]));
  return v;
}

/** State hash of an event sequence (the values are parsed events, in log order). */
export async function replayStateHash(events: Iterable<JsonValue>): Promise<string> {
  const r = new Reducer();
  for (const e of events) r.apply(e);
  return r.stateHash();
}
