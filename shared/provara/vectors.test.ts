import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { fromBase64, fromHex, utf8 } from '../encoding/bytes.ts';
import { canonicalBytes } from './canonical-json.ts';
import { sha256Hex } from './digest.ts';
import { ed25519Verify } from './ed25519.ts';
import { computeEventId } from './event-id.ts';
import { parseJson } from './json-parse.ts';
import type { JsonObject, JsonValue } from './json-value.ts';
import { keyIdFromPublicKey } from './key-id.ts';
import { merkleRoot } from './merkle.ts';
import { Reducer, replayStateHash } from './reducer.ts';

const doc = parseJson(
  readFileSync('../shared/vectors/provara/test_vectors/vectors.json', 'utf8'),
) as JsonObject;
const vector = (id: string) => {
  const v = (doc.get('vectors') as JsonObject[]).find((x) => x.get('id') === id);
  if (!v) throw new Error(`no vector ${id}`);
  return { input: v.get('input') as JsonValue, expected: v.get('expected') as string };
};

describe('vectors.json (upstream, all 7)', () => {
  it('canonical_json_01 is covered in canonical-json.test.ts and matches here too', async () => {
    const v = vector('canonical_json_01');
    expect(Buffer.from(canonicalBytes(v.input)).toString('hex')).toBe(v.expected);
  });

  it('sha256_hash_01: SHA-256 of the UTF-8 string', async () => {
    const v = vector('sha256_hash_01');
    expect(await sha256Hex(utf8.encode(v.input as string))).toBe(v.expected);
  });

  it('event_id_derivation_01: evt_ + 24 hex of the bare object', async () => {
    const v = vector('event_id_derivation_01');
    expect(await computeEventId(v.input as JsonObject)).toBe(v.expected);
  });

  it('key_id_derivation_01: bp1_ + 16 hex of SHA-256(raw 32-byte key), not base64, not SPKI', async () => {
    const v = vector('key_id_derivation_01');
    expect(await keyIdFromPublicKey(fromHex(v.input as string) as Uint8Array)).toBe(v.expected);
  });

  it('ed25519_sign_verify_01: the signature covers canonical(message + actor_key_id), unhashed', async () => {
    const v = vector('ed25519_sign_verify_01');
    const input = v.input as JsonObject;
    const message = new Map(input.get('message') as JsonObject);
    message.set('actor_key_id', input.get('key_id') as string);
    const pub = fromBase64(input.get('public_key_b64') as string) as Uint8Array;
    const sig = fromBase64(v.expected) as Uint8Array;
    expect(new TextDecoder().decode(canonicalBytes(message))).toBe(
      '{"actor_key_id":"bp1_5c99599d178e7632","data":"sign me"}',
    );
    expect(await ed25519Verify(pub, sig, canonicalBytes(message))).toBe(true);
    expect(await keyIdFromPublicKey(pub)).toBe(input.get('key_id'));
    // and not over the bare message or its hash
    expect(await ed25519Verify(pub, sig, canonicalBytes(input.get('message') as JsonObject))).toBe(false);
  });

  it('merkle_root_01: hashes the entries verbatim (the 63-char uppercase-F hash is not normalized)', async () => {
    const v = vector('merkle_root_01');
    const entries = (v.input as JsonObject[]).map((e) => ({
      path: e.get('path') as string,
      sha256: e.get('sha256') as string,
      size: e.get('size') as bigint,
    }));
    expect(await merkleRoot(entries)).toBe(v.expected);
  });

  it('reducer_determinism_01: SovereignReducerV0 state hash', async () => {
    const v = vector('reducer_determinism_01');
    expect(await replayStateHash(v.input as JsonValue[])).toBe(v.expected);
  });
});

describe('documented hashes (PROVARA.md §4.2–4.3)', () => {
  it('the empty state hash is 6d2d9200…9823', async () => {
    expect(await new Reducer().stateHash()).toBe(
      '6d2d920098d4f30c2a0aa1065e05d75e5a02d4fcd78a5cf5b04e47ad07449823',
    );
  });
  it('an empty Merkle tree is SHA-256("")', async () => {
    expect(await merkleRoot([])).toBe('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
  });
  it('local confidences are floats: writing 1 instead of 1.0 gives provara-ts’s wrong 7212887… hash', async () => {
    const events = readFileSync(
      '../shared/vectors/provara/vaults/reference_backpack/events/events.ndjson',
      'utf8',
    )
      .trim()
      .split('\n')
      .map((l) => parseJson(l));
    const r = new Reducer();
    for (const e of events) r.apply(e);
    expect(await r.stateHash()).toBe('67ff63382bb287bca5aece455fbab8daba6cd892b40908bd0295200dd7fef5ac');
    const text = new TextDecoder().decode(canonicalBytes(r.exportState()));
    expect(text).toContain('"confidence":1.0');
    const hashable = parseJson(text) as JsonObject;
    const metadata = hashable.get('metadata') as JsonObject;
    hashable.delete('metadata');
    metadata.delete('state_hash');
    hashable.set('metadata_partial', metadata);
    const asProvaraTs = new TextDecoder()
      .decode(canonicalBytes(hashable))
      .replace('"confidence":1.0', '"confidence":1');
    expect((await sha256Hex(utf8.encode(asProvaraTs))).startsWith('7212887')).toBe(true);
  });
});
