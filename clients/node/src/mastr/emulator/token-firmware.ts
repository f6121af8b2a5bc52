import { randomBytes } from 'node:crypto';
import {
  FIRMWARE_TOKEN_TIMINGS,
  MAX_DEBUG_TEXT,
  MSG,
  PING,
  PONG,
  TOKEN_STATE,
  type TokenState,
  type TokenTimings,
} from '../constants.ts';
import { Ephemeral } from '../ephemeral.ts';
import type { MastrError } from '../errors.ts';
import { decryptFrameBody, encryptFrameBody } from '../frame-crypto.ts';
import { decodeInnerFrame, encodeInnerFrame, FrameReceiver, wrapFrame } from '../framing.ts';
import {
  decodeEcdhShare,
  decodeIntegrityResponse,
  encodeEcdhShare,
  integritySignedBytes,
  startsWith,
} from '../messages.ts';
import { deriveSessionKey } from '../session-key.ts';
import type { Atecc } from './atecc.ts';

/**
 * The token's serial protocol as the LLJY/MASTR firmware runs it (MASTR.md §1.3–§4.5), faithfully
 * including its weaknesses: one serial task that handles a frame at a time and *sleeps inside handlers*
 * (500 ms / 1000 ms), a 512-byte RX ring that drops on overflow, `is_encrypted` that sticks until power-off,
 * "FAIL_HALT once" without a state change for bad frames, a permanent HALT that streams 0x33 every second
 * and stops processing input, heartbeats silently ignored outside RUNTIME, no phase timeouts, and the
 * watchdog that re-attests 30 s after every BOOT_OK_ACK regardless of heartbeats.
 */

export interface TokenFirmwareOptions {
  atecc: Atecc;
  timings?: Partial<TokenTimings>;
  /** `-DENABLE_DEBUG=ON`: DEBUG_MSG text at any time, debug commands 0xF9–0xFD accepted in any state. */
  debugBuild?: boolean;
  /** Bytes for the serial link (the emulator drops them when no host has the port open). */
  output(bytes: Uint8Array): void;
  /** The firmware's log, for the emulator's console. */
  log?(line: string): void;
  now?(): number;
}

const RX_RING_BYTES = 512;

export class TokenFirmware {
  state: TokenState;
  isEncrypted = false;
  readonly provisionedAtBoot: boolean;
  readonly timings: TokenTimings;
  private key: Uint8Array | null = null;
  private readonly serialEnabled: boolean;
  private readonly ring: number[] = [];
  private readonly receiver = new FrameReceiver();
  private processing = false;
  private sessionValid = false;
  private sessionStart = 0;
  private nonce: Uint8Array | null = null;
  private readonly timers = new Set<NodeJS.Timeout>();
  private off = false;
  private readonly now: () => number;
  /** Counters for tests and the console. */
  readonly stats = { failHaltOnce: 0, nacks: 0, reattestations: 0, heartbeatsAcked: 0, rxDropped: 0 };

  constructor(private readonly o: TokenFirmwareOptions) {
    this.timings = { ...FIRMWARE_TOKEN_TIMINGS, ...o.timings };
    this.now = o.now ?? Date.now;
    // `protocol_check_provisioned` runs once, at boot; `serial_init` only when provisioned (§1.1, §2.1).
    this.provisionedAtBoot = o.atecc.provisioned;
    this.serialEnabled = this.provisionedAtBoot;
    this.state = this.provisionedAtBoot ? TOKEN_STATE.WAIT_ECDH : TOKEN_STATE.UNPROVISIONED;
    const tick = setInterval(() => this.watchdog(), this.timings.watchdogTickMs);
    tick.unref();
    this.timers.add(tick);
    this.log(
      `boot: ${this.provisionedAtBoot ? 'provisioned, state 0x20' : 'not provisioned, serial disabled (0x10)'}`,
    );
  }

