import { canonicalize } from './canonical-json.ts';
import { ProvaraError } from './errors.ts';
import { computeEventId } from './event-id.ts';
import { EVENTS_PATH, readEventLog } from './event-log.ts';
import { isValidEventType, THRESHOLD_POLICY_TYPE } from './extension-types.ts';
import { parseJsonBytes } from './json-parse.ts';
import { type JsonInput, type JsonObject, pyFloat, stringField, toJson } from './json-value.ts';
import {
  emptyKeysFile,
  type KeyRecord,
  type KeysFile,
  newKeyRecord,
  parseKeysFile,
  serializeKeysFile,
} from './keys-file.ts';
import { writeManifest, writeSignedManifest } from './manifest.ts';
import { pythonJsonIndent } from './python-json-indent.ts';
import type { Signer } from './signature-proof.ts';
import { signObject } from './signed-object.ts';
import { parseThresholdPolicy, type ThresholdPolicy } from './threshold-policy.ts';
import { pythonUtcNow } from './timestamp.ts';
import type { VaultFiles } from './vault-files.ts';
import {
  GENESIS_PATH,
  genesisDocument,
  KEYS_PATH,
  perceptionOntology,
  REQUIRED_DIRS,
  retentionPolicy,
  safetyPolicy,
  syncContract,
} from './vault-layout.ts';

export interface EventDraft {
  type: string;
  actor: string;
  payload: JsonInput;
  /** Defaults: `canonical` for GENESIS/ATTESTATION/KEY_*, else `local` (the namespaces verify_impl requires). */
  namespace?: string;
  /** Extra top-level members (signed like every other member), e.g. the multisig envelope. */
  extra?: JsonObject;
  timestampUtc?: string;
}

const CANONICAL_NS = new Set(['GENESIS', 'ATTESTATION', 'KEY_REVOCATION', 'KEY_PROMOTION']);
const enc = new TextEncoder();

/**
 * A vault opened for writing. It keeps each actor's chain head and `ts_logical`, so appending 10,000
 * events does not re-read the log; `flush()` rewrites manifest.json and merkle_root.txt once at the end.
 */
export class Vault {
  private constructor(
    readonly files: VaultFiles,
    readonly uid: string,
    readonly rootKeyId: string,
    readonly keys: KeysFile,
    private readonly heads: Map<string, string>,
    private readonly logical: Map<string, bigint>,
    readonly eventIds: Set<string>,
  ) {}

  /** The last event of the log (any actor). */
  lastEventId: string | null = null;
  /** The threshold policy in force, if any (the last `threshold_policy` event). */
  thresholdPolicy: ThresholdPolicy | undefined;

  get thresholdPolicyEventId(): string | undefined {
    return this.thresholdPolicy?.policyEventId;
  }

  private track(ev: JsonObject): void {
    const actor = stringField(ev, 'actor') ?? '';
    const id = stringField(ev, 'event_id') ?? '';
    this.heads.set(actor, id);
    this.eventIds.add(id);
    this.lastEventId = id;
    const ts = ev.get('ts_logical');
    if (typeof ts === 'bigint' && ts > (this.logical.get(actor) ?? 0n)) this.logical.set(actor, ts);
    const payload = ev.get('payload');
    if (ev.get('type') === THRESHOLD_POLICY_TYPE && payload instanceof Map) {
      const p = parseThresholdPolicy(id, payload);
      if (typeof p !== 'string') this.thresholdPolicy = p;
    }
  }

  /** Creates a vault as Provara's bootstrap does: layout, policies, GENESIS, the seed OBSERVATION, manifest.sig. */
  static async init(
    files: VaultFiles,
    opts: { signer: Signer; uid?: string; actor?: string; now?: Date },
  ): Promise<Vault> {
    if ((await files.read(EVENTS_PATH)) || (await files.read(KEYS_PATH))) {
      throw new ProvaraError('VAULT_EXISTS', 'the directory already holds a vault');
    }
    const now = pythonUtcNow(opts.now);
    const uid = opts.uid ?? crypto.randomUUID();
    const { signer } = opts;
    for (const d of REQUIRED_DIRS) await files.mkdir(d);
    const keys = emptyKeysFile();
    keys.keys.push(
      newKeyRecord({
        keyId: signer.keyId,
        algorithm: signer.algorithm,
        publicKey: signer.publicKey,
        roles: ['root', 'attestation'],
        createdAt: now,
        ...(signer.keyRecordExtras ? { extras: signer.keyRecordExtras } : {}),
      }),
    );
    const write = (path: string, doc: JsonObject) => files.write(path, enc.encode(pythonJsonIndent(doc)));
    await write(GENESIS_PATH, genesisDocument(uid, now, signer.keyId));
    await files.write(KEYS_PATH, serializeKeysFile(keys));
    await write('policies/safety_policy.json', safetyPolicy());
    await write('policies/sync_contract.json', syncContract(signer.keyId));
    await write('policies/retention_policy.json', retentionPolicy());
    await write('policies/ontology/perception_ontology_v1.json', perceptionOntology());
    await files.write(EVENTS_PATH, new Uint8Array(0));
    const vault = new Vault(files, uid, signer.keyId, keys, new Map(), new Map(), new Set());
    const actor = opts.actor ?? 'sovereign_genesis';
    await vault.append(
      {
        type: 'GENESIS',
        actor,
        payload: { uid, root_key_id: signer.keyId, birth_timestamp: now, spec_version: '1.0' },
        timestampUtc: now,
      },
      signer,
    );
    await vault.append(
      {
        type: 'OBSERVATION',
        actor,
        payload: { subject: 'system', predicate: 'status', value: 'initialized', confidence: pyFloat(1) },
        timestampUtc: now,
      },
      signer,
    );
    await writeSignedManifest(files, signer, now);
    return vault;
  }

