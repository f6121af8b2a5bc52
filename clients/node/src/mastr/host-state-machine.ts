import { Channel } from './channel.ts';
import { MSG, messageName, PING, PONG } from './constants.ts';
import type { Ephemeral } from './ephemeral.ts';
import { MastrError } from './errors.ts';
import {
  decodeEcdhShare,
  decodeIntegrityChallenge,
  encodeEcdhShare,
  encodeIntegrityResponse,
  startsWith,
} from './messages.ts';
import { verifyRaw } from './p256.ts';
import { deriveSessionKey } from './session-key.ts';

/**
 * The host's side of MASTR (MASTR.md §3.3, §4.2, §4.3) as a pure state machine: bytes in, decisions out.
 * It owns the Channel, so the key switch happens exactly where §3.3 says:
 * - first handshake: 0x20 and 0x21 in plaintext; the new key is installed between receiving 0x21 and the
 *   ping (before the ping arrives, which the token sends 1 s later);
 * - re-attestation: 0x21 arrives under the old key, our 0x20 goes out under the old key, and the new key
 *   is installed immediately after encoding that 0x20.
 * Anything needing the TPM (signatures) or a clock (timeouts, the halt-stream rule) is the driver's
 * (host-session.ts): the machine asks with `need-*` outputs and is answered through methods.
 */

export type HostPhase =
  | 'idle'
  | 'await-token-share'
  | 'await-ping'
  | 'await-challenge'
  | 'await-integrity-signature'
  | 'await-boot-ok'
  | 'runtime'
  | 'await-reattest-share'
  | 'failed';

export type DebugFramePolicy = 'tolerate' | 'fatal';

export type HostOutput =
  /** Wire bytes to write now, in order (already framed and, if the session is, encrypted). */
  | { kind: 'write'; type: number; bytes: Uint8Array }
  /** The token's challenge: answer with `respondIntegrity(hash, sign(hash ‖ nonce))`. */
  | { kind: 'need-integrity'; nonce: Uint8Array }
  /** The token started a re-attestation (valid 0x21 under the current key): answer with `answerReattest`. */
  | { kind: 'need-reattest-share' }
  /** A new session key is active (after the 0x21 on first boot; after our 0x20 on re-attest). */
  | { kind: 'session-key'; key: Uint8Array }
  /** BOOT_OK received and BOOT_OK_ACK written: the token is in RUNTIME (0x40). */
  | { kind: 'attested'; reattestation: boolean; sessionKey: Uint8Array }
  | { kind: 'heartbeat-ack' }
  /** 0x33: a single one is the token's generic error signal, a stream of them 1 s apart is a halt. */
  | { kind: 'fail-halt' }
  /** 0x00 / 0x01 (the firmware sends them empty; the host tolerates a code and text). */
  | { kind: 'token-error'; type: number; payload: Uint8Array }
  | { kind: 'debug-text'; text: string }
  /** A frame that failed unstuffing, decryption, length or checksum: dropped, logged. */
  | { kind: 'frame-error'; error: MastrError }
  /** A well-formed message that this phase does not expect: ignored, logged. */
  | { kind: 'unexpected'; type: number; phase: HostPhase }
  /** The handshake cannot continue (bad signature, bad ping, refused DEBUG frame…). */
  | { kind: 'failed'; error: MastrError };

export interface HostStateMachineOptions {
  /** The token's permanent public key (64 bytes X‖Y, from the TPM NV index). */
  tokenPub: Uint8Array;
  /** DEBUG_MSG (0xFE) frames: `tolerate` logs them, `fatal` fails (bootstrap's "panic on debug"). */
  debugFrames: DebugFramePolicy;
  /** Start in RUNTIME with a session key handed over by bootstrap (the guard). */
  sessionKey?: Uint8Array;
}

/** Failures inside the machine are MastrErrors; anything else is a bug and propagates. */
function asMastrError(e: unknown): MastrError {
  if (e instanceof MastrError) return e;
  throw e;
}