  /** Bytes from the host. Ignored entirely in 0x10 / 0xFF (the RX notification is gated, §1.1). */
  rx(chunk: Uint8Array): void {
    if (this.off || !this.serialEnabled) return;
    if (this.state === TOKEN_STATE.UNPROVISIONED || this.state === TOKEN_STATE.HALT) return;
    for (const b of chunk) {
      if (this.ring.length < RX_RING_BYTES) this.ring.push(b);
      else this.stats.rxDropped++;
    }
    if (!this.processing) void this.serialTask();
  }

  /** Power off: every timer and pending handler stops (a new TokenFirmware is the next boot). */
  powerOff(): void {
    this.off = true;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
  }

  get currentKey(): Uint8Array | null {
    return this.key;
  }

  private log(line: string): void {
    this.o.log?.(line);
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(() => {
        this.timers.delete(t);
        resolve();
      }, ms);
      this.timers.add(t);
    });
  }

  private send(type: number, payload: Uint8Array = new Uint8Array(0)): void {
    if (this.off) return;
    const inner = encodeInnerFrame(type, payload);
    this.o.output(
      wrapFrame(this.isEncrypted && this.key ? encryptFrameBody(this.key, inner, this.tokenIv()) : inner),
    );
  }

  /** Token IV: 12 bytes, each the low byte of a fresh get_rand_32() (§3.1) — i.e. 12 random bytes. */
  private tokenIv(): Uint8Array {
    return new Uint8Array(randomBytes(12));
  }

  private debug(text: string): void {
    if (!this.o.debugBuild) return;
    this.send(MSG.DEBUG_MSG, new Uint8Array(Buffer.from(`${text}\n`, 'latin1').subarray(0, MAX_DEBUG_TEXT)));
  }

  private failHaltOnce(why: string): void {
    this.stats.failHaltOnce++;
    this.log(`FAIL_HALT once (state 0x${this.state.toString(16)} unchanged): ${why}`);
    this.send(MSG.T2H_INTEGRITY_FAIL_HALT);
  }

  /** Permanent HALT (§4.5): 0x33 every period, forever, from the serial task; input is never read again. */
  private halt(why: string): void {
    this.log(`HALT: ${why}`);
    this.state = TOKEN_STATE.HALT;
    this.ring.length = 0;
    this.send(MSG.T2H_INTEGRITY_FAIL_HALT);
    const spam = setInterval(() => this.send(MSG.T2H_INTEGRITY_FAIL_HALT), this.timings.haltSpamPeriodMs);
    this.timers.add(spam);
  }

  private halted(): boolean {
    return this.state === TOKEN_STATE.HALT;
  }

  private async serialTask(): Promise<void> {
    this.processing = true;
    try {
      while (this.ring.length > 0 && !this.off && !this.halted()) {
        const b = this.ring.shift()!;
        for (const ev of this.receiver.push(Uint8Array.of(b))) {
          if (ev.kind === 'error') continue; // invalid escape: frame dropped, no reply
          await this.onFrame(ev.body);
          if (this.off || this.halted()) return;
        }
      }
    } finally {
      this.processing = false;
    }
  }

  private async onFrame(body: Uint8Array): Promise<void> {
    let inner = body;
    if (this.isEncrypted && this.key) {
      try {
        inner = decryptFrameBody(this.key, body);
      } catch (e) {
        return this.failHaltOnce((e as MastrError).message);
      }
    }
    let type: number;
    let payload: Uint8Array;
    try {
      ({ type, payload } = decodeInnerFrame(inner));
    } catch (e) {
      return this.failHaltOnce((e as MastrError).message);
    }
    await this.dispatch(type, payload);
  }

  private async dispatch(type: number, payload: Uint8Array): Promise<void> {
    const S = TOKEN_STATE;
    switch (type) {
      case MSG.H2T_ECDH_SHARE:
        if (this.state === S.WAIT_ECDH) return this.firstEcdh(payload);
        if (this.state === S.ECDH_DONE) return this.reattestEcdh(payload);
        return this.failHaltOnce('ECDH share in the wrong state');
      case MSG.H2T_CHANNEL_VERIFY_RESPONSE:
        if (this.state !== S.WAIT_PONG) return this.failHaltOnce('pong in the wrong state');
        if (!startsWith(payload, PONG)) return this.failHaltOnce('channel verify payload is not "pong"');
        this.state = S.WAIT_INTEGRITY;
        this.debug('channel verified');
        await this.sleep(this.timings.slowHostCompensationMs);
        if (this.off) return;
        this.nonce = this.o.atecc.random(4); // get_rand_32() in little-endian memory order
        this.send(MSG.T2H_INTEGRITY_CHALLENGE, this.nonce);
        return;
      case MSG.H2T_INTEGRITY_RESPONSE:
        if (this.state !== S.WAIT_INTEGRITY)
          return this.failHaltOnce('integrity response in the wrong state');
        return this.integrity(payload);
      case MSG.H2T_BOOT_OK_ACK:
        if (this.state !== S.BOOT_OK_SENT) return this.failHaltOnce('BOOT_OK_ACK in the wrong state');
        this.state = S.RUNTIME;
        this.sessionValid = true;
        this.sessionStart = this.now();
        this.debug('runtime');
        this.log('RUNTIME (0x40): session started');
        return;
      case MSG.H2T_HEARTBEAT:
        if (this.state !== S.RUNTIME) return; // silently ignored, no ACK (§1.3)
        await this.sleep(this.timings.slowHostCompensationMs);
        if (this.off) return;
        this.stats.heartbeatsAcked++;
        this.send(MSG.T2H_HEARTBEAT_ACK);
        return;
      case MSG.H2T_INTEGRITY_FAIL_HALT:
      case MSG.INTEGRITY_FAIL_ACK:
        this.debug('fail-halt notice ignored');
        return; // no-op
      case MSG.H2T_DEBUG_SET_GOLDEN_HASH:
      case MSG.T2H_DEBUG_GET_TOKEN_PUBKEY:
      case MSG.H2T_DEBUG_SET_HOST_PUBKEY:
      case MSG.H2T_TEST_RANDOM_REQUEST:
        if (this.o.debugBuild) return this.debugCommand(type, payload);
        return this.failHaltOnce(`debug type 0x${type.toString(16)} in a release build`);
      default:
        return this.failHaltOnce(`type 0x${type.toString(16)} is not a host-to-token message`);
    }
  }

  private verifyHostShare(payload: Uint8Array): Uint8Array | null {
    if (payload.length !== 128) {
      this.failHaltOnce(`ECDH share of ${payload.length} bytes`);
      return null;
    }
    const share = decodeEcdhShare(payload);
    if (!this.o.atecc.verify(this.o.atecc.hostPub, share.ephemeralPub, share.signature)) {
      this.failHaltOnce('host ECDH share signature invalid');
      return null;
    }
    return share.ephemeralPub;
  }

  private ecdhKey(hostEphemeral: Uint8Array): Uint8Array | null {
    try {
      return deriveSessionKey(this.o.atecc.tempKey!.sharedSecret(hostEphemeral));
    } catch {
      this.failHaltOnce('ECDH failed (ATECC error)');
      return null;
    }
  }

  private async firstEcdh(payload: Uint8Array): Promise<void> {
    const hostEphemeral = this.verifyHostShare(payload);
    if (!hostEphemeral) return;
    this.o.atecc.tempKey = new Ephemeral(); // GenKey(TempKey)
    const tokenEphemeral = this.o.atecc.tempKey.publicRaw;
    const signature = this.o.atecc.sign(tokenEphemeral);
    const key = this.ecdhKey(hostEphemeral);
    if (!key) return;
    await this.sleep(this.timings.slowHostCompensationMs);
    if (this.off) return;
    this.send(MSG.T2H_ECDH_SHARE, encodeEcdhShare({ ephemeralPub: tokenEphemeral, signature })); // plaintext
    this.state = TOKEN_STATE.ECDH_DONE;
    this.key = key;
    this.isEncrypted = true; // never cleared until power-off
    this.log('ECDH done: session encrypted');
    await this.ping();
  }

  /** The host's 0x20 in state 0x21: the re-attestation branch (no 0x21 reply; TempKey E_T' kept). */
  private async reattestEcdh(payload: Uint8Array): Promise<void> {
    const hostEphemeral = this.verifyHostShare(payload);
    if (!hostEphemeral) return;
    if (!this.o.atecc.tempKey) return this.failHaltOnce('no TempKey (ATECC error)');
    this.o.atecc.sign(this.o.atecc.tempKey.publicRaw); // signed again; the result is unused (§4.3 step 3)
    const key = this.ecdhKey(hostEphemeral);
    if (!key) return;
    this.key = key; // the old key is overwritten
    this.log('re-attestation: new session key');
    await this.ping();
  }

  private async ping(): Promise<void> {
    await this.sleep(this.timings.pingDelayMs);
    if (this.off) return;
    this.state = TOKEN_STATE.WAIT_PONG;
    this.send(MSG.T2H_CHANNEL_VERIFY_REQUEST, PING);
  }

  private integrity(payload: Uint8Array): void {
    if (payload.length !== 96) {
      this.stats.nacks++;
      this.log(`NACK: integrity response of ${payload.length} bytes`);
      this.send(MSG.T2H_NACK); // state stays 0x30: the host may retry
      return;
    }
    const { hash, signature } = decodeIntegrityResponse(payload);
    // Signature first, with the host key cached at ECDH time, then the golden hash (memcmp).
    if (
      !this.nonce ||
      !this.o.atecc.verify(this.o.atecc.hostPub, integritySignedBytes(hash, this.nonce), signature)
    ) {
      this.halt('integrity signature invalid');
      return;
    }
    if (!Buffer.from(hash).equals(Buffer.from(this.o.atecc.block(2)))) {
      this.halt('integrity hash differs from the golden hash');
      return;
    }
    this.send(MSG.T2H_BOOT_OK);
    this.state = TOKEN_STATE.BOOT_OK_SENT;
    this.log('integrity verified: BOOT_OK sent');
  }

  private debugCommand(type: number, payload: Uint8Array): void {
    const atecc = this.o.atecc;
    switch (type) {
      case MSG.H2T_DEBUG_SET_GOLDEN_HASH:
        if (payload.length !== 32) this.send(MSG.T2H_ERROR);
        else {
          atecc.writeBlock(2, payload);
          this.send(MSG.H2T_DEBUG_SET_GOLDEN_HASH, atecc.block(2));
        }
        return;
      case MSG.T2H_DEBUG_GET_TOKEN_PUBKEY:
        this.send(MSG.T2H_DEBUG_GET_TOKEN_PUBKEY, atecc.tokenPub);
        return;
      case MSG.H2T_DEBUG_SET_HOST_PUBKEY:
        if (payload.length === 64) atecc.writeHostPub(payload); // len ≠ 64: silently ignored, no reply
        return;
      case MSG.H2T_TEST_RANDOM_REQUEST:
        this.send(MSG.T2H_TEST_RANDOM_RESPONSE, atecc.random(32));
        return;
    }
  }

  /** `watchdog_task`: every tick, re-attest once the session is `sessionLifetimeMs` old (§4.3). */
  private watchdog(): void {
    if (this.off || this.state !== TOKEN_STATE.RUNTIME || !this.sessionValid) return;
    if (this.now() - this.sessionStart < this.timings.sessionLifetimeMs) return;
    this.sessionValid = false;
    this.state = TOKEN_STATE.WAIT_ECDH;
    this.o.atecc.tempKey = new Ephemeral();
    const eph = this.o.atecc.tempKey.publicRaw;
    this.stats.reattestations++;
    this.log('session expired: re-attestation (0x21 under the old key)');
    this.send(MSG.T2H_ECDH_SHARE, encodeEcdhShare({ ephemeralPub: eph, signature: this.o.atecc.sign(eph) }));
    this.state = TOKEN_STATE.ECDH_DONE;
  }
}
