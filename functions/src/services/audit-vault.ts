import { fromBase64, toBase64 } from '../../../shared/encoding/bytes.ts';
import { canonicalize } from '../../../shared/provara/canonical-json.ts';
import { EVENTS_PATH } from '../../../shared/provara/event-log.ts';
import { type JsonObject, type JsonValue, pyFloat, toJson } from '../../../shared/provara/json-value.ts';
import { writeSignedManifest } from '../../../shared/provara/manifest.ts';
import { pythonJsonIndent } from '../../../shared/provara/python-json-indent.ts';
import type { Signer } from '../../../shared/provara/signature-proof.ts';
import { prepareForSigner, signObject } from '../../../shared/provara/signed-object.ts';
import { softwareSignerFromSeed } from '../../../shared/provara/software-signer.ts';
import { pythonUtcNow } from '../../../shared/provara/timestamp.ts';
import { Vault } from '../../../shared/provara/vault.ts';
import { MemoryVaultFiles } from '../../../shared/provara/vault-files.ts';
import {
  GENESIS_PATH,
  KEYS_PATH,
  perceptionOntology,
  REQUIRED_DIRS,
  retentionPolicy,
  safetyPolicy,
  syncContract,
} from '../../../shared/provara/vault-layout.ts';
import type { Config } from '../config.ts';
import { ApiError } from '../errors.ts';
import { StorageError } from '../storage/errors.ts';
import type { Storage } from '../storage/port.ts';
import type { AuditEventRow } from '../storage/types.ts';
import { type TarEntry, writeTar } from './tar.ts';

/**
 * The signed audit log: every `audit_events` row becomes one Provara Profile A event (design/PROVARA.md)
 * signed by the service's Ed25519 key (`AUDIT_SIGNING_KEY`), chained per actor, in a vault whose
 * identity/keys.json publishes that key's `bp1_` id.
 *
 * - Event type `com.noderr.trust.audit_event`; an approved quorum action is `com.noderr.trust.multisig_approval`
 *   and carries every approval's WebAuthn assertion in `payload.details.approvals` (re-verifiable offline).
 * - Actor = `<source>:<who>` (`admin_api:alice@x (uuid)`, `node:0x…`, `system:…`, `dashboard:postgres`):
 *   one hash chain per actor (`prev_event_hash`).
 * - Folding: a database trigger queues every audit row in the transaction that writes it, whoever writes it
 *   (dashboard edits included). A fold pass signs the queue in id order and appends the lines with an
 *   optimistic length check, so two passes never fork a chain. Passes run from the Worker's Cron Trigger
 *   (every minute, wrangler.toml) and before every export and head, so an export is always up to date and
 *   an unexported change is signed within about a minute.
 */
export const AUDIT_EVENT_TYPE = 'com.noderr.trust.audit_event';
export const MULTISIG_APPROVAL_TYPE = 'com.noderr.trust.multisig_approval';
export const SERVICE_ACTOR = 'noderr_trust_service';

const enc = new TextEncoder();
const signers = new Map<string, Promise<Signer>>();

/** The audit signer from AUDIT_SIGNING_KEY, or AUDIT_LOG_UNAVAILABLE when the Worker has none. */
export function auditSigner(config: Pick<Config, 'AUDIT_SIGNING_KEY'>): Promise<Signer> {
  const key = config.AUDIT_SIGNING_KEY;
  if (!key) {
    return Promise.reject(
      new ApiError(
        'AUDIT_LOG_UNAVAILABLE',
        'The signed audit log is not configured (AUDIT_SIGNING_KEY is not set).',
      ),
    );
  }
  let s = signers.get(key);
  if (!s) {
    const seed = fromBase64(key);
    if (seed?.length !== 32) throw new Error('AUDIT_SIGNING_KEY is not a 32-byte seed');
    s = softwareSignerFromSeed(seed as Uint8Array);
    signers.set(key, s);
  }
  return s;
}