export class HostStateMachine {
  private readonly channel = new Channel();
  private readonly tokenPub: Uint8Array;
  private readonly debugFrames: DebugFramePolicy;
  private state: HostPhase = 'idle';
  private ephemeral: Ephemeral | null = null;
  private tokenEphemeral: Uint8Array | null = null;
  private reattesting = false;

  constructor(options: HostStateMachineOptions) {
    if (options.tokenPub.length !== 64) {
      throw new MastrError(
        'KEY_INVALID',
        `token public key must be 64 bytes, got ${options.tokenPub.length}`,
      );
    }
    this.tokenPub = options.tokenPub.slice();
    this.debugFrames = options.debugFrames;
    if (options.sessionKey) {
      this.channel.setKey(options.sessionKey);
      this.state = 'runtime';
    }
  }

  get phase(): HostPhase {
    return this.state;
  }

  get sessionKey(): Uint8Array | null {
    return this.channel.currentKey;
  }

  /** First handshake: sends H2T_ECDH_SHARE (plaintext) with a fresh ephemeral and its signature. */
  start(ephemeral: Ephemeral, signature: Uint8Array): HostOutput[] {
    this.expectPhase('idle', 'start');
    this.ephemeral = ephemeral;
    this.reattesting = false;
    this.state = 'await-token-share';
    return [
      this.write(MSG.H2T_ECDH_SHARE, encodeEcdhShare({ ephemeralPub: ephemeral.publicRaw, signature })),
    ];
  }

  /** Answers the challenge: 0x31 `hash ‖ r‖s`. */
  respondIntegrity(hash: Uint8Array, signature: Uint8Array): HostOutput[] {
    this.expectPhase('await-integrity-signature', 'respondIntegrity');
    this.state = 'await-boot-ok';
    return [this.write(MSG.H2T_INTEGRITY_RESPONSE, encodeIntegrityResponse({ hash, signature }))];
  }

  /** Re-attestation: 0x20 under the OLD key, then the new key at once (§3.3). */
  answerReattest(ephemeral: Ephemeral, signature: Uint8Array): HostOutput[] {
    this.expectPhase('await-reattest-share', 'answerReattest');
    const tokenEphemeral = this.tokenEphemeral;
    if (!tokenEphemeral) throw new MastrError('UNEXPECTED_MESSAGE', 'no token ephemeral to answer');
    const out = [
      this.write(MSG.H2T_ECDH_SHARE, encodeEcdhShare({ ephemeralPub: ephemeral.publicRaw, signature })),
    ];
    const key = deriveSessionKey(ephemeral.sharedSecret(tokenEphemeral));
    this.tokenEphemeral = null;
    this.channel.setKey(key);
    this.state = 'await-ping';
    out.push({ kind: 'session-key', key });
    return out;
  }

  /** H2T_HEARTBEAT (empty, encrypted). Only in RUNTIME: the token ignores heartbeats elsewhere. */
  heartbeat(): HostOutput[] {
    this.expectPhase('runtime', 'heartbeat');
    return [this.write(MSG.H2T_HEARTBEAT)];
  }

  /** Feeds bytes from the link. */
  receive(chunk: Uint8Array): HostOutput[] {
    const out: HostOutput[] = [];
    for (const ev of this.channel.receive(chunk)) {
      if (ev.kind === 'error') out.push({ kind: 'frame-error', error: ev.error });
      else this.onMessage(ev.message.type, ev.message.payload, out);
    }
    return out;
  }

