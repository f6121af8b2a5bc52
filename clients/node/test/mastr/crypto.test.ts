import {
  createHash,
  createHmac,
  createPublicKey,
  generateKeyPairSync,
  sign,
  verify,
  webcrypto,
} from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { Channel } from '../../src/mastr/channel.ts';
import { signPrehashed, verifyPrehashed } from '../../src/mastr/emulator/p256-prehashed.ts';
import { Ephemeral } from '../../src/mastr/ephemeral.ts';
import { MastrError } from '../../src/mastr/errors.ts';
import { decryptFrameBody, encryptFrameBody } from '../../src/mastr/frame-crypto.ts';
import { encodeInnerFrame } from '../../src/mastr/framing.ts';
import { leftPad, publicKeyFromRaw, rawFromKeyObject, signRaw, verifyRaw } from '../../src/mastr/p256.ts';
import { deriveSessionKey } from '../../src/mastr/session-key.ts';

/**
 * Known answers from MASTR.md §3.1, computed with Python's `cryptography` (an independent implementation,
 * the library the seed host uses): HKDF-SHA256, salt "MASTR-Session-Key-v1", info empty, 16 bytes;
 * AES-128-GCM over the whole inner frame, IV ‖ C ‖ tag, no AAD.
 */
const hex = (s: string) => new Uint8Array(Buffer.from(s, 'hex'));
const toHex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const IKM = Uint8Array.from({ length: 32 }, (_, i) => i);
const KEY = 'ab9ffd182397720aefb711c97f849d6b';
const IV = Uint8Array.from({ length: 12 }, (_, i) => i);
const PING_BODY = '000102030405060708090a0bd89c79f31884908851d7b42b7e0f14ff0be30c7155266e61';
const ACK_BODY = '000102030405060708090a0bbb9c7dc2e4c547a666b83d29530595b4f23ca0d3';

function code(fn: () => unknown): { code: string; message: string } {
  try {
    fn();
  } catch (e) {
    if (e instanceof MastrError) return { code: e.code, message: e.message };
    throw e;
  }
  throw new Error('did not throw');
}

describe('session key: HKDF-SHA256, salt "MASTR-Session-Key-v1", empty info, 16 bytes', () => {
  it('matches the known answer for IKM 00..1f', () => {
    expect(toHex(deriveSessionKey(IKM))).toBe(KEY);
  });
  it('equals RFC 5869 extract-then-expand written out with HMAC', () => {
    const prk = createHmac('sha256', 'MASTR-Session-Key-v1').update(IKM).digest();
    const t1 = createHmac('sha256', prk).update(Buffer.of(1)).digest();
    expect(toHex(deriveSessionKey(IKM))).toBe(t1.subarray(0, 16).toString('hex'));
  });
  it('matches the known answer for a real P-256 ECDH (private keys 0x1111 and 0x2222)', () => {
    expect(
      toHex(deriveSessionKey(hex('19cfbcaa5b6f16b6d0d45634acd7aaa05b764a17e520771158a8db8688ba1f87'))),
    ).toBe('071675795c5fbc376bab99b7eebfeb2b');
  });
  it('rejects a secret that is not 32 bytes', () => {
    expect(code(() => deriveSessionKey(new Uint8Array(31)))).toEqual({
      code: 'KEY_INVALID',
      message: 'ECDH secret must be 32 bytes, got 31',
    });
  });
});

