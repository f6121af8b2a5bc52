import { generateKeyPairSync } from 'node:crypto';
import { connect } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { runBootstrap } from '../../src/mastr/bootstrap.ts';
import { Channel } from '../../src/mastr/channel.ts';
import {
  DEFAULT_HOST_TIMINGS,
  FIRMWARE_TOKEN_TIMINGS,
  MSG,
  scaleHostTimings,
  scaleTokenTimings,
  TOKEN_STATE,
} from '../../src/mastr/constants.ts';
import { TokenEmulator } from '../../src/mastr/emulator/token-emulator.ts';
import { Ephemeral } from '../../src/mastr/ephemeral.ts';
import { decryptFrameBody } from '../../src/mastr/frame-crypto.ts';
import { decodeInnerFrame, wrapFrame } from '../../src/mastr/framing.ts';
import { HostSession } from '../../src/mastr/host-session.ts';
import { HostStateMachine } from '../../src/mastr/host-state-machine.ts';
import { rawFromKeyObject, signRaw } from '../../src/mastr/p256.ts';
import { buildRequest, parseHttpResponse } from '../../src/mastr/provisioning-client.ts';
import { openTcpLink } from '../../src/mastr/transport-tcp.ts';
import { rawLink, sleep, waitFor } from './helpers.ts';

/** The emulator's firmware behaviour (MASTR.md §1.3–§4.5, §8) and its HTTP server quirks (§2.2). */

const host = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
const signer = { sign: async (m: Uint8Array) => signRaw(host.privateKey, m) };
const GOLDEN = new Uint8Array(32).fill(0xab);
let emu: TokenEmulator | undefined;

afterEach(async () => {
  await emu?.stop();
  emu = undefined;
});

async function provisioned(o: { debugBuild?: boolean } = {}): Promise<TokenEmulator> {
  const e = await TokenEmulator.start({
    serial: { host: '127.0.0.1', port: 0 },
    http: { host: '127.0.0.1', port: 0 },
    timings: scaleTokenTimings(FIRMWARE_TOKEN_TIMINGS, 0.1),
    debugBuild: o.debugBuild ?? false,
    httpTaskMs: 10,
  });
  e.atecc.writeHostPub(rawFromKeyObject(host.publicKey));
  e.atecc.writeBlock(2, GOLDEN);
  await e.powerCycle();
  emu = e;
  return e;
}

const plainFrames = (frames: Uint8Array[]) => frames.map((f) => decodeInnerFrame(f));