/** Plain JSON (from the database) → Provara's tagged tree: integers stay ints, other numbers are floats. */
export function plainToJson(v: unknown): JsonValue {
  if (v === null || v === undefined) return null;
  if (typeof v === 'boolean' || typeof v === 'string') return v;
  if (typeof v === 'number') return Number.isSafeInteger(v) ? BigInt(v) : pyFloat(v);
  if (Array.isArray(v)) return v.map(plainToJson);
  if (typeof v === 'object') {
    const out: JsonObject = new Map();
    for (const [k, x] of Object.entries(v as Record<string, unknown>)) out.set(k, plainToJson(x));
    return out;
  }
  throw new TypeError(`not JSON: ${typeof v}`);
}

function actorOf(row: AuditEventRow): string {
  const who = row.source === 'dashboard' ? row.db_role : (row.actor ?? row.node_id ?? row.db_role);
  return `${row.source}:${who}`;
}

function eventDraft(row: AuditEventRow) {
  return {
    type: row.action === 'admin_action.approved' ? MULTISIG_APPROVAL_TYPE : AUDIT_EVENT_TYPE,
    actor: actorOf(row),
    namespace: 'local',
    timestampUtc: pythonUtcNow(new Date(row.occurred_at)),
    payload: plainToJson({
      audit_id: row.id,
      occurred_at: row.occurred_at,
      source: row.source,
      action: row.action,
      actor: row.actor,
      db_role: row.db_role,
      auth_uid: row.auth_uid,
      node_id: row.node_id,
      install_token_id: row.install_token_id,
      old_status: row.old_status,
      new_status: row.new_status,
      reason: row.reason,
      details: row.details,
    }) as JsonObject,
  };
}

function fieldOf(line: string, name: 'event_id' | 'actor'): string {
  // Reading two string members for bookkeeping only; the signed bytes are the line itself.
  return String((JSON.parse(line) as Record<string, unknown>)[name]);
}

function policyFiles(rootKeyId: string): [string, JsonObject][] {
  return [
    ['policies/safety_policy.json', safetyPolicy()],
    ['policies/sync_contract.json', syncContract(rootKeyId)],
    ['policies/retention_policy.json', retentionPolicy()],
    ['policies/ontology/perception_ontology_v1.json', perceptionOntology()],
  ];
}

async function createVault(storage: Storage, signer: Signer): Promise<void> {
  const files = new MemoryVaultFiles();
  const vault = await Vault.init(files, { signer, actor: SERVICE_ACTOR });
  const dec = new TextDecoder();
  const lines = dec
    .decode(await files.read(EVENTS_PATH))
    .split('\n')
    .filter(Boolean);
  const created = await storage.auditLogInit({
    uid: vault.uid,
    rootKeyId: signer.keyId,
    publicKeyB64: toBase64(signer.publicKey),
    genesisJson: dec.decode(await files.read(GENESIS_PATH)),
    keysJson: dec.decode(await files.read(KEYS_PATH)),
    entries: lines.map((line) => ({
      eventId: fieldOf(line, 'event_id'),
      actor: fieldOf(line, 'actor'),
      line,
      auditEventId: null,
    })),
  });
  if (created.rootKeyId !== signer.keyId) throw keyMismatch(created.rootKeyId, signer.keyId);
}

function keyMismatch(stored: string, configured: string): Error {
  return new Error(
    `the audit vault is signed by ${stored} but AUDIT_SIGNING_KEY is ${configured}; key rotation is not supported`,
  );
}

export interface FoldResult {
  folded: number;
  pending: number;
}

/**
 * One fold pass: signs queued audit rows (batches of `batch`, at most `maxBatches`) and appends them.
 * Losing the race to a concurrent pass is not an error: it stops, and the winner's lines stand.
 */
