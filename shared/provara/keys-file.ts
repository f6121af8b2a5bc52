import { fromBase64, toBase64 } from '../encoding/bytes.ts';
import { ProvaraError } from './errors.ts';
import { parseJsonBytes } from './json-parse.ts';
import { type JsonObject, type JsonValue, stringField, toJson } from './json-value.ts';
import { pythonJsonIndent } from './python-json-indent.ts';

/**
 * `identity/keys.json`: `{keys:[{key_id, algorithm, public_key_b64, roles, scopes, status, created_at_utc,
 * [revoked_at_utc, revocation_event_id, promotion_event_id]}], revocations:[…]}` (PROVARA.md §4.1).
 * Our extensions are additive members that Python ignores: `fido2: {rp_id, credential_id_b64}` for a FIDO2
 * credential, `session: {grant_event_id}` for a session key, `hardware: {kind, …}` as a label.
 */
export interface KeyRecord {
  keyId: string;
  algorithm: string;
  publicKey: Uint8Array | undefined;
  roles: string[];
  status: string;
  fido2: { rpId: string; credentialId: Uint8Array } | undefined;
  /** The full entry, as read. */
  entry: JsonObject;
}

export interface KeysFile {
  keys: KeyRecord[];
  /** The parsed document, kept so rewriting it preserves members we do not model. */
  doc: JsonObject;
}

export function parseKeysFile(bytes: Uint8Array): KeysFile {
  const doc = parseJsonBytes(bytes);
  if (!(doc instanceof Map)) throw new ProvaraError('VAULT_FILE_INVALID', 'keys.json is not an object');
  const list = doc.get('keys');
  if (!Array.isArray(list)) throw new ProvaraError('VAULT_FILE_INVALID', 'keys.json has no keys array');
  return { doc, keys: list.map(recordFrom) };
}

function recordFrom(e: JsonValue): KeyRecord {
  if (!(e instanceof Map)) throw new ProvaraError('VAULT_FILE_INVALID', 'a keys.json entry is not an object');
  const keyId = stringField(e, 'key_id');
  if (!keyId) throw new ProvaraError('VAULT_FILE_INVALID', 'a keys.json entry has no key_id');
  const roles = e.get('roles');
  const f = e.get('fido2');
  let fido2: KeyRecord['fido2'];
  if (f instanceof Map) {
    const rpId = stringField(f, 'rp_id');
    const credentialId = fromBase64(stringField(f, 'credential_id_b64') ?? '');
    if (rpId && credentialId && credentialId.length > 0) fido2 = { rpId, credentialId };
  }
  return {
    keyId,
    algorithm: stringField(e, 'algorithm') ?? '',
    publicKey: nonEmpty(fromBase64(stringField(e, 'public_key_b64') ?? '')),
    roles: Array.isArray(roles) ? roles.filter((r): r is string => typeof r === 'string') : [],
    status: stringField(e, 'status') ?? '',
    fido2,
    entry: e,
  };
}

export function serializeKeysFile(file: KeysFile): Uint8Array {
  file.doc.set(
    'keys',
    file.keys.map((k) => k.entry),
  );
  return new TextEncoder().encode(pythonJsonIndent(file.doc));
}

export function emptyKeysFile(): KeysFile {
  return { doc: toJson({ keys: [], revocations: [] }) as JsonObject, keys: [] };
}

/** A new keys.json entry in the member order Provara's bootstrap writes. */
export function newKeyRecord(input: {
  keyId: string;
  algorithm: 'Ed25519' | 'ES256';
  publicKey: Uint8Array;
  roles: string[];
  scopes?: string[];
  createdAt: string;
  extras?: JsonObject;
}): KeyRecord {
  const entry = toJson({
    key_id: input.keyId,
    algorithm: input.algorithm,
    public_key_b64: toBase64(input.publicKey),
    roles: input.roles,
    scopes: input.scopes ?? ['all'],
    status: 'active',
    created_at_utc: input.createdAt,
  }) as JsonObject;
  for (const [k, v] of input.extras ?? []) entry.set(k, v);
  return recordFrom(entry);
}

function nonEmpty(b: Uint8Array | undefined): Uint8Array | undefined {
  return b && b.length > 0 ? b : undefined;
}