  static async open(files: VaultFiles): Promise<Vault> {
    const keysBytes = await files.read(KEYS_PATH);
    const genesisBytes = await files.read(GENESIS_PATH);
    const log = await files.read(EVENTS_PATH);
    if (!keysBytes || !genesisBytes || !log)
      throw new ProvaraError('VAULT_NOT_FOUND', 'not a Provara vault (identity/ or events/ missing)');
    const genesis = parseJsonBytes(genesisBytes);
    const uid = genesis instanceof Map ? stringField(genesis, 'uid') : undefined;
    const root = genesis instanceof Map ? stringField(genesis, 'root_key_id') : undefined;
    if (!uid || !root) throw new ProvaraError('VAULT_FILE_INVALID', 'genesis.json lacks uid or root_key_id');
    const vault = new Vault(files, uid, root, parseKeysFile(keysBytes), new Map(), new Map(), new Set());
    for (const l of readEventLog(log)) {
      if (!(l.value instanceof Map))
        throw new ProvaraError('EVENT_INVALID', `events.ndjson line ${l.line} does not parse; run verify`);
      vault.track(l.value);
    }
    return vault;
  }

  key(keyId: string): KeyRecord | undefined {
    return this.keys.keys.find((k) => k.keyId === keyId);
  }

  headOf(actor: string): string | null {
    return this.heads.get(actor) ?? null;
  }

  /** Builds the unsigned event for `draft` as the next event of its actor (no state changes). */
  async build(draft: EventDraft, signer: Pick<Signer, 'keyId' | 'format'>): Promise<JsonObject> {
    if (!isValidEventType(draft.type)) {
      throw new ProvaraError(
        'EVENT_INVALID',
        `event type ${draft.type} is neither core, upper-case, nor reverse-domain`,
      );
    }
    const payload = toJson(draft.payload);
    if (!(payload instanceof Map))
      throw new ProvaraError('EVENT_INVALID', 'the payload must be a JSON object');
    const ev = toJson({
      type: draft.type,
      namespace: draft.namespace ?? (CANONICAL_NS.has(draft.type) ? 'canonical' : 'local'),
      actor: draft.actor,
      actor_key_id: signer.keyId,
      ts_logical: (this.logical.get(draft.actor) ?? 0n) + 1n,
      prev_event_hash: this.headOf(draft.actor),
      timestamp_utc: draft.timestampUtc ?? pythonUtcNow(),
      payload,
    }) as JsonObject;
    for (const [k, v] of draft.extra ?? []) ev.set(k, v);
    if (signer.format === 'webauthn.v1') ev.set('sig_format', 'webauthn.v1');
    return ev;
  }

  /** Assigns the id (variant A), signs, and records the event as its actor's new head. Returns the line. */
  async seal(ev: JsonObject, signer: Signer): Promise<string> {
    ev.delete('event_id');
    ev.set('event_id', await computeEventId(ev, 'A'));
    await signObject(ev, signer);
    this.track(ev);
    return `${canonicalize(ev)}\n`;
  }

  /** Appends one signed event (written immediately; call flush() to refresh the manifest). */
  async append(draft: EventDraft, signer: Signer): Promise<JsonObject> {
    const ev = await this.build(draft, signer);
    await this.files.append(EVENTS_PATH, enc.encode(await this.seal(ev, signer)));
    return ev;
  }

  /** Signs many events and appends them with one write (the `append --batch` path). */
  async appendBatch(drafts: EventDraft[], signer: Signer): Promise<JsonObject[]> {
    const out: JsonObject[] = [];
    const lines: string[] = [];
    for (const d of drafts) {
      const ev = await this.build(d, signer);
      lines.push(await this.seal(ev, signer));
      out.push(ev);
    }
    await this.files.append(EVENTS_PATH, enc.encode(lines.join('')));
    return out;
  }

  /** Appends an already signed event line (a committed multisig proposal) after checking its chain position. */
  async appendSigned(ev: JsonObject): Promise<void> {
    const actor = stringField(ev, 'actor') ?? '';
    if ((ev.get('prev_event_hash') ?? null) !== this.headOf(actor)) {
      throw new ProvaraError(
        'PROPOSAL_INVALID',
        `the proposal no longer extends actor ${actor}'s chain; propose again`,
      );
    }
    await this.files.append(EVENTS_PATH, enc.encode(`${canonicalize(ev)}\n`));
    this.track(ev);
  }

  async saveKeys(): Promise<void> {
    await this.files.write(KEYS_PATH, serializeKeysFile(this.keys));
  }

  /** Rewrites manifest.json and merkle_root.txt (manifest.sig is left as is, like Provara's append). */
  async flush(now?: Date): Promise<string> {
    return writeManifest(this.files, pythonUtcNow(now));
  }
}
