import { generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { Channel } from '../../src/mastr/channel.ts';
import { MSG, PING } from '../../src/mastr/constants.ts';
import { Ephemeral } from '../../src/mastr/ephemeral.ts';
import { FailHaltClassifier } from '../../src/mastr/fail-halt.ts';
import { decryptFrameBody } from '../../src/mastr/frame-crypto.ts';
import { decodeInnerFrame, FrameReceiver } from '../../src/mastr/framing.ts';
import { type HostOutput, HostStateMachine } from '../../src/mastr/host-state-machine.ts';
import { decodeEcdhShare, encodeEcdhShare } from '../../src/mastr/messages.ts';
import { rawFromKeyObject, signRaw } from '../../src/mastr/p256.ts';
import { deriveSessionKey } from '../../src/mastr/session-key.ts';

/** The host's key-switch rules (MASTR.md §3.3) against a scripted token built from the primitives. */

const token = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
const tokenPub = rawFromKeyObject(token.publicKey);
const hostSig = new Uint8Array(64).fill(9); // the token side of these tests does not check it

const writes = (out: HostOutput[]) => out.flatMap((o) => (o.kind === 'write' ? [o] : []));
function body(bytes: Uint8Array): Uint8Array {
  const [ev] = new FrameReceiver().push(bytes);
  if (ev?.kind !== 'frame') throw new Error('no frame');
  return ev.body;
}
function tokenShare(eph: Ephemeral, signer = token.privateKey): Uint8Array {
  return encodeEcdhShare({ ephemeralPub: eph.publicRaw, signature: signRaw(signer, eph.publicRaw) });
}

/** Runs the first handshake up to RUNTIME; returns the machine, the token's channel and the key. */
function handshake() {
  const sm = new HostStateMachine({ tokenPub, debugFrames: 'tolerate' });
  const [first] = writes(sm.start(new Ephemeral(), hostSig));
  const share = decodeEcdhShare(decodeInnerFrame(body(first!.bytes)).payload); // plaintext 0x20
  const tokenEph = new Ephemeral();
  const key = deriveSessionKey(tokenEph.sharedSecret(share.ephemeralPub));
  const plain = new Channel();
  const tok = new Channel();
  tok.setKey(key);
  const out = sm.receive(plain.encode(MSG.T2H_ECDH_SHARE, tokenShare(tokenEph)));
  expect(out).toEqual([{ kind: 'session-key', key }]);
  sm.receive(tok.encode(MSG.T2H_CHANNEL_VERIFY_REQUEST, PING));
  const need = sm.receive(tok.encode(MSG.T2H_INTEGRITY_CHALLENGE, Uint8Array.of(1, 2, 3, 4)));
  expect(need).toEqual([{ kind: 'need-integrity', nonce: Uint8Array.of(1, 2, 3, 4) }]);
  sm.respondIntegrity(new Uint8Array(32), hostSig);
  const done = sm.receive(tok.encode(MSG.T2H_BOOT_OK));
  expect(done.map((o) => o.kind)).toEqual(['write', 'attested']);
  return { sm, tok, key };
}

describe('first handshake', () => {
  it('sends 0x20 in plaintext: fresh ephemeral ‖ signature, 128 bytes', () => {
    const sm = new HostStateMachine({ tokenPub, debugFrames: 'fatal' });
    const eph = new Ephemeral();
    const [w] = writes(sm.start(eph, hostSig));
    expect(decodeInnerFrame(body(w!.bytes))).toEqual({
      type: 0x20,
      payload: encodeEcdhShare({ ephemeralPub: eph.publicRaw, signature: hostSig }),
    });
    expect(sm.phase).toBe('await-token-share');
  });
  it('switches to the new key on 0x21, before the ping, and answers the ping with an encrypted pong', () => {
    const { key } = handshake();
    expect(key).toHaveLength(16);
  });
  it('encrypts pong, integrity response and BOOT_OK_ACK with the new key', () => {
    const sm = new HostStateMachine({ tokenPub, debugFrames: 'tolerate' });
    const share = decodeEcdhShare(
      decodeInnerFrame(body(writes(sm.start(new Ephemeral(), hostSig))[0]!.bytes)).payload,
    );
    const tokenEph = new Ephemeral();
    const key = deriveSessionKey(tokenEph.sharedSecret(share.ephemeralPub));
    sm.receive(new Channel().encode(MSG.T2H_ECDH_SHARE, tokenShare(tokenEph)));
    const tok = new Channel();
    tok.setKey(key);
    const [pong] = writes(sm.receive(tok.encode(MSG.T2H_CHANNEL_VERIFY_REQUEST, PING)));
    expect(decodeInnerFrame(decryptFrameBody(key, body(pong!.bytes)))).toEqual({
      type: 0x23,
      payload: Uint8Array.from(Buffer.from('pong')),
    });
  });
  it('fails with SIGNATURE_INVALID when 0x21 is signed by another key', () => {
    const sm = new HostStateMachine({ tokenPub, debugFrames: 'fatal' });
    sm.start(new Ephemeral(), hostSig);
    const other = generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey;
    const [o] = sm.receive(new Channel().encode(MSG.T2H_ECDH_SHARE, tokenShare(new Ephemeral(), other)));
    expect(o?.kind).toBe('failed');
    expect(o?.kind === 'failed' && o.error.code).toBe('SIGNATURE_INVALID');
    expect(o?.kind === 'failed' && o.error.message).toMatch(
      /^T2H_ECDH_SHARE signature does not verify with the stored token public key/,
    );
    expect(sm.phase).toBe('failed');
  });
  it('fails with MESSAGE_MALFORMED on a 0x21 that is not 128 bytes', () => {
    const sm = new HostStateMachine({ tokenPub, debugFrames: 'fatal' });
    sm.start(new Ephemeral(), hostSig);
    const [o] = sm.receive(new Channel().encode(MSG.T2H_ECDH_SHARE, new Uint8Array(127)));
    expect(o).toMatchObject({
      kind: 'failed',
      error: { code: 'MESSAGE_MALFORMED', message: 'ECDH share must be 128 bytes, got 127' },
    });
  });
  it('fails when the channel check is not "ping"', () => {
    const sm = new HostStateMachine({ tokenPub, debugFrames: 'fatal' });
    const share = decodeEcdhShare(
      decodeInnerFrame(body(writes(sm.start(new Ephemeral(), hostSig))[0]!.bytes)).payload,
    );
    const eph = new Ephemeral();
    sm.receive(new Channel().encode(MSG.T2H_ECDH_SHARE, tokenShare(eph)));
    const tok = new Channel();
    tok.setKey(deriveSessionKey(eph.sharedSecret(share.ephemeralPub)));
    const [o] = sm.receive(tok.encode(MSG.T2H_CHANNEL_VERIFY_REQUEST, Uint8Array.from(Buffer.from('pinx'))));
    expect(o).toMatchObject({
      kind: 'failed',
      error: { code: 'MESSAGE_MALFORMED', message: 'channel check payload is not "ping"' },
    });
  });
});

describe('token-initiated re-attestation (the key-switch rule)', () => {
  it('answers 0x21 under the OLD key with 0x20 under the OLD key, then uses the new key at once', () => {
    const { sm, tok, key: oldKey } = handshake();
    const eph2 = new Ephemeral();
    expect(sm.receive(tok.encode(MSG.T2H_ECDH_SHARE, tokenShare(eph2)))).toEqual([
      { kind: 'need-reattest-share' },
    ]);
    const hostEph = new Ephemeral();
    const out = sm.answerReattest(hostEph, hostSig);
    const [share] = writes(out);
    // The 0x20 decrypts under the old key…
    const inner = decodeInnerFrame(decryptFrameBody(oldKey, body(share!.bytes)));
    expect(inner.type).toBe(0x20);
    const newKey = deriveSessionKey(eph2.sharedSecret(hostEph.publicRaw));
    expect(out.at(-1)).toEqual({ kind: 'session-key', key: newKey });
    // …and the ping that follows is read under the new key.
    const tok2 = new Channel();
    tok2.setKey(newKey);
    const [pong] = writes(sm.receive(tok2.encode(MSG.T2H_CHANNEL_VERIFY_REQUEST, PING)));
    expect(decodeInnerFrame(decryptFrameBody(newKey, body(pong!.bytes))).type).toBe(0x23);
  });
  it('marks the completed re-attestation as such', () => {
    const { sm, tok } = handshake();
    const eph2 = new Ephemeral();
    sm.receive(tok.encode(MSG.T2H_ECDH_SHARE, tokenShare(eph2)));
    const hostEph = new Ephemeral();
    sm.answerReattest(hostEph, hostSig);
    const t2 = new Channel();
    t2.setKey(deriveSessionKey(eph2.sharedSecret(hostEph.publicRaw)));
    sm.receive(t2.encode(MSG.T2H_CHANNEL_VERIFY_REQUEST, PING));
    sm.receive(t2.encode(MSG.T2H_INTEGRITY_CHALLENGE, Uint8Array.of(9, 9, 9, 9)));
    sm.respondIntegrity(new Uint8Array(32), hostSig);
    const out = sm.receive(t2.encode(MSG.T2H_BOOT_OK));
    expect(out.at(-1)).toMatchObject({ kind: 'attested', reattestation: true });
  });
  it('reports a frame under the old key after the switch as a frame error, not a failure', () => {
    const { sm, tok } = handshake();
    sm.receive(tok.encode(MSG.T2H_ECDH_SHARE, tokenShare(new Ephemeral())));
    sm.answerReattest(new Ephemeral(), hostSig);
    const [o] = sm.receive(tok.encode(MSG.T2H_HEARTBEAT_ACK)); // a late ACK under the old key
    expect(o).toMatchObject({ kind: 'frame-error', error: { code: 'FRAME_DECRYPT_FAILED' } });
    expect(sm.phase).toBe('await-ping');
  });
});

describe('runtime and any-phase messages', () => {
  it('heartbeats only in RUNTIME', () => {
    const sm = new HostStateMachine({ tokenPub, debugFrames: 'fatal' });
    expect(() => sm.heartbeat()).toThrow('heartbeat() in phase idle (needs runtime)');
    const { sm: live, key } = handshake();
    const [hb] = writes(live.heartbeat());
    expect(decodeInnerFrame(decryptFrameBody(key, body(hb!.bytes)))).toEqual({
      type: 0x40,
      payload: new Uint8Array(0),
    });
  });
  it('reports 0x33, T2H_ERROR and NACK without changing phase', () => {
    const { sm, tok } = handshake();
    expect(sm.receive(tok.encode(MSG.T2H_INTEGRITY_FAIL_HALT))).toEqual([{ kind: 'fail-halt' }]);
    expect(sm.receive(tok.encode(MSG.T2H_ERROR))).toEqual([
      { kind: 'token-error', type: 0, payload: new Uint8Array(0) },
    ]);
    expect(sm.receive(tok.encode(MSG.T2H_NACK, Uint8Array.of(0x31)))).toEqual([
      { kind: 'token-error', type: 1, payload: Uint8Array.of(0x31) },
    ]);
    expect(sm.phase).toBe('runtime');
  });
  it('DEBUG_MSG: tolerated as text, or fatal by policy', () => {
    const { sm, tok } = handshake();
    expect(sm.receive(tok.encode(MSG.DEBUG_MSG, Uint8Array.from(Buffer.from('state 0x40\n'))))).toEqual([
      { kind: 'debug-text', text: 'state 0x40' },
    ]);
    const strict = new HostStateMachine({ tokenPub, debugFrames: 'fatal' });
    strict.start(new Ephemeral(), hostSig);
    const [o] = strict.receive(new Channel().encode(MSG.DEBUG_MSG, Uint8Array.from(Buffer.from('hi\n'))));
    expect(o).toMatchObject({ kind: 'failed', error: { code: 'DEBUG_FRAME_REFUSED' } });
    expect(o?.kind === 'failed' && o.error.message).toContain('refused by policy: "hi"');
  });
  it('reports a message the phase does not expect and carries on', () => {
    const { sm, tok } = handshake();
    expect(sm.receive(tok.encode(MSG.T2H_BOOT_OK))).toEqual([
      { kind: 'unexpected', type: 0x32, phase: 'runtime' },
    ]);
    expect(sm.phase).toBe('runtime');
  });
  it('starts in RUNTIME with a handed-over session key', () => {
    const key = new Uint8Array(16).fill(5);
    const sm = new HostStateMachine({ tokenPub, debugFrames: 'fatal', sessionKey: key });
    const tok = new Channel();
    tok.setKey(key);
    expect(sm.phase).toBe('runtime');
    expect(sm.receive(tok.encode(MSG.T2H_HEARTBEAT_ACK))).toEqual([{ kind: 'heartbeat-ack' }]);
  });
});

describe('FailHaltClassifier', () => {
  it('one 0x33 is a single error signal; another within the window is the halt stream', () => {
    const c = new FailHaltClassifier(2500);
    expect(c.record(0)).toBe('single');
    expect(c.record(10_000)).toBe('single');
    expect(c.record(11_000)).toBe('halt');
  });
});
