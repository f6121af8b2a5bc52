import { canonicalize } from './canonical-json.ts';
import { sha256Hex } from './digest.ts';
import { ProvaraError } from './errors.ts';
import { EVENT_ID_PATTERN, type EventIdVariant, matchEventId } from './event-id.ts';
import { EVENTS_PATH, readEventLog } from './event-log.ts';
import {
  CRITICAL_TYPES,
  isValidEventType,
  REDACTION_TYPE,
  SESSION_GRANT_TYPE,
  THRESHOLD_POLICY_TYPE,
} from './extension-types.ts';
import { parseJsonBytes } from './json-parse.ts';
import { type JsonObject, objectField, stringField } from './json-value.ts';
import { KEY_ID_PATTERN, keyIdFromPublicKey } from './key-id.ts';
import { type KeyRecord, parseKeysFile } from './keys-file.ts';
import { MANIFEST_EXCLUDED, parseManifest } from './manifest.ts';
import { merkleRoot } from './merkle.ts';
import { MULTISIG_MEMBER, multisigStatement, proposalBody } from './multisig-statement.ts';
import { Reducer } from './reducer.ts';
import { parseSessionGrant, type SessionGrant } from './session-grant.ts';
import { readProof } from './signature-members.ts';
import { type ProofResult, verifyObjectProof, verifyProof } from './signed-object.ts';
import { parseThresholdPolicy, type ThresholdPolicy } from './threshold-policy.ts';
import { parseUtc } from './timestamp.ts';
import type { VaultFiles } from './vault-files.ts';
import { GENESIS_PATH, KEYS_PATH, REQUIRED_DIRS, REQUIRED_FILES } from './vault-layout.ts';
import { type Finding, finding, type VerifyReason, type VerifyReport } from './verify-report.ts';

export interface VerifyOptions {
  /**
   * The root key id enrolled out of band (`keys export` → registry). Without it a verifier can only say the
   * vault is self-consistent: whoever rewrites every file with their own key makes a consistent vault.
   */
  expectedRootKeyId?: string;
}

interface LoggedEvent {
  index: number;
  line: number;
  obj: JsonObject;
  eventId: string;
  type: string;
  actor: string;
  keyId: string | undefined;
  prev: string | null | undefined;
  redacted: boolean;
}

const REQUIRED_EVENT_FIELDS = [
  'type',
  'actor',
  'event_id',
  'prev_event_hash',
  'timestamp_utc',
  'payload',
] as const;
const CHUNK = 256;

/**
 * Verifies a vault and reports every failed check with its reason (never stops at the first).
 *
 * Profile A checks: structure, keys.json ids against their public keys, each event's id (variant A, or B with
 * a warning), its Ed25519 signature under the keys.json key, the per-actor causal chain in file order,
 * manifest hashes and sizes, the Merkle root, manifest.sig, and the reducer's state hash.
 * Where this verifier is stricter than Provara's: a key must be authorized by the log (the genesis root, a
 * KEY_PROMOTION or a session grant) before its events count — keys.json alone is not trusted (PROVARA.md §7
 * item 3); a revoked key's events stay valid up to the revocation's `trust_boundary_event_id` and not after
 * (Provara's reference rejects all of them, §7 item 2); threshold, session and FIDO2 rules apply.
 *
 * @example const report = await verifyVault(files); if (!report.ok) console.log(report.errors);
 */
