/**
 * MASTR wire constants (MASTR.md §1.2, §1.4, §1.5) and the firmware's timings (§4.4). Names follow the
 * firmware's `include/protocol.h` so a reader can match them against a serial capture.
 */

export const SOF = 0x7f;
export const EOF = 0x7e;
export const ESC = 0x7d;
/** The second byte of an escape is the original XOR 0x20. */
export const ESC_XOR = 0x20;

/** Unstuffed bytes beyond this are dropped by both receivers (`MAX_PAYLOAD_SIZE 256 + 4`). */
export const MAX_FRAME_BYTES = 260;
/** Largest plaintext payload (type 1 + len 2 + payload + checksum 1 = 260). */
export const MAX_PAYLOAD = 256;
/** IV (12) + GCM tag (16). */
export const GCM_OVERHEAD = 28;
/** Largest encrypted payload: 260 − 28 − 4 (the token's decrypt buffer is 256 bytes). */
export const MAX_ENCRYPTED_PAYLOAD = MAX_FRAME_BYTES - GCM_OVERHEAD - 4;
/** DEBUG_MSG text is printf output of at most 127 bytes. */
export const MAX_DEBUG_TEXT = 127;

/** Message types (§1.5). */
export const MSG = {
  T2H_ERROR: 0x00,
  T2H_NACK: 0x01,
  H2T_ECDH_SHARE: 0x20,
  T2H_ECDH_SHARE: 0x21,
  T2H_CHANNEL_VERIFY_REQUEST: 0x22,
  H2T_CHANNEL_VERIFY_RESPONSE: 0x23,
  T2H_INTEGRITY_CHALLENGE: 0x30,
  H2T_INTEGRITY_RESPONSE: 0x31,
  T2H_BOOT_OK: 0x32,
  T2H_INTEGRITY_FAIL_HALT: 0x33,
  H2T_BOOT_OK_ACK: 0x34,
  H2T_INTEGRITY_FAIL_HALT: 0x35,
  INTEGRITY_FAIL_ACK: 0x36,
  H2T_HEARTBEAT: 0x40,
  T2H_HEARTBEAT_ACK: 0x41,
  H2T_DEBUG_SET_GOLDEN_HASH: 0xf9,
  T2H_DEBUG_GET_TOKEN_PUBKEY: 0xfa,
  H2T_DEBUG_SET_HOST_PUBKEY: 0xfb,
  T2H_TEST_RANDOM_RESPONSE: 0xfc,
  H2T_TEST_RANDOM_REQUEST: 0xfd,
  DEBUG_MSG: 0xfe,
} as const;

export type MessageType = (typeof MSG)[keyof typeof MSG];

const NAMES = new Map<number, string>(Object.entries(MSG).map(([k, v]) => [v, k]));

/** `T2H_BOOT_OK (0x32)`, or `unknown (0xNN)`. */
export function messageName(type: number): string {
  return `${NAMES.get(type) ?? 'unknown'} (0x${type.toString(16).padStart(2, '0')})`;
}

/** Token protocol states (§1.4). */
export const TOKEN_STATE = {
  UNPROVISIONED: 0x10,
  WAIT_ECDH: 0x20,
  ECDH_DONE: 0x21,
  WAIT_PONG: 0x22,
  WAIT_INTEGRITY: 0x30,
  BOOT_OK_SENT: 0x32,
  RUNTIME: 0x40,
  HALT: 0xff,
} as const;

export type TokenState = (typeof TOKEN_STATE)[keyof typeof TOKEN_STATE];

/** ASCII `ping` / `pong` (§1.5: the channel check; only the first 4 bytes are compared). */
export const PING = Uint8Array.of(0x70, 0x69, 0x6e, 0x67);
export const PONG = Uint8Array.of(0x70, 0x6f, 0x6e, 0x67);

/** HKDF salt (§3.1): 20 ASCII bytes, no NUL. */
export const SESSION_KEY_SALT = 'MASTR-Session-Key-v1';