describe('frame encryption: AES-128-GCM over the whole inner frame', () => {
  it('encrypts the ping inner frame to the known body (IV ‖ C ‖ tag)', () => {
    const inner = encodeInnerFrame(0x22, hex('70696e67'));
    expect(toHex(encryptFrameBody(hex(KEY), inner, IV))).toBe(PING_BODY);
  });
  it('encrypts an empty HEARTBEAT_ACK to the known 32-byte body', () => {
    expect(toHex(encryptFrameBody(hex(KEY), encodeInnerFrame(0x41), IV))).toBe(ACK_BODY);
  });
  it('decrypts the known body to the inner frame', () => {
    expect(toHex(decryptFrameBody(hex(KEY), hex(PING_BODY)))).toBe('22000470696e67d4');
  });
  it('agrees with WebCrypto AES-GCM (tag appended, no AAD)', async () => {
    const k = await webcrypto.subtle.importKey('raw', hex(KEY), 'AES-GCM', false, ['decrypt']);
    const body = hex(PING_BODY);
    const plain = await webcrypto.subtle.decrypt(
      { name: 'AES-GCM', iv: body.subarray(0, 12) },
      k,
      body.subarray(12),
    );
    expect(Buffer.from(plain).toString('hex')).toBe('22000470696e67d4');
  });
  it('uses a fresh random IV for every frame', () => {
    const a = encryptFrameBody(hex(KEY), encodeInnerFrame(0x40));
    const b = encryptFrameBody(hex(KEY), encodeInnerFrame(0x40));
    expect(toHex(a.subarray(0, 12))).not.toBe(toHex(b.subarray(0, 12)));
  });
  it('rejects a tampered tag', () => {
    const body = hex(PING_BODY);
    body[body.length - 1]! ^= 1;
    expect(code(() => decryptFrameBody(hex(KEY), body))).toEqual({
      code: 'FRAME_DECRYPT_FAILED',
      message: 'GCM authentication failed (wrong key or altered frame)',
    });
  });
  it('rejects the wrong key', () => {
    expect(code(() => decryptFrameBody(hex('00'.repeat(16)), hex(PING_BODY))).code).toBe(
      'FRAME_DECRYPT_FAILED',
    );
  });
  it('rejects a body shorter than IV + tag (28 bytes)', () => {
    expect(code(() => decryptFrameBody(hex(KEY), new Uint8Array(27)))).toEqual({
      code: 'FRAME_DECRYPT_FAILED',
      message: 'encrypted frame of 27 bytes is shorter than IV + tag (28)',
    });
  });
});

describe('Channel (framing + the current key)', () => {
  it('sends plaintext until a key is set, then every frame encrypted', () => {
    const tx = new Channel();
    const rx = new Channel();
    expect(Buffer.from(tx.encode(0x32)).toString('hex')).toBe('7f320000327e');
    tx.setKey(hex(KEY));
    rx.setKey(hex(KEY));
    const evs = rx.receive(tx.encode(0x22, hex('70696e67')));
    expect(evs).toEqual([{ kind: 'message', message: { type: 0x22, payload: hex('70696e67') } }]);
  });
  it('reports a frame under another key as FRAME_DECRYPT_FAILED and keeps going', () => {
    const tx = new Channel();
    tx.setKey(hex('11'.repeat(16)));
    const rx = new Channel();
    rx.setKey(hex(KEY));
    const good = new Channel();
    good.setKey(hex(KEY));
    const evs = rx.receive(Buffer.concat([tx.encode(0x41), good.encode(0x41)]));
    expect(evs.map((e) => (e.kind === 'error' ? e.error.code : e.message.type))).toEqual([
      'FRAME_DECRYPT_FAILED',
      0x41,
    ]);
  });
  it('caps encrypted payloads at 228 bytes', () => {
    const c = new Channel();
    c.setKey(hex(KEY));
    expect(c.encode(0x31, new Uint8Array(228)).length).toBeGreaterThan(0);
    expect(code(() => c.encode(0x31, new Uint8Array(229)))).toEqual({
      code: 'FRAME_PAYLOAD_TOO_LARGE',
      message: 'encrypted payload of 229 bytes exceeds 228',
    });
  });
});