export async function verifyVault(files: VaultFiles, options: VerifyOptions = {}): Promise<VerifyReport> {
  const errors: Finding[] = [];
  const warnings: Finding[] = [];
  const fail = (code: VerifyReason, message: string, at: Parameters<typeof finding>[2] = {}) =>
    errors.push(finding(code, message, at));
  const report: VerifyReport = {
    ok: false,
    errors,
    warnings,
    eventCount: 0,
    eventIdVariants: { A: 0, B: 0 },
    signatures: { ed25519: 0, webauthn: 0, session: 0, multisig: 0 },
    stateHash: undefined,
    merkleRoot: undefined,
    rootKeyId: undefined,
  };

  // ── structure ──
  for (const dir of REQUIRED_DIRS) {
    if (!(await files.isDirectory(dir)))
      fail('VAULT_STRUCTURE_INVALID', `directory ${dir}/ is missing`, { path: dir });
  }
  for (const path of REQUIRED_FILES) {
    if ((await files.read(path)) === undefined)
      fail('VAULT_STRUCTURE_INVALID', `file ${path} is missing`, { path });
  }

  // ── keys.json ──
  const keyById = new Map<string, KeyRecord>();
  const keysBytes = await files.read(KEYS_PATH);
  if (keysBytes) {
    try {
      for (const k of parseKeysFile(keysBytes).keys) {
        if (!KEY_ID_PATTERN.test(k.keyId))
          fail('KEY_ID_FORMAT', `key id ${k.keyId} is not bp1_ + 16 hex`, { keyId: k.keyId });
        if (keyById.has(k.keyId))
          fail('DUPLICATE_KEY_ID', `key ${k.keyId} is listed twice`, { keyId: k.keyId });
        if (!k.publicKey)
          fail('KEY_ID_MISMATCH', `key ${k.keyId} has no readable public_key_b64`, { keyId: k.keyId });
        else {
          const derived = await keyIdFromPublicKey(k.publicKey).catch(() => undefined);
          if (derived !== k.keyId) {
            // A swapped public key (or a swapped id) shows here: the id is a hash of the key.
            fail(
              'KEY_ID_MISMATCH',
              `key ${k.keyId}: its public key hashes to ${derived ?? 'nothing valid'}`,
              { keyId: k.keyId },
            );
          }
        }
        keyById.set(k.keyId, k);
      }
    } catch (e) {
      fail('VAULT_FILE_INVALID', `keys.json: ${(e as Error).message}`, { path: KEYS_PATH });
    }
  }

  // ── genesis.json ──
  let genesisDoc: JsonObject | undefined;
  const genesisBytes = await files.read(GENESIS_PATH);
  if (genesisBytes) {
    try {
      const g = parseJsonBytes(genesisBytes);
      if (g instanceof Map) genesisDoc = g;
      else throw new ProvaraError('VAULT_FILE_INVALID', 'not an object');
    } catch (e) {
      fail('VAULT_FILE_INVALID', `genesis.json: ${(e as Error).message}`, { path: GENESIS_PATH });
    }
  }
  const rootKeyId = genesisDoc ? stringField(genesisDoc, 'root_key_id') : undefined;
  report.rootKeyId = rootKeyId;
  if (rootKeyId && !keyById.has(rootKeyId))
    fail('GENESIS_ROOT_KEY_UNKNOWN', `root key ${rootKeyId} is not in keys.json`, { keyId: rootKeyId });
  if (options.expectedRootKeyId && options.expectedRootKeyId !== rootKeyId) {
    fail(
      'ROOT_KEY_NOT_PINNED',
      `root key is ${rootKeyId ?? 'missing'}, expected ${options.expectedRootKeyId}`,
    );
  }

  // ── events: parse and shape ──
  const events: LoggedEvent[] = [];
  const byId = new Map<string, LoggedEvent>();
  const redactionTargets = new Set<string>();
  const logBytes = await files.read(EVENTS_PATH);
  for (const l of logBytes ? readEventLog(logBytes) : []) {
    if (l.error || !(l.value instanceof Map)) {
      fail(
        'MALFORMED_EVENT_LINE',
        `line ${l.line}: ${l.error ? `${l.error.code}: ${l.error.message}` : 'not a JSON object'}`,
        { line: l.line },
      );
      continue;
    }
    const obj = l.value;
    const missing = REQUIRED_EVENT_FIELDS.filter((f) => !obj.has(f));
    if (missing.length)
      fail('REQUIRED_FIELD_MISSING', `line ${l.line}: missing ${missing.join(', ')}`, { line: l.line });
    const eventId = stringField(obj, 'event_id') ?? '';
    const type = stringField(obj, 'type') ?? '';
    const prevRaw = obj.get('prev_event_hash');
    const ev: LoggedEvent = {
      index: events.length,
      line: l.line,
      obj,
      eventId,
      type,
      actor: stringField(obj, 'actor') ?? '',
      keyId: stringField(obj, 'actor_key_id'),
      prev: prevRaw === null ? null : typeof prevRaw === 'string' ? prevRaw : undefined,
      redacted: false,
    };
    if (!EVENT_ID_PATTERN.test(eventId))
      fail('EVENT_ID_FORMAT', `line ${l.line}: event_id ${JSON.stringify(eventId)} is not evt_ + 24 hex`, {
        line: l.line,
      });
    if (type && !isValidEventType(type))
      fail('INVALID_EVENT_TYPE', `line ${l.line}: type ${type} is neither core nor reverse-domain`, {
        line: l.line,
        eventId,
      });
    if (byId.has(eventId))
      fail('DUPLICATE_EVENT_ID', `line ${l.line}: ${eventId} already appeared`, { line: l.line, eventId });
    else byId.set(eventId, ev);
    if (type === REDACTION_TYPE) {
      const target = stringField(objectField(obj, 'payload') ?? new Map(), 'target_event_id');
      if (target) redactionTargets.add(target);
    }
    events.push(ev);
  }
  report.eventCount = events.length;
  for (const ev of events) {
    // Provara's redaction rewrites the target in place and exempts it from signature checks; a compatible
    // verifier must accept that, but only says so as a warning (PROVARA.md §2.5).
    ev.redacted =
      redactionTargets.has(ev.eventId) && objectField(ev.obj, 'payload')?.get('redacted') === true;
  }

  // ── event ids and signatures, in parallel chunks (WebCrypto runs them off the main thread) ──
  const variants: (EventIdVariant | undefined)[] = [];
  const proofs: (ProofResult | undefined)[] = [];
  for (let i = 0; i < events.length; i += CHUNK) {
    const chunk = events.slice(i, i + CHUNK);
    variants.push(...(await Promise.all(chunk.map((ev) => matchEventId(ev.obj)))));
    proofs.push(
      ...(await Promise.all(
        chunk.map((ev) => {
          const key = ev.keyId ? keyById.get(ev.keyId) : undefined;
          return key ? verifyObjectProof(ev.obj, key) : undefined;
        }),
      )),
    );
  }

  // ── authority, in log order ──
  const vaultUid =
    stringField(
      objectField(events.find((e) => e.type === 'GENESIS')?.obj ?? new Map(), 'payload') ?? new Map(),
      'uid',
    ) ??
    (genesisDoc ? stringField(genesisDoc, 'uid') : undefined) ??
    '';
  if (genesisDoc && vaultUid !== stringField(genesisDoc, 'uid')) {
    fail('GENESIS_MISMATCH', `genesis.json uid differs from the GENESIS event's uid ${vaultUid}`, {
      path: GENESIS_PATH,
    });
  }
  const genesisEvent = events.find((e) => e.type === 'GENESIS');
  const genesisRoot = genesisEvent
    ? stringField(objectField(genesisEvent.obj, 'payload') ?? new Map(), 'root_key_id')
    : undefined;
  if (genesisEvent && genesisRoot !== rootKeyId) {
    fail(
      'GENESIS_MISMATCH',
      `genesis.json root_key_id ${rootKeyId} differs from the GENESIS event's ${genesisRoot}`,
      { eventId: genesisEvent.eventId },
    );
  }

  const revokedAfter = new Map<string, number>(); // key → index of the last event still trusted
  const promotedAt = new Map<string, number>();
  const grants = new Map<string, SessionGrant>();
  const sessionUse = new Map<string, number>();
  const lastCounter = new Map<string, number>();
  let policy: ThresholdPolicy | undefined;

  const counterOk = (
    keyId: string,
    count: number | undefined,
    at: Parameters<typeof finding>[2],
  ): boolean => {
    if (count === undefined) return true;
    const last = lastCounter.get(keyId);
    // A counter of 0 means the authenticator has none (WebAuthn §6.1.1); otherwise it must strictly grow.
    if (last !== undefined && (count !== 0 || last !== 0) && count <= last) {
      fail(
        'WEBAUTHN_COUNTER_REGRESSION',
        `signature counter ${count} is not above ${last} for ${keyId}: a cloned authenticator or a replayed assertion`,
        at,
      );
      return false;
    }
    lastCounter.set(keyId, count);
    return true;
  };

  // Revocations apply backwards to their trust boundary, so they are resolved before the ordered pass: the
  // events between the boundary and the revocation (a compromise window) are refused too. Only revocations
  // with a valid signature by another key count; a missing or bad boundary revokes the whole history.
  const revokedInLog = new Set<string>();
  for (const e of events) {
    if (e.type !== 'KEY_REVOCATION' || !proofs[e.index]?.ok) continue;
    const p = objectField(e.obj, 'payload') ?? new Map();
    const revoked = stringField(p, 'revoked_key_id');
    if (!revoked || revoked === e.keyId) continue;
    const b = byId.get(stringField(p, 'trust_boundary_event_id') ?? '');
    const boundary = b && b.index < e.index ? b.index : -1;
    revokedInLog.add(revoked);
    revokedAfter.set(revoked, Math.min(boundary, revokedAfter.get(revoked) ?? boundary));
  }
  const keyUsable = (keyId: string, index: number): VerifyReason | undefined => {
    const boundary = revokedAfter.get(keyId);
    if (boundary !== undefined && index > boundary) return 'KEY_REVOKED';
    // keys.json says revoked but the log has no KEY_REVOCATION (so no boundary): the reference's rule, all refused.
    if (boundary === undefined && !revokedInLog.has(keyId) && keyById.get(keyId)?.status === 'revoked')
      return 'KEY_REVOKED';
    return undefined;
  };

  for (const ev of events) {
    const at = { line: ev.line, eventId: ev.eventId };
    const variant = variants[ev.index];
    if (ev.redacted) {
      warnings.push(
        finding(
          'REDACTED_EVENT_UNVERIFIED',
          `${ev.eventId} is a redaction tombstone; its id and signature cannot be checked`,
          at,
        ),
      );
    } else if (variant === 'A') report.eventIdVariants.A++;
    else if (variant === 'B') {
      report.eventIdVariants.B++;
      warnings.push(
        finding(
          'EVENT_ID_LEGACY_VARIANT_B',
          `${ev.eventId} was computed without actor_key_id (Provara's append path)`,
          at,
        ),
      );
    } else if (EVENT_ID_PATTERN.test(ev.eventId)) {
      fail('EVENT_ID_MISMATCH', `${ev.eventId} does not match the event's content`, at);
    }

    const keyId = ev.keyId;
    const key = keyId ? keyById.get(keyId) : undefined;
    if (!keyId || !key) {
      fail(
        keyId && !KEY_ID_PATTERN.test(keyId) ? 'KEY_ID_FORMAT' : 'KEY_NOT_FOUND',
        `${ev.eventId}: signing key ${keyId ?? '(none)'} is not in keys.json`,
        { ...at, keyId },
      );
      continue;
    }
    const proof = proofs[ev.index];
    if (!ev.redacted && proof && !proof.ok)
      fail(proof.reason, `${ev.eventId}: ${proof.reason.toLowerCase().replace(/_/g, ' ')}`, { ...at, keyId });
    if (proof?.ok) {
      if (proof.signCount !== undefined) report.signatures.webauthn++;
      else report.signatures.ed25519++;
      counterOk(keyId, proof.signCount, { ...at, keyId });
    }

    // Authorization: the genesis root, a promoted key, or a granted session key.
    const grant = grants.get(keyId);
    const sessionRole = key.roles.includes('session') || grant !== undefined;
    if (sessionRole) {
      checkSession(ev, grant, key, sessionUse, fail);
      report.signatures.session++;
    } else if (
      keyId !== rootKeyId &&
      !(promotedAt.has(keyId) && (promotedAt.get(keyId) as number) < ev.index)
    ) {
      fail(
        'KEY_NOT_AUTHORIZED',
        `${ev.eventId}: key ${keyId} is in keys.json but no GENESIS or KEY_PROMOTION event authorizes it`,
        { ...at, keyId },
      );
    }
    const unusable = keyUsable(keyId, ev.index);
    if (unusable)
      fail(unusable, `${ev.eventId}: key ${keyId} was revoked before this event`, { ...at, keyId });

    const payload = objectField(ev.obj, 'payload') ?? new Map();
    // Threshold: once a policy is in force, critical operations need its t signatures.
    if (policy && (CRITICAL_TYPES.has(ev.type) || ev.obj.has(MULTISIG_MEMBER))) {
      const n = await checkMultisig(ev, policy, keyById, vaultUid, keyUsable, counterOk, fail);
      if (n) report.signatures.multisig++;
    } else if (ev.obj.has(MULTISIG_MEMBER)) {
      fail(
        'MULTISIG_POLICY_MISMATCH',
        `${ev.eventId} carries cosignatures but no threshold policy is in force`,
        at,
      );
    }

    switch (ev.type) {
      case 'KEY_REVOCATION': {
        const revoked = stringField(payload, 'revoked_key_id') ?? '';
        const boundaryId = payload.get('trust_boundary_event_id');
        if (revoked === keyId)
          fail('KEY_ROTATION_INVALID_SIGNER', `${ev.eventId}: a key cannot revoke itself`, at);
        if (typeof boundaryId !== 'string') {
          fail('KEY_ROTATION_BOUNDARY_MISSING', `${ev.eventId}: no trust_boundary_event_id`, at);
        } else {
          const b = byId.get(boundaryId);
          if (!b || b.index >= ev.index) {
            fail(
              'TRUST_BOUNDARY_INVALID',
              `${ev.eventId}: trust boundary ${boundaryId} is not an earlier event`,
              at,
            );
          }
        }
        if (keyById.has(revoked) && keyById.get(revoked)?.status !== 'revoked') {
          fail(
            'KEYS_FILE_REVOCATION_MISSING',
            `keys.json still lists ${revoked} as active after ${ev.eventId} revoked it`,
            { ...at, keyId: revoked },
          );
        }
        break;
      }
      case 'KEY_PROMOTION': {
        const newId = stringField(payload, 'new_key_id') ?? '';
        const rec = keyById.get(newId);
        if (newId === keyId)
          fail('KEY_ROTATION_SELF_SIGN', `${ev.eventId}: key ${newId} signed its own promotion`, at);
        if (!rec || rec.entry.get('public_key_b64') !== payload.get('new_public_key_b64')) {
          fail(
            'KEY_PROMOTION_MISMATCH',
            `${ev.eventId}: keys.json does not hold the promoted key ${newId} with the promoted public key`,
            at,
          );
        } else promotedAt.set(newId, ev.index);
        if (sessionRole)
          fail('KEY_ROTATION_INVALID_SIGNER', `${ev.eventId}: a session key cannot promote keys`, at);
        break;
      }
      case SESSION_GRANT_TYPE: {
        const g = parseSessionGrant(ev.eventId, ev.index, payload);
        if (typeof g === 'string') fail('SESSION_GRANT_INVALID', `${ev.eventId}: ${g}`, at);
        else if (sessionRole)
          fail('SESSION_GRANT_BY_SESSION_KEY', `${ev.eventId}: a session key cannot grant sessions`, at);
        else {
          const rec = keyById.get(g.sessionKeyId);
          if (
            rec &&
            (!rec.publicKey ||
              canonicalize(rec.entry.get('public_key_b64') ?? null) !==
                canonicalize(payload.get('session_public_key_b64') ?? null))
          ) {
            fail(
              'SESSION_KEY_MISMATCH',
              `${ev.eventId}: keys.json holds a different public key for session ${g.sessionKeyId}`,
              at,
            );
          } else grants.set(g.sessionKeyId, g);
        }
        break;
      }
      case THRESHOLD_POLICY_TYPE: {
        const p = parseThresholdPolicy(ev.eventId, payload);
        if (typeof p === 'string') fail('THRESHOLD_POLICY_INVALID', `${ev.eventId}: ${p}`, at);
        else {
          const unknown = p.signers.filter((s) => !keyById.has(s));
          if (unknown.length)
            fail(
              'THRESHOLD_POLICY_INVALID',
              `${ev.eventId}: signers not in keys.json: ${unknown.join(', ')}`,
              at,
            );
          else if (sessionRole)
            fail('THRESHOLD_POLICY_INVALID', `${ev.eventId}: a session key cannot set policy`, at);
          else policy = p;
        }
        break;
      }
    }
  }

  for (const k of keyById.values()) {
    const promo = k.entry.get('promotion_event_id');
    if (typeof promo === 'string' && !promotedAt.has(k.keyId)) {
      fail(
        'KEY_PROMOTION_MISSING',
        `keys.json says ${k.keyId} was promoted by ${promo}, but no valid KEY_PROMOTION for it exists`,
        { keyId: k.keyId },
      );
    }
  }

  checkChains(events, byId, fail);
  await checkManifest(files, report, fail, warnings, keyById);

  // ── state ──
  try {
    const r = new Reducer();
    for (const ev of events) r.apply(ev.obj);
    report.stateHash = await r.stateHash();
  } catch (e) {
    fail('REDUCER_FAILED', e instanceof Error ? e.message : String(e));
  }
  report.ok = errors.length === 0;
  return report;
}

