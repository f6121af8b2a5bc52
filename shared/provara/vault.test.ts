import { describe, expect, it } from 'vitest';
import { fromBase64 } from '../encoding/bytes.ts';
import { canonicalBytes } from './canonical-json.ts';
import { ed25519Verify } from './ed25519.ts';
import { parseJson } from './json-parse.ts';
import { type JsonObject, pyFloat, toJson, without } from './json-value.ts';
import { keyIdFromPublicKey } from './key-id.ts';
import { ephemeralSigner } from './software-signer.ts';
import { eventLines, memoryVault, setEventLines } from './testing/fixtures.ts';
import { Vault } from './vault.ts';
import { verifyVault } from './verify.ts';
import type { VerifyReason } from './verify-report.ts';

const codes = (r: { errors: { code: VerifyReason }[] }) => new Set(r.errors.map((e) => e.code));
const enc = new TextEncoder();

async function vaultWithEvents() {
  const v = await memoryVault();
  await v.vault.append(
    {
      type: 'OBSERVATION',
      actor: 'sensor',
      payload: { subject: 'door', predicate: 'state', value: 'open', confidence: pyFloat(0.9) },
    },
    v.root,
  );
  await v.vault.append(
    { type: 'ATTESTATION', actor: 'admin', payload: { subject: 'door', predicate: 'state', value: 'open' } },
    v.root,
  );
  await v.vault.append(
    {
      type: 'OBSERVATION',
      actor: 'sensor',
      payload: {
        subject: 'temp',
        predicate: 'c',
        value: pyFloat(1e-7),
        big: 123456789012345678901n,
        confidence: pyFloat(1),
      },
    },
    v.root,
  );
  await v.vault.flush();
  return v;
}

describe('our vaults (software Ed25519)', () => {
  it('init + append verify, with variant-A ids, Python-format timestamps and the reducer state', async () => {
    const { files, vault } = await vaultWithEvents();
    const r = await verifyVault(files);
    expect(r.errors).toEqual([]);
    // appends refresh the manifest but, like Provara's, do not re-sign it (the root key may be a token)
    expect(r.warnings.map((w) => w.code)).toEqual(['MANIFEST_SIG_STALE']);
    expect(r.eventCount).toBe(5);
    expect(r.eventIdVariants).toEqual({ A: 5, B: 0 });
    const first = parseJson(eventLines(files)[0] as string) as JsonObject;
    expect(first.get('timestamp_utc')).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}\+00:00$/);
    expect(eventLines(files)[4]).toContain('"value":1e-07');
    expect(eventLines(files)[4]).toContain('"big":123456789012345678901');
    expect((await Vault.open(files)).headOf('sensor')).toBe(vault.headOf('sensor'));
  });

  it('each event’s sig verifies as plain Profile A: Ed25519 over canonical(event − sig), key from keys.json', async () => {
    const { files } = await vaultWithEvents();
    const keys = parseJson(new TextDecoder().decode(files.files.get('identity/keys.json'))) as JsonObject;
    const key = (keys.get('keys') as JsonObject[])[0] as JsonObject;
    const pub = fromBase64(key.get('public_key_b64') as string) as Uint8Array;
    expect(await keyIdFromPublicKey(pub)).toBe(key.get('key_id'));
    for (const line of eventLines(files)) {
      const ev = parseJson(line) as JsonObject;
      expect(
        await ed25519Verify(
          pub,
          fromBase64(ev.get('sig') as string) as Uint8Array,
          canonicalBytes(without(ev, 'sig')),
        ),
      ).toBe(true);
    }
  });

  it('never writes a private key into the vault (Provara’s init does by default)', async () => {
    const { files } = await vaultWithEvents();
    expect([...files.files.keys()].some((p) => p.includes('private'))).toBe(false);
  });

  it('refuses to init over an existing vault', async () => {
    const { files, root } = await memoryVault();
    await expect(Vault.init(files, { signer: root })).rejects.toMatchObject({ code: 'VAULT_EXISTS' });
  });
});