/** The firmware's token-side timings (§4.4), in ms. The emulator takes these; tests scale them down. */
export interface TokenTimings {
  /** Before the 0x21 reply, after pong before the challenge, before a heartbeat ACK. */
  slowHostCompensationMs: number;
  /** Between 0x21 and the ping. */
  pingDelayMs: number;
  /** Session lifetime from BOOT_OK_ACK: the token re-attests this long after (checked every tick). */
  sessionLifetimeMs: number;
  watchdogTickMs: number;
  haltSpamPeriodMs: number;
}

export const FIRMWARE_TOKEN_TIMINGS: Readonly<TokenTimings> = {
  slowHostCompensationMs: 500,
  pingDelayMs: 1000,
  sessionLifetimeMs: 30_000,
  watchdogTickMs: 1000,
  haltSpamPeriodMs: 1000,
};

/** The host's waits (§4.4) and the runtime guard's loop (§4.2), in ms. */
export interface HostTimings {
  /** Settling time after opening the port, before the first 0x20 (host/main.py sleeps 0.5 s). */
  openSettleMs: number;
  waitTokenShareMs: number;
  waitPingMs: number;
  waitChallengeMs: number;
  waitBootOkMs: number;
  heartbeatIntervalMs: number;
  heartbeatAckWaitMs: number;
  heartbeatMissThreshold: number;
  /**
   * The token re-attests every `sessionLifetimeMs` (30 s). The guard declares the token gone when no
   * re-attestation has completed within `reattestOverdueFactor ×` that period (hardening, MASTR.md §7.4):
   * a replayed heartbeat ACK cannot fake a completed re-attestation.
   */
  tokenReattestPeriodMs: number;
  reattestOverdueFactor: number;
  /** Two 0x33 frames closer than this are the halt stream (1 s apart), not a single error signal. */
  haltStreamWindowMs: number;
}

export const DEFAULT_HOST_TIMINGS: Readonly<HostTimings> = {
  openSettleMs: 500,
  waitTokenShareMs: 10_000,
  waitPingMs: 5000,
  waitChallengeMs: 10_000,
  waitBootOkMs: 10_000,
  heartbeatIntervalMs: 5000,
  heartbeatAckWaitMs: 2000,
  heartbeatMissThreshold: 3,
  tokenReattestPeriodMs: 30_000,
  reattestOverdueFactor: 2,
  haltStreamWindowMs: 2500,
};

/** Scales every duration (not the miss threshold or the factor) — for tests and demos. */
export function scaleHostTimings(t: Readonly<HostTimings>, factor: number): HostTimings {
  return {
    openSettleMs: t.openSettleMs * factor,
    waitTokenShareMs: t.waitTokenShareMs * factor,
    waitPingMs: t.waitPingMs * factor,
    waitChallengeMs: t.waitChallengeMs * factor,
    waitBootOkMs: t.waitBootOkMs * factor,
    heartbeatIntervalMs: t.heartbeatIntervalMs * factor,
    heartbeatAckWaitMs: t.heartbeatAckWaitMs * factor,
    heartbeatMissThreshold: t.heartbeatMissThreshold,
    tokenReattestPeriodMs: t.tokenReattestPeriodMs * factor,
    reattestOverdueFactor: t.reattestOverdueFactor,
    haltStreamWindowMs: t.haltStreamWindowMs * factor,
  };
}

export function scaleTokenTimings(t: Readonly<TokenTimings>, factor: number): TokenTimings {
  return {
    slowHostCompensationMs: t.slowHostCompensationMs * factor,
    pingDelayMs: t.pingDelayMs * factor,
    sessionLifetimeMs: t.sessionLifetimeMs * factor,
    watchdogTickMs: t.watchdogTickMs * factor,
    haltSpamPeriodMs: t.haltSpamPeriodMs * factor,
  };
}