export async function foldAuditLog(
  storage: Storage,
  signer: Signer,
  options: { batch?: number; maxBatches?: number } = {},
): Promise<FoldResult> {
  const batch = options.batch ?? 500;
  let folded = 0;
  let pending = 0;
  for (let round = 0; round < (options.maxBatches ?? 20); round++) {
    let state = await storage.auditLogState(batch);
    if (!state.vault) {
      await createVault(storage, signer);
      state = await storage.auditLogState(batch);
    }
    const identity = state.vault;
    if (!identity) throw new Error('the audit vault was not created');
    if (identity.rootKeyId !== signer.keyId) throw keyMismatch(identity.rootKeyId, signer.keyId);
    pending = state.pendingTotal;
    if (state.pending.length === 0) break;
    const files = new MemoryVaultFiles();
    await files.write(GENESIS_PATH, enc.encode(identity.genesisJson));
    await files.write(KEYS_PATH, enc.encode(identity.keysJson));
    await files.write(EVENTS_PATH, enc.encode(state.headLines.map((l) => `${l}\n`).join('')));
    // Opening the vault on the actors' head lines alone gives every chain's head and ts_logical.
    const vault = await Vault.open(files);
    const entries = [];
    for (const row of state.pending) {
      const ev = await vault.append(eventDraft(row), signer);
      entries.push({
        eventId: String(ev.get('event_id')),
        actor: actorOf(row),
        line: canonicalize(ev),
        auditEventId: row.id,
      });
    }
    try {
      await storage.auditLogAppend(state.eventCount, entries);
    } catch (e) {
      if (e instanceof StorageError && e.code === 'CONFLICT') break;
      throw e;
    }
    folded += entries.length;
    pending = state.pendingTotal - entries.length;
    if (pending <= 0) break;
  }
  return { folded, pending };
}

export interface ExportedVault {
  files: MemoryVaultFiles;
  merkleRoot: string;
  eventCount: number;
  lastEventId: string | null;
  uid: string;
  keyId: string;
}

/**
 * The whole vault in memory: identity, policies, events, a fresh manifest, merkle_root.txt and a
 * manifest.sig over the current root (re-signed on every export, so it is never stale).
 */
export async function buildAuditVault(
  storage: Storage,
  signer: Signer,
  now = new Date(),
): Promise<ExportedVault> {
  await foldAuditLog(storage, signer);
  const state = await storage.auditLogState(1);
  const identity = state.vault;
  if (!identity) throw new Error('the audit vault was not created');
  const lines = await storage.auditLogLines(0, 1_000_000);
  const files = new MemoryVaultFiles();
  for (const d of REQUIRED_DIRS) await files.mkdir(d);
  await files.write(GENESIS_PATH, enc.encode(identity.genesisJson));
  await files.write(KEYS_PATH, enc.encode(identity.keysJson));
  for (const [path, doc] of policyFiles(identity.rootKeyId))
    await files.write(path, enc.encode(pythonJsonIndent(doc)));
  await files.write(EVENTS_PATH, enc.encode(lines.map((l) => `${l.line}\n`).join('')));
  const at = pythonUtcNow(now);
  const merkleRoot = await writeSignedManifest(files, signer, at);
  const last = lines.at(-1);
  return {
    files,
    merkleRoot,
    eventCount: lines.length,
    lastEventId: last ? fieldOf(last.line, 'event_id') : null,
    uid: identity.uid,
    keyId: identity.rootKeyId,
  };
}

/** The vault as a ustar archive (directories first, then files in path order). */
export async function vaultTar(v: ExportedVault, now = new Date()): Promise<Uint8Array> {
  const entries: TarEntry[] = [];
  const dirs = new Set<string>([...v.files.dirs]);
  const paths = (await v.files.listFiles()).sort();
  for (const p of paths) {
    const parts = p.split('/');
    for (let i = 1; i < parts.length; i++) dirs.add(parts.slice(0, i).join('/'));
  }
  for (const d of [...dirs].sort()) entries.push({ path: d });
  for (const p of paths) entries.push({ path: p, data: (await v.files.read(p)) as Uint8Array });
  return writeTar(entries, Math.floor(now.getTime() / 1000));
}

/**
 * The signed head: a Provara checkpoint-style object `{merkle_root, last_event_id, event_count, key_id,
 * spec_version, signed_at_utc, vault_uid}` + `sig` (Ed25519 over its canonical JSON without `sig`,
 * PROVARA.md §2.3). An outside party pins it; a later export must extend it.
 */
export async function signedHead(v: ExportedVault, signer: Signer, now = new Date()) {
  const head = toJson({
    merkle_root: v.merkleRoot,
    last_event_id: v.lastEventId,
    event_count: v.eventCount,
    key_id: signer.keyId,
    spec_version: '1.0',
    signed_at_utc: pythonUtcNow(now),
    vault_uid: v.uid,
  }) as JsonObject;
  prepareForSigner(head, signer);
  await signObject(head, signer);
  return {
    head: JSON.parse(canonicalize(head)) as Record<string, unknown>,
    publicKeyB64: toBase64(signer.publicKey),
  };
}