describe('token firmware over the serial link', () => {
  it('ignores serial input entirely while unprovisioned (state 0x10)', async () => {
    emu = await TokenEmulator.start({ serial: { host: '127.0.0.1', port: 0 } });
    expect(emu.firmware.state).toBe(TOKEN_STATE.UNPROVISIONED);
    const raw = await rawLink(emu.serialAddress.port);
    raw.socket.write(wrapFrame(Uint8Array.of(0x20, 0, 0, 0x99))); // bad checksum: would FAIL_HALT if processed
    await sleep(150);
    expect(raw.frames).toEqual([]);
    raw.socket.destroy();
  });

  it('answers a bad checksum with one plaintext 0x33 and keeps its state', async () => {
    const e = await provisioned();
    const raw = await rawLink(e.serialAddress.port);
    raw.socket.write(wrapFrame(Uint8Array.of(0x20, 0, 0, 0x99)));
    await waitFor(() => raw.frames.length === 1, 2000, '0x33');
    await sleep(100);
    expect(plainFrames(raw.frames)).toEqual([{ type: 0x33, payload: new Uint8Array(0) }]);
    expect(e.firmware.state).toBe(TOKEN_STATE.WAIT_ECDH);
    raw.socket.destroy();
  });

  it('drops a frame with an invalid escape without replying', async () => {
    const e = await provisioned();
    const raw = await rawLink(e.serialAddress.port);
    raw.socket.write(Uint8Array.of(0x7f, 0x20, 0x7d, 0x01, 0x00, 0x7e));
    await sleep(150);
    expect(raw.frames).toEqual([]);
    raw.socket.destroy();
  });

  it('silently ignores a heartbeat outside RUNTIME', async () => {
    const e = await provisioned();
    const raw = await rawLink(e.serialAddress.port);
    raw.socket.write(new Channel().encode(MSG.H2T_HEARTBEAT));
    await sleep(150);
    expect(raw.frames).toEqual([]);
    raw.socket.destroy();
  });

  it('release build: a debug command is answered with FAIL_HALT once', async () => {
    const e = await provisioned();
    const raw = await rawLink(e.serialAddress.port);
    raw.socket.write(new Channel().encode(MSG.T2H_DEBUG_GET_TOKEN_PUBKEY));
    await waitFor(() => raw.frames.length === 1, 2000, 'reply');
    expect(plainFrames(raw.frames)[0]?.type).toBe(0x33);
    raw.socket.destroy();
  });

  it('DEBUG build: 0xFA returns the token key, 0xF9 echoes the golden hash it wrote', async () => {
    const e = await provisioned({ debugBuild: true });
    const raw = await rawLink(e.serialAddress.port);
    const c = new Channel();
    raw.socket.write(c.encode(MSG.T2H_DEBUG_GET_TOKEN_PUBKEY));
    raw.socket.write(c.encode(MSG.H2T_DEBUG_SET_GOLDEN_HASH, new Uint8Array(32).fill(0xcd)));
    await waitFor(() => raw.frames.length === 2, 2000, 'two replies');
    expect(plainFrames(raw.frames)).toEqual([
      { type: 0xfa, payload: e.atecc.tokenPub },
      { type: 0xf9, payload: new Uint8Array(32).fill(0xcd) },
    ]);
    raw.socket.destroy();
  });

  it('keeps the firmware delays: 0x21 ≥ 500 ms after 0x20, the ping ≥ 1000 ms after 0x21 (× 0.1)', async () => {
    const e = await provisioned();
    const raw = await rawLink(e.serialAddress.port);
    const sm = new HostStateMachine({ tokenPub: e.atecc.tokenPub, debugFrames: 'fatal' });
    const eph = new Ephemeral();
    const [w] = sm.start(eph, await signer.sign(eph.publicRaw));
    const sent = Date.now();
    const stamps: number[] = [];
    raw.socket.on('data', () => stamps.push(Date.now()));
    raw.socket.write(w?.kind === 'write' ? w.bytes : new Uint8Array(0));
    await waitFor(() => raw.frames.length >= 2, 3000, '0x21 and ping');
    expect(decodeInnerFrame(raw.frames[0]!).type).toBe(0x21); // plaintext
    expect(stamps[0]! - sent).toBeGreaterThanOrEqual(45);
    expect(stamps[1]! - stamps[0]!).toBeGreaterThanOrEqual(95);
    expect(e.firmware.isEncrypted).toBe(true);
    // The ping is under the new key, and a plaintext frame is now a GCM failure: FAIL_HALT once, encrypted.
    sm.receive(wrapFrame(raw.frames[0]!));
    const key = sm.sessionKey!;
    expect(decodeInnerFrame(decryptFrameBody(key, raw.frames[1]!))).toEqual({
      type: 0x22,
      payload: Uint8Array.from(Buffer.from('ping')),
    });
    raw.socket.write(new Channel().encode(MSG.H2T_ECDH_SHARE, new Uint8Array(128)));
    await waitFor(() => raw.frames.length >= 3, 2000, '0x33');
    expect(decodeInnerFrame(decryptFrameBody(key, raw.frames[2]!)).type).toBe(0x33);
    expect(e.firmware.state).toBe(TOKEN_STATE.WAIT_PONG);
    raw.socket.destroy();
  });

  it('NACKs an integrity response that is not 96 bytes and stays in 0x30', async () => {
    const e = await provisioned();
    const link = await openTcpLink('127.0.0.1', e.serialAddress.port);
    const session = new HostSession({
      link,
      signer,
      tokenPub: e.atecc.tokenPub,
      integrityHash: () => GOLDEN,
      debugFrames: 'fatal',
      log: () => undefined,
    });
    const nacks: number[] = [];
    session.on((o) => {
      if (o.kind === 'token-error') nacks.push(o.type);
    });
    // Answer the challenge with a short response instead of the session's own.
    session.sm.respondIntegrity = () => {
      const c = new Channel();
      c.setKey(session.sm.sessionKey!);
      return [{ kind: 'write', type: 0x31, bytes: c.encode(0x31, new Uint8Array(95)) }];
    };
    await session.start();
    await waitFor(() => nacks.length === 1, 3000, 'NACK');
    expect(nacks).toEqual([MSG.T2H_NACK]);
    expect(e.firmware.state).toBe(TOKEN_STATE.WAIT_INTEGRITY);
    expect(e.firmware.stats.nacks).toBe(1);
    await link.close();
  });

  it('a full handshake reaches RUNTIME and heartbeats are ACKed about 500 ms (× 0.1) later', async () => {
    const e = await provisioned();
    const link = await openTcpLink('127.0.0.1', e.serialAddress.port);
    const session = new HostSession({
      link,
      signer,
      tokenPub: e.atecc.tokenPub,
      integrityHash: () => GOLDEN,
      debugFrames: 'fatal',
      log: () => undefined,
    });
    await runBootstrap(session, scaleHostTimings(DEFAULT_HOST_TIMINGS, 0.2));
    await waitFor(() => e.firmware.state === TOKEN_STATE.RUNTIME, 1000, 'BOOT_OK_ACK processed');
    let acked = 0;
    session.on((o) => {
      if (o.kind === 'heartbeat-ack') acked = Date.now();
    });
    const t0 = Date.now();
    await session.heartbeat();
    await waitFor(() => acked > 0, 2000, 'ACK');
    expect(acked - t0).toBeGreaterThanOrEqual(45);
    await link.close();
  });
});