type Fail = (code: VerifyReason, message: string, at?: Parameters<typeof finding>[2]) => void;

function checkSession(
  ev: LoggedEvent,
  grant: SessionGrant | undefined,
  key: KeyRecord,
  use: Map<string, number>,
  fail: Fail,
) {
  const at = { line: ev.line, eventId: ev.eventId, keyId: key.keyId };
  if (!grant || grant.grantIndex >= ev.index) {
    fail('SESSION_KEY_NOT_GRANTED', `${ev.eventId}: session key ${key.keyId} has no earlier grant`, at);
    return;
  }
  const ts = parseUtc(stringField(ev.obj, 'timestamp_utc') ?? '');
  if (Number.isNaN(ts) || ts < grant.notBefore)
    fail('SESSION_NOT_YET_VALID', `${ev.eventId}: before the session's not_before`, at);
  else if (ts >= grant.expiresAt)
    fail('SESSION_EXPIRED', `${ev.eventId}: signed by session ${key.keyId} after it expired`, at);
  if (!grant.types.has(ev.type))
    fail('SESSION_SCOPE_TYPE', `${ev.eventId}: type ${ev.type} is outside the session's scope`, at);
  if (!grant.actors.has(ev.actor))
    fail('SESSION_SCOPE_ACTOR', `${ev.eventId}: actor ${ev.actor} is outside the session's scope`, at);
  const n = (use.get(key.keyId) ?? 0) + 1;
  use.set(key.keyId, n);
  if (n > grant.maxEvents)
    fail('SESSION_EVENT_LIMIT', `${ev.eventId}: event ${n} of a session limited to ${grant.maxEvents}`, at);
}