describe('P-256 on the wire: X ‖ Y keys, r ‖ s signatures, X-coordinate ECDH', () => {
  it('accepts the real token public key from the seed (host/token_permanent_pubkey.bin)', () => {
    const raw = hex(
      '9ef57b73f8a31f36f7c9b122acbf8e0250a8e7a2c29853c1da4bf4aae1299e73d7520b000d492a38d891f764fac543e4ca899b76ef1cfa5c775c218382ab367d',
    );
    expect(toHex(rawFromKeyObject(publicKeyFromRaw(raw)))).toBe(toHex(raw));
  });
  it('rejects a point that is not on the curve', () => {
    expect(code(() => publicKeyFromRaw(new Uint8Array(64).fill(1)))).toEqual({
      code: 'KEY_INVALID',
      message: 'public key is not a point on P-256',
    });
  });
  it('derives the known shared X coordinate (private keys 0x1111 and 0x2222, Python cross-check)', () => {
    const a = new Ephemeral(leftPad(hex('1111'), 32));
    const bPub =
      'a62f048f367359809c2d46c2049d7d7bf268c3c073c472753cb18a24a8ad20b1caccf8104b666795c7f35dac9dc444b3c2c61978198c49859955b99956da5edb';
    expect(toHex(new Ephemeral(leftPad(hex('2222'), 32)).publicRaw)).toBe(bPub);
    expect(toHex(a.sharedSecret(hex(bPub)))).toBe(
      '19cfbcaa5b6f16b6d0d45634acd7aaa05b764a17e520771158a8db8688ba1f87',
    );
  });
  it('agrees with WebCrypto ECDH deriveBits (the X coordinate)', async () => {
    const a = new Ephemeral();
    const pair = await webcrypto.subtle.generateKey({ name: 'ECDH', namedCurve: 'P-256' }, true, [
      'deriveBits',
    ]);
    const peerRaw = new Uint8Array(await webcrypto.subtle.exportKey('raw', pair.publicKey)).subarray(1);
    const mine = await webcrypto.subtle.importKey(
      'raw',
      Buffer.concat([Buffer.of(4), a.publicRaw]),
      { name: 'ECDH', namedCurve: 'P-256' },
      false,
      [],
    );
    const bits = await webcrypto.subtle.deriveBits({ name: 'ECDH', public: mine }, pair.privateKey, 256);
    expect(toHex(a.sharedSecret(peerRaw))).toBe(Buffer.from(bits).toString('hex'));
  });
  it('rejects a peer ephemeral that is not on the curve', () => {
    expect(code(() => new Ephemeral().sharedSecret(new Uint8Array(64).fill(3)))).toEqual({
      code: 'KEY_INVALID',
      message: 'peer ephemeral is not a point on P-256',
    });
  });
  it('gives a fresh ephemeral every time', () => {
    expect(toHex(new Ephemeral().publicRaw)).not.toBe(toHex(new Ephemeral().publicRaw));
  });
  it('left-pads short coordinates and scalars to 32 bytes and strips surplus zeros', () => {
    expect(toHex(leftPad(hex('0102'), 4))).toBe('00000102');
    expect(toHex(leftPad(hex('0000000102'), 4))).toBe('00000102');
    expect(code(() => leftPad(hex('0102030405'), 4, 'r'))).toEqual({
      code: 'KEY_INVALID',
      message: 'r is 5 bytes, more than 4',
    });
  });
  it('signs SHA-256(message) as r ‖ s that a DER verifier accepts', () => {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    const msg = new Uint8Array(64).fill(7);
    const sig = signRaw(privateKey, msg);
    expect(sig).toHaveLength(64);
    expect(verify('sha256', msg, { key: publicKey, dsaEncoding: 'ieee-p1363' }, sig)).toBe(true);
    expect(verifyRaw(rawFromKeyObject(publicKey), msg, sig)).toBe(true);
    msg[0] = 8;
    expect(verifyRaw(rawFromKeyObject(publicKey), msg, sig)).toBe(false);
  });
  it('the ATECC 32-byte rule: a 32-byte message is signed as the digest itself', () => {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    const d = Buffer.from(privateKey.export({ format: 'jwk' }).d ?? '', 'base64url');
    const original = Buffer.from('what the digest is of');
    const digest = new Uint8Array(createHash('sha256').update(original).digest());
    const sig = signPrehashed(d, digest);
    // Verifying SHA-256(original) with Node proves the prehashed signer signed exactly `digest`.
    expect(verify('sha256', original, { key: publicKey, dsaEncoding: 'ieee-p1363' }, sig)).toBe(true);
    const nodeSig = sign('sha256', original, { key: privateKey, dsaEncoding: 'ieee-p1363' });
    expect(verifyPrehashed(rawFromKeyObject(createPublicKey(privateKey)), digest, nodeSig)).toBe(true);
    expect(verifyPrehashed(rawFromKeyObject(publicKey), new Uint8Array(32), nodeSig)).toBe(false);
  });
});