describe('tampering is rejected with its reason', () => {
  it('a flipped byte in any event line fails verification', async () => {
    const { files } = await vaultWithEvents();
    const lines = eventLines(files);
    for (let i = 0; i < lines.length; i++) {
      const line = lines[i] as string;
      // flip a byte inside the payload (a value character), keeping the line parseable JSON
      const at = line.indexOf('"payload":{') + 13;
      const flipped =
        line.slice(0, at) + String.fromCharCode(line.charCodeAt(at) ^ 0x01) + line.slice(at + 1);
      setEventLines(
        files,
        lines.map((l, j) => (j === i ? flipped : l)),
      );
      const r = await verifyVault(files);
      expect(r.ok, `line ${i + 1}`).toBe(false);
      const c = codes(r);
      expect(
        c.has('MALFORMED_EVENT_LINE') || (c.has('EVENT_ID_MISMATCH') && c.has('SIGNATURE_INVALID')),
        `line ${i + 1}: ${[...c]}`,
      ).toBe(true);
      expect(c.has('MANIFEST_HASH_MISMATCH')).toBe(true);
    }
  });

  it('a flipped byte in a signature gives SIGNATURE_INVALID', async () => {
    const { files } = await vaultWithEvents();
    const lines = eventLines(files);
    const l = lines[2] as string;
    const at = l.indexOf('"sig":"') + 10;
    lines[2] = l.slice(0, at) + (l[at] === 'A' ? 'B' : 'A') + l.slice(at + 1);
    setEventLines(files, lines);
    expect(codes(await verifyVault(files))).toEqual(new Set(['SIGNATURE_INVALID', 'MANIFEST_HASH_MISMATCH']));
  });

  it('reordered lines break the per-actor chain', async () => {
    const { files } = await vaultWithEvents();
    const lines = eventLines(files);
    [lines[2], lines[4]] = [lines[4] as string, lines[2] as string];
    setEventLines(files, lines);
    const c = codes(await verifyVault(files));
    expect(c.has('FIRST_EVENT_PREV_NOT_NULL')).toBe(true);
    expect(c.has('BROKEN_CAUSAL_CHAIN')).toBe(true);
  });

  it('a removed line leaves an orphan chain reference', async () => {
    const { files } = await vaultWithEvents();
    const lines = eventLines(files);
    lines.splice(2, 1);
    setEventLines(files, lines);
    expect(codes(await verifyVault(files))).toEqual(
      new Set(['ORPHAN_CHAIN_REFERENCE', 'MANIFEST_SIZE_MISMATCH', 'MANIFEST_HASH_MISMATCH']),
    );
  });

  it('a swapped public key in keys.json: the id no longer matches and every signature fails', async () => {
    const { files } = await vaultWithEvents();
    const other = await ephemeralSigner();
    const text = new TextDecoder().decode(files.files.get('identity/keys.json'));
    const b64 = Buffer.from(other.publicKey).toString('base64');
    files.files.set(
      'identity/keys.json',
      enc.encode(text.replace(/"public_key_b64": "[^"]+"/, `"public_key_b64": "${b64}"`)),
    );
    const r = await verifyVault(files);
    expect(codes(r)).toEqual(
      new Set(['KEY_ID_MISMATCH', 'SIGNATURE_INVALID', 'MANIFEST_HASH_MISMATCH', 'MANIFEST_SIG_INVALID']),
    );
  });

  it('a key added to keys.json by hand cannot sign: KEY_NOT_AUTHORIZED', async () => {
    const { files, vault } = await vaultWithEvents();
    const intruder = await ephemeralSigner();
    const { newKeyRecord } = await import('./keys-file.ts');
    vault.keys.keys.push(
      newKeyRecord({
        keyId: intruder.keyId,
        algorithm: 'Ed25519',
        publicKey: intruder.publicKey,
        roles: ['root'],
        createdAt: 'x',
      }),
    );
    await vault.saveKeys();
    await vault.append(
      { type: 'OBSERVATION', actor: 'intruder', payload: { subject: 'a', predicate: 'b', value: 1 } },
      intruder,
    );
    await vault.flush();
    expect(codes(await verifyVault(files))).toEqual(new Set(['KEY_NOT_AUTHORIZED']));
  });

  it('an unsigned event: SIGNATURE_MISSING (Provara skips it silently)', async () => {
    const { files } = await vaultWithEvents();
    const lines = eventLines(files);
    lines[3] = (lines[3] as string).replace(/,"sig":"[^"]+"/, '');
    setEventLines(files, lines);
    expect(codes(await verifyVault(files))).toEqual(
      new Set(['SIGNATURE_MISSING', 'MANIFEST_SIZE_MISMATCH', 'MANIFEST_HASH_MISMATCH']),
    );
  });

  it('a webauthn member smuggled onto a Profile A event: SIG_FORMAT_UNKNOWN', async () => {
    const { files } = await vaultWithEvents();
    const lines = eventLines(files);
    const ev = parseJson(lines[3] as string) as JsonObject;
    ev.set('webauthn', toJson({ alg: -8 }));
    const { canonicalize } = await import('./canonical-json.ts');
    lines[3] = canonicalize(ev);
    setEventLines(files, lines);
    const c = codes(await verifyVault(files));
    expect(c.has('SIG_FORMAT_UNKNOWN')).toBe(true);
  });

  it('a line that is not JSON: MALFORMED_EVENT_LINE (Provara drops it silently)', async () => {
    const { files } = await vaultWithEvents();
    setEventLines(files, [...eventLines(files), '{"type":']);
    expect(codes(await verifyVault(files))).toEqual(
      new Set(['MALFORMED_EVENT_LINE', 'MANIFEST_SIZE_MISMATCH', 'MANIFEST_HASH_MISMATCH']),
    );
  });

  it('a duplicated line: DUPLICATE_EVENT_ID', async () => {
    const { files } = await vaultWithEvents();
    const lines = eventLines(files);
    setEventLines(files, [...lines, lines[4] as string]);
    const c = codes(await verifyVault(files));
    expect(c.has('DUPLICATE_EVENT_ID')).toBe(true);
  });

  it('a pinned root key that differs: ROOT_KEY_NOT_PINNED', async () => {
    const { files } = await vaultWithEvents();
    expect(codes(await verifyVault(files, { expectedRootKeyId: 'bp1_0000000000000000' }))).toEqual(
      new Set(['ROOT_KEY_NOT_PINNED']),
    );
  });
});