async function checkMultisig(
  ev: LoggedEvent,
  policy: ThresholdPolicy,
  keyById: Map<string, KeyRecord>,
  vaultUid: string,
  keyUsable: (keyId: string, index: number) => VerifyReason | undefined,
  counterOk: (keyId: string, count: number | undefined, at: Parameters<typeof finding>[2]) => boolean,
  fail: Fail,
): Promise<boolean> {
  const at = { line: ev.line, eventId: ev.eventId };
  const m = objectField(ev.obj, MULTISIG_MEMBER);
  if (!m) {
    fail(
      'MULTISIG_REQUIRED',
      `${ev.eventId}: ${ev.type} needs ${policy.threshold} of ${policy.signers.length} signatures under ${policy.policyId}`,
      at,
    );
    return false;
  }
  if (m.get('policy_event_id') !== policy.policyEventId) {
    fail(
      'MULTISIG_POLICY_MISMATCH',
      `${ev.eventId}: cosigned under ${String(m.get('policy_event_id'))}, but ${policy.policyEventId} is in force`,
      at,
    );
    return false;
  }
  const cosigs = m.get('cosignatures');
  if (!Array.isArray(cosigs)) {
    fail('MULTISIG_MALFORMED', `${ev.eventId}: multisig.cosignatures is not a list`, at);
    return false;
  }
  const statement = multisigStatement(vaultUid, policy.policyEventId, proposalBody(ev.obj));
  const seen = new Set<string>();
  let valid = 0;
  let ok = true;
  for (const c of cosigs) {
    const keyId = c instanceof Map ? stringField(c, 'key_id') : undefined;
    if (!(c instanceof Map) || !keyId) {
      fail('MULTISIG_MALFORMED', `${ev.eventId}: a cosignature has no key_id`, at);
      ok = false;
      continue;
    }
    const cat = { ...at, keyId };
    if (seen.has(keyId)) {
      fail('MULTISIG_DUPLICATE_SIGNER', `${ev.eventId}: ${keyId} cosigned twice; one key counts once`, cat);
      ok = false;
      continue;
    }
    seen.add(keyId);
    const key = keyById.get(keyId);
    if (!key) {
      fail('MULTISIG_UNKNOWN_KEY', `${ev.eventId}: cosigner ${keyId} is not in keys.json`, cat);
      ok = false;
      continue;
    }
    if (!policy.signers.includes(keyId)) {
      fail(
        'MULTISIG_SIGNER_NOT_IN_POLICY',
        `${ev.eventId}: ${keyId} is not a signer of ${policy.policyId}`,
        cat,
      );
      ok = false;
      continue;
    }
    const unusable = keyUsable(keyId, ev.index);
    if (unusable) {
      fail(unusable, `${ev.eventId}: cosigner ${keyId} is revoked`, cat);
      ok = false;
      continue;
    }
    const proof = readProof(c);
    const r = proof.ok ? await verifyProof(proof.proof, key, statement) : proof;
    if (!r.ok) {
      fail(
        'MULTISIG_BAD_SIGNATURE',
        `${ev.eventId}: cosignature of ${keyId} does not verify (${r.reason})`,
        cat,
      );
      ok = false;
      continue;
    }
    if (!counterOk(keyId, r.signCount, cat)) {
      ok = false;
      continue;
    }
    valid++;
  }
  if (valid < policy.threshold) {
    fail(
      'MULTISIG_THRESHOLD_NOT_MET',
      `${ev.eventId}: ${valid} valid cosignatures, ${policy.threshold} required`,
      at,
    );
    ok = false;
  }
  if (!ev.keyId || !policy.signers.includes(ev.keyId)) {
    fail(
      'MULTISIG_COMMITTER_NOT_IN_POLICY',
      `${ev.eventId}: committed by ${ev.keyId}, who is not a signer of ${policy.policyId}`,
      at,
    );
    ok = false;
  }
  return ok;
}

