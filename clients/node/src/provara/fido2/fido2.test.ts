import { describe, expect, it } from 'vitest';
import { canonicalize } from '../../../../../shared/provara/canonical-json.ts';
import { parseJson } from '../../../../../shared/provara/json-parse.ts';
import type { JsonObject } from '../../../../../shared/provara/json-value.ts';
import { eventLines, setEventLines } from '../../../../../shared/provara/testing/fixtures.ts';
import { Vault } from '../../../../../shared/provara/vault.ts';
import { MemoryVaultFiles } from '../../../../../shared/provara/vault-files.ts';
import { verifyVault } from '../../../../../shared/provara/verify.ts';
import type { VerifyReason } from '../../../../../shared/provara/verify-report.ts';
import { cborDecode, cborEncode } from './cbor.ts';
import { credentialAlgorithms, getInfo, makeCredential } from './ctap2.ts';
import { CtapHidChannel, frame, type HidDevice, receive } from './ctaphid.ts';
import { fido2Signer, PROVARA_RP_ID } from './fido2-signer.ts';
import { SoftAuthenticator, type SoftAuthenticatorOptions } from './testing/soft-authenticator.ts';

const codes = (r: { errors: { code: VerifyReason }[] }) => new Set(r.errors.map((e) => e.code));

async function fidoVault(opts: SoftAuthenticatorOptions = {}) {
  const auth = new SoftAuthenticator(opts);
  const ch = await CtapHidChannel.open(auth);
  const cred = await makeCredential(ch, { rpId: PROVARA_RP_ID, userName: 'vault-root' });
  let touchPrompts = 0;
  const signer = await fido2Signer(ch, cred, { onTouch: () => touchPrompts++ });
  const files = new MemoryVaultFiles();
  const vault = await Vault.init(files, { signer, uid: 'fido-vault' });
  await vault.append(
    { type: 'OBSERVATION', actor: 'sensor', payload: { subject: 'door', predicate: 'state', value: 'open' } },
    signer,
  );
  await vault.append(
    { type: 'OBSERVATION', actor: 'sensor', payload: { subject: 'door', predicate: 'state', value: 'shut' } },
    signer,
  );
  await vault.flush();
  return { auth, ch, cred, signer, files, vault, touchPrompts: () => touchPrompts };
}

describe('CBOR (CTAP2 canonical subset)', () => {
  it('round-trips maps with int and text keys in canonical order', () => {
    const m = new Map<number | string, never>([
      ['b', 1 as never],
      [3, -8 as never],
      [-1, new Uint8Array([1, 2]) as never],
      [1, 'x' as never],
    ]);
    const enc = cborEncode(m);
    // CTAP2 canonical order: shorter encodings first, then bytewise — 1, 3, -1 (0x20), then "b"
    expect(Buffer.from(enc).toString('hex')).toBe('a4016178032720420102616201');
    expect(cborDecode(enc).value).toEqual(
      new Map<number | string, unknown>([
        [1, 'x'],
        [3, -8],
        ['b', 1],
        [-1, new Uint8Array([1, 2])],
      ]),
    );
  });
  it('refuses non-shortest heads, indefinite lengths, trailing bytes and floats: CBOR_INVALID', () => {
    for (const hex of ['1801', '5f', '0000', 'f93c00']) {
      expect(() => cborDecode(Buffer.from(hex, 'hex')), hex).toThrow(
        expect.objectContaining({ code: 'CBOR_INVALID' }),
      );
    }
  });
});

describe('CTAPHID framing', () => {
  it('splits a 300-byte message into 1 + 5 reports and reassembles it', async () => {
    const data = Uint8Array.from({ length: 300 }, (_, i) => i & 0xff);
    const packets = frame(7, 0x90, data);
    expect(packets).toHaveLength(1 + Math.ceil((300 - 57) / 59));
    const dev: HidDevice = {
      write: async () => {},
      read: async () => packets.shift() as Uint8Array,
      close: async () => {},
    };
    const r = await receive(dev, 7, 100);
    expect(r.cmd).toBe(0x90);
    expect(r.data).toEqual(data);
  });
  it('a continuation packet out of sequence: CTAPHID_FRAMING', async () => {
    const packets = frame(7, 0x90, new Uint8Array(200));
    [packets[1], packets[2]] = [packets[2] as Uint8Array, packets[1] as Uint8Array];
    const dev: HidDevice = {
      write: async () => {},
      read: async () => packets.shift() as Uint8Array,
      close: async () => {},
    };
    await expect(receive(dev, 7, 100)).rejects.toMatchObject({ code: 'CTAPHID_FRAMING' });
  });
});