async function http(port: number, ...writes: string[]): Promise<string> {
  const s = connect({ host: '127.0.0.1', port });
  await new Promise<void>((r) => s.once('connect', () => r()));
  let text = '';
  s.on('data', (d: Buffer) => (text += d.toString()));
  s.on('error', () => undefined);
  const closed = new Promise<void>((r) => s.once('close', () => r()));
  for (const w of writes) {
    if (!s.destroyed) s.write(w);
    await sleep(30);
  }
  await closed;
  return text;
}

describe('provisioning HTTP API quirks', () => {
  it('S1 (open, unclaimed): only ping, health and claim; claim once per boot', async () => {
    emu = await TokenEmulator.start({
      serial: { host: '127.0.0.1', port: 0 },
      http: { host: '127.0.0.1', port: 0 },
      httpTaskMs: 10,
    });
    const port = emu.httpAddress!.port;
    expect(
      parseHttpResponse(await http(port, buildRequest('POST', 'x', '/api/auth/generate-token'))),
    ).toEqual({ status: 404, body: { error: 'not found' } });
    const claim = parseHttpResponse(await http(port, buildRequest('GET', 'x', '/api/claim')));
    expect(claim.status).toBe(200);
    expect(claim.body).toMatchObject({ status: 'ok', ssid: 'MASTR-Token', message: 'reboot_device' });
    expect(parseHttpResponse(await http(port, buildRequest('GET', 'x', '/api/claim')))).toEqual({
      status: 409,
      body: { error: 'already_claimed' },
    });
  });

  it('sends 202 as a bare status line and 200 with its reason phrase', async () => {
    const e = await provisioned();
    await e.powerCycle(); // S3 now; use S2 by wiping the golden hash
    e.atecc.writeBlock(2, new Uint8Array(32));
    e.atecc.writeBlock(3, new Uint8Array(32).fill(0x41));
    await e.powerCycle();
    expect(e.api?.bootState).toBe('S2');
    const port = e.httpAddress!.port;
    const tok = await http(port, buildRequest('POST', 'x', '/api/auth/generate-token'));
    expect(tok.startsWith('HTTP/1.1 200 OK\r\n')).toBe(true);
    const bearer = String(parseHttpResponse(tok).body.bearer_token);
    const post = await http(
      port,
      buildRequest('POST', 'x', '/api/provision/golden_hash', bearer, 'ab'.repeat(32)),
    );
    expect(post.startsWith('HTTP/1.1 202\r\n')).toBe(true);
    expect(parseHttpResponse(post).body).toEqual({
      status: 'accepted',
      message: 'golden_hash_operation_queued',
    });
    // Once per boot.
    expect(
      parseHttpResponse(await http(port, buildRequest('POST', 'x', '/api/auth/generate-token'))),
    ).toMatchObject({ status: 409, body: { error: 'token_already_generated' } });
    // Dispatch at the first CRLFCRLF: a body sent in a second segment is never seen.
    const head = buildRequest('POST', 'x', '/api/provision/host_pubkey', bearer, 'ab'.repeat(64));
    const split = head.indexOf('\r\n\r\n') + 4;
    expect(parseHttpResponse(await http(port, head.slice(0, split), head.slice(split)))).toEqual({
      status: 400,
      body: { error: 'missing_body' },
    });
    // Exact path match: a query string is a 404; a missing bearer is a 401 with the firmware's message.
    expect(
      parseHttpResponse(await http(port, buildRequest('GET', 'x', '/api/provision/token_info?x=1', bearer)))
        .status,
    ).toBe(404);
    expect(
      parseHttpResponse(await http(port, buildRequest('GET', 'x', '/api/provision/token_info'))),
    ).toEqual({
      status: 401,
      body: {
        error: 'unauthorized',
        message: 'Bearer token required. Call POST /api/auth/generate-token first.',
      },
    });
    expect(
      parseHttpResponse(
        await http(port, buildRequest('POST', 'x', '/api/provision/host_pubkey', bearer, 'zz'.repeat(64))),
      ),
    ).toEqual({
      status: 400,
      body: { error: 'invalid_hex_format' },
    });
    expect(
      parseHttpResponse(
        await http(port, buildRequest('POST', 'x', '/api/provision/host_pubkey', bearer, 'ab')),
      ),
    ).toEqual({
      status: 400,
      body: { error: 'invalid_length', expected: 128, got: 2 },
    });
  });

  it('serves one connection at a time: a second concurrent one is closed without a response', async () => {
    const e = await provisioned();
    const port = e.httpAddress!.port;
    const first = connect({ host: '127.0.0.1', port });
    await new Promise<void>((r) => first.once('connect', () => r()));
    await sleep(30);
    const second = await http(port, buildRequest('GET', 'x', '/api/ping'));
    expect(second).toBe('');
    first.destroy();
  });
});

describe('provisioning client parsing', () => {
  it('accepts a bare status line, a reason phrase, and an empty body', () => {
    expect(parseHttpResponse('HTTP/1.1 202\r\nContent-Length: 2\r\n\r\n{}')).toEqual({
      status: 202,
      body: {},
    });
    expect(parseHttpResponse('HTTP/1.1 200 OK\r\n\r\n{"a":1}')).toEqual({ status: 200, body: { a: 1 } });
    expect(parseHttpResponse('HTTP/1.1 204\r\n\r\n')).toEqual({ status: 204, body: {} });
  });
  it('rejects what is not HTTP with HTTP_FAILED', () => {
    expect(() => parseHttpResponse('SSH-2.0-x\r\n')).toThrow('not an HTTP response: "SSH-2.0-x\\r\\n"');
  });
  it('builds one buffer: headers, bearer, body', () => {
    expect(buildRequest('POST', 'h', '/p', 'b'.repeat(64), 'xy')).toBe(
      `POST /p HTTP/1.1\r\nHost: h\r\nConnection: close\r\nAuthorization: Bearer ${'b'.repeat(64)}\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nxy`,
    );
  });
});