/**
 * The per-actor chain in file order (`sync_v0.verify_causal_chain`): an actor's first event has
 * `prev_event_hash: null`, each later one names that actor's previous event. Vaults written by Provara's
 * `Vault.append_event` chain per key instead and fail here, as they fail Provara's own check.
 */
function checkChains(events: LoggedEvent[], byId: Map<string, LoggedEvent>, fail: Fail) {
  const head = new Map<string, string>();
  for (const ev of events) {
    const at = { line: ev.line, eventId: ev.eventId };
    const expected = head.get(ev.actor);
    if (expected === undefined) {
      if (ev.prev && !byId.has(ev.prev))
        fail('ORPHAN_CHAIN_REFERENCE', `${ev.eventId}: prev_event_hash ${ev.prev} is not in the log`, at);
      else if (ev.prev !== null)
        fail(
          'FIRST_EVENT_PREV_NOT_NULL',
          `${ev.eventId}: first event of actor ${ev.actor} has prev_event_hash ${String(ev.prev)}`,
          at,
        );
    } else if (ev.prev !== expected) {
      const target = ev.prev ? byId.get(ev.prev) : undefined;
      if (ev.prev && !target)
        fail('ORPHAN_CHAIN_REFERENCE', `${ev.eventId}: prev_event_hash ${ev.prev} is not in the log`, at);
      else if (target && target.actor !== ev.actor) {
        fail(
          'CROSS_ACTOR_CHAIN_REFERENCE',
          `${ev.eventId}: actor ${ev.actor} points at ${ev.prev} of actor ${target.actor}`,
          at,
        );
      } else
        fail(
          'BROKEN_CAUSAL_CHAIN',
          `${ev.eventId}: prev_event_hash ${String(ev.prev)}, expected ${expected}`,
          at,
        );
    }
    head.set(ev.actor, ev.eventId);
  }
}