  private onMessage(type: number, payload: Uint8Array, out: HostOutput[]): void {
    // Messages the token may send in any phase.
    switch (type) {
      case MSG.T2H_INTEGRITY_FAIL_HALT:
        out.push({ kind: 'fail-halt' });
        return;
      case MSG.T2H_ERROR:
      case MSG.T2H_NACK:
        out.push({ kind: 'token-error', type, payload });
        return;
      case MSG.DEBUG_MSG: {
        const text = Buffer.from(payload).toString('latin1').replace(/\n$/, '');
        if (this.debugFrames === 'fatal') {
          this.fail(
            out,
            new MastrError(
              'DEBUG_FRAME_REFUSED',
              `the token sent a DEBUG_MSG frame (a DEBUG firmware build); refused by policy: ${JSON.stringify(text)}`,
            ),
          );
        } else out.push({ kind: 'debug-text', text });
        return;
      }
    }
    if (this.state === 'failed') return;
    switch (this.state) {
      case 'await-token-share':
        if (type === MSG.T2H_ECDH_SHARE) {
          this.onFirstTokenShare(payload, out);
          return;
        }
        break;
      case 'await-ping':
        if (type === MSG.T2H_CHANNEL_VERIFY_REQUEST) {
          if (!startsWith(payload, PING)) {
            this.fail(out, new MastrError('MESSAGE_MALFORMED', 'channel check payload is not "ping"'));
            return;
          }
          this.state = 'await-challenge';
          out.push(this.write(MSG.H2T_CHANNEL_VERIFY_RESPONSE, PONG));
          return;
        }
        break;
      case 'await-challenge':
        if (type === MSG.T2H_INTEGRITY_CHALLENGE) {
          try {
            const nonce = decodeIntegrityChallenge(payload);
            this.state = 'await-integrity-signature';
            out.push({ kind: 'need-integrity', nonce });
          } catch (e) {
            this.fail(out, asMastrError(e));
          }
          return;
        }
        break;
      case 'await-boot-ok':
        if (type === MSG.T2H_BOOT_OK) {
          out.push(this.write(MSG.H2T_BOOT_OK_ACK));
          this.state = 'runtime';
          out.push({
            kind: 'attested',
            reattestation: this.reattesting,
            sessionKey: this.channel.currentKey!,
          });
          return;
        }
        break;
      case 'runtime':
        if (type === MSG.T2H_HEARTBEAT_ACK) {
          out.push({ kind: 'heartbeat-ack' });
          return;
        }
        if (type === MSG.T2H_ECDH_SHARE) {
          this.onReattestShare(payload, out);
          return;
        }
        break;
    }
    out.push({ kind: 'unexpected', type, phase: this.state });
  }

  private verifyTokenShare(payload: Uint8Array): Uint8Array {
    const share = decodeEcdhShare(payload);
    if (!verifyRaw(this.tokenPub, share.ephemeralPub, share.signature)) {
      throw new MastrError(
        'SIGNATURE_INVALID',
        'T2H_ECDH_SHARE signature does not verify with the stored token public key (wrong token, or a forged share)',
      );
    }
    return share.ephemeralPub;
  }

  private onFirstTokenShare(payload: Uint8Array, out: HostOutput[]): void {
    try {
      const tokenEphemeral = this.verifyTokenShare(payload);
      const key = deriveSessionKey(this.ephemeral!.sharedSecret(tokenEphemeral));
      this.ephemeral = null; // one handshake, one ephemeral
      this.channel.setKey(key); // before the ping: the token sends it 1 s later under this key
      this.state = 'await-ping';
      out.push({ kind: 'session-key', key });
    } catch (e) {
      this.fail(out, asMastrError(e));
    }
  }

  private onReattestShare(payload: Uint8Array, out: HostOutput[]): void {
    try {
      this.tokenEphemeral = this.verifyTokenShare(payload);
      this.reattesting = true;
      this.state = 'await-reattest-share';
      out.push({ kind: 'need-reattest-share' });
    } catch (e) {
      this.fail(out, asMastrError(e));
    }
  }

  private fail(out: HostOutput[], error: MastrError): void {
    this.state = 'failed';
    this.ephemeral = null;
    out.push({ kind: 'failed', error });
  }

  private write(type: number, payload?: Uint8Array): HostOutput {
    return { kind: 'write', type, bytes: this.channel.encode(type, payload) };
  }

  private expectPhase(phase: HostPhase, what: string): void {
    if (this.state !== phase) {
      throw new MastrError('UNEXPECTED_MESSAGE', `${what}() in phase ${this.state} (needs ${phase})`);
    }
  }
}

/** For log lines: `T2H_BOOT_OK (0x32)`. */
export { messageName };