describe('FIDO2 signing through CTAP2 (software authenticator test double)', () => {
  it('getInfo reports FIDO_2_0 and Ed25519 support', async () => {
    const ch = await CtapHidChannel.open(new SoftAuthenticator());
    expect(ch.supportsCbor).toBe(true);
    const info = await getInfo(ch);
    expect(info.versions).toContain('FIDO_2_0');
    expect(info.algorithms).toEqual([-8]);
  });

  it('a vault signed with an Ed25519 credential verifies: rpIdHash, UP flag, signature, counter — one touch per signature', async () => {
    const v = await fidoVault();
    const r = await verifyVault(v.files);
    expect(r.errors).toEqual([]);
    expect(r.signatures.webauthn).toBe(4);
    expect(v.auth.touches).toBe(1 + 4 + 1); // makeCredential, 4 events, manifest.sig
    expect(v.touchPrompts()).toBe(5);
    expect(v.signer.keyId).toMatch(/^bp1_[0-9a-f]{16}$/);
    const ev = parseJson(eventLines(v.files)[2] as string) as JsonObject;
    expect(ev.get('sig_format')).toBe('webauthn.v1');
  });

  it('getInfo decides the credential algorithm: Ed25519 if listed, else ES256; neither: CTAP_ERROR', () => {
    const info = (algorithms: (-8 | -7)[] | undefined) => ({
      versions: [],
      aaguid: new Uint8Array(16),
      algorithms,
    });
    expect(credentialAlgorithms(info([-7, -8]))).toEqual([-8]);
    expect(credentialAlgorithms(info([-7]))).toEqual([-7]);
    expect(credentialAlgorithms(info(undefined))).toEqual([-8, -7]); // CTAP 2.0: no list, let it choose
    expect(() => credentialAlgorithms(info([]))).toThrow(expect.objectContaining({ code: 'CTAP_ERROR' }));
  });

  it('an authenticator without Ed25519 falls back to ES256 and still verifies', async () => {
    const v = await fidoVault({ algorithms: [-7] });
    expect(v.signer.algorithm).toBe('ES256');
    expect((await verifyVault(v.files)).errors).toEqual([]);
  });

  it('an assertion replayed on another event: WEBAUTHN_SIGNATURE_INVALID', async () => {
    const v = await fidoVault();
    const lines = eventLines(v.files);
    const a = parseJson(lines[2] as string) as JsonObject;
    const b = parseJson(lines[3] as string) as JsonObject;
    b.set('sig', a.get('sig') as string);
    b.set('webauthn', a.get('webauthn') as JsonObject);
    lines[3] = canonicalize(b);
    setEventLines(v.files, lines);
    const c = codes(await verifyVault(v.files));
    expect(c.has('WEBAUTHN_SIGNATURE_INVALID')).toBe(true);
  });

  it('a counter going backwards (a cloned authenticator): WEBAUTHN_COUNTER_REGRESSION', async () => {
    const v = await fidoVault();
    v.auth.counter = 1;
    await v.vault.append(
      { type: 'OBSERVATION', actor: 'sensor', payload: { subject: 'x', predicate: 'y', value: 1 } },
      v.signer,
    );
    await v.vault.flush();
    expect(codes(await verifyVault(v.files))).toEqual(new Set(['WEBAUTHN_COUNTER_REGRESSION']));
  });

  it('an authenticator that signs without the user-presence flag: WEBAUTHN_USER_NOT_PRESENT', async () => {
    const v = await fidoVault({ omitUserPresenceFlag: true });
    const c = codes(await verifyVault(v.files));
    expect(c).toEqual(new Set(['WEBAUTHN_USER_NOT_PRESENT', 'MANIFEST_SIG_INVALID']));
  });

  it('a credential registered for another rp id: WEBAUTHN_RP_ID_MISMATCH', async () => {
    const v = await fidoVault();
    v.vault.keys.keys[0]?.entry.set(
      'fido2',
      new Map([
        ['rp_id', 'evil.example'],
        ['credential_id_b64', Buffer.from(v.cred.credentialId).toString('base64')],
      ]),
    );
    await v.vault.saveKeys();
    await v.vault.flush();
    const c = codes(await verifyVault(v.files));
    expect(c.has('WEBAUTHN_RP_ID_MISMATCH')).toBe(true);
  });

  it('sig_format stripped to pass the assertion off as Profile A: EVENT_ID_MISMATCH and SIGNATURE_INVALID', async () => {
    const v = await fidoVault();
    const lines = eventLines(v.files);
    const ev = parseJson(lines[3] as string) as JsonObject;
    ev.delete('sig_format');
    ev.delete('webauthn');
    lines[3] = canonicalize(ev);
    setEventLines(v.files, lines);
    const c = codes(await verifyVault(v.files));
    expect(c.has('EVENT_ID_MISMATCH')).toBe(true);
    expect(c.has('SIGNATURE_INVALID')).toBe(true);
  });

  it('a touch refused by the user: USER_PRESENCE_REQUIRED', async () => {
    let allow = true;
    const auth = new SoftAuthenticator({ presence: () => allow });
    const ch = await CtapHidChannel.open(auth);
    const signer = await fido2Signer(ch, await makeCredential(ch, { rpId: PROVARA_RP_ID, userName: 'u' }));
    allow = false;
    await expect(signer.sign(new Uint8Array([1]))).rejects.toMatchObject({ code: 'USER_PRESENCE_REQUIRED' });
  });
});