async function checkManifest(
  files: VaultFiles,
  report: VerifyReport,
  fail: Fail,
  warnings: Finding[],
  keyById: Map<string, KeyRecord>,
) {
  const bytes = await files.read('manifest.json');
  if (!bytes) return;
  let manifest: ReturnType<typeof parseManifest>;
  try {
    manifest = parseManifest(bytes);
  } catch (e) {
    fail('VAULT_FILE_INVALID', `manifest.json: ${(e as Error).message}`, { path: 'manifest.json' });
    return;
  }
  if (manifest.doc.get('backpack_spec_version') !== '1.0')
    fail('SPEC_VERSION_MISMATCH', 'manifest backpack_spec_version is not "1.0"', { path: 'manifest.json' });
  const listed = new Set<string>();
  for (const e of manifest.entries) {
    listed.add(e.path);
    const data = await files.read(e.path);
    if (!data) {
      fail('MANIFEST_FILE_MISSING', `${e.path} is in the manifest but not on disk`, { path: e.path });
      continue;
    }
    if (BigInt(data.length) !== BigInt(e.size))
      fail('MANIFEST_SIZE_MISMATCH', `${e.path}: ${data.length} bytes, manifest says ${e.size}`, {
        path: e.path,
      });
    if ((await sha256Hex(data)) !== e.sha256)
      fail('MANIFEST_HASH_MISMATCH', `${e.path}: content differs from the manifest hash`, { path: e.path });
  }
  for (const p of await files.listFiles()) {
    if (!MANIFEST_EXCLUDED.has(p) && !listed.has(p))
      fail('MANIFEST_PHANTOM_FILE', `${p} is on disk but not in the manifest`, { path: p });
  }
  const root = await merkleRoot(manifest.entries);
  report.merkleRoot = root;
  const stored = await files.read('merkle_root.txt');
  if (stored && new TextDecoder().decode(stored).trim() !== root) {
    fail('MERKLE_ROOT_MISMATCH', `merkle_root.txt differs from the root of the manifest (${root})`, {
      path: 'merkle_root.txt',
    });
  }
  const sigBytes = await files.read('manifest.sig');
  if (!sigBytes) return;
  try {
    const sig = parseJsonBytes(sigBytes);
    if (!(sig instanceof Map)) throw new ProvaraError('VAULT_FILE_INVALID', 'not an object');
    const key = keyById.get(stringField(sig, 'key_id') ?? '');
    const r = key ? await verifyObjectProof(sig, key) : undefined;
    if (!r?.ok)
      fail('MANIFEST_SIG_INVALID', `manifest.sig does not verify${key ? '' : ' (unknown key)'}`, {
        path: 'manifest.sig',
      });
    else if (sig.get('merkle_root') !== root) {
      // Provara's append regenerates the manifest without re-signing; its own fixtures have this.
      warnings.push(
        finding('MANIFEST_SIG_STALE', 'manifest.sig signs an earlier Merkle root', { path: 'manifest.sig' }),
      );
    }
  } catch (e) {
    fail('VAULT_FILE_INVALID', `manifest.sig: ${(e as Error).message}`, { path: 'manifest.sig' });
  }
}
