import type { HostTimings } from './constants.ts';
import type { MastrErrorCode } from './errors.ts';
import { FailHaltClassifier } from './fail-halt.ts';
import type { HostEvent, HostSession } from './host-session.ts';

export interface TokenLost {
  code: MastrErrorCode;
  reason: string;
}

export interface GuardOptions {
  timings: HostTimings;
  /** When the last attestation completed (bootstrap's handoff): the re-attestation clock starts there. */
  attestedAt: number;
  signal?: AbortSignal;
  log(e: HostEvent): void;
  now?(): number;
}

/**
 * The runtime guard (MASTR.md §4.2, §4.3): a heartbeat every interval, at most `heartbeatAckWaitMs` for
 * the ACK, `heartbeatMissThreshold` consecutive misses → token lost; heartbeats pause while the token
 * re-attests, which the session answers. Hardening (§7):
 * - a token that has not completed a re-attestation within `reattestOverdueFactor ×` its period is gone —
 *   the empty ACK has no counter, so a replayed ACK could otherwise keep us alive forever (§7.4);
 * - one 0x33 is the token's "bad frame" signal: logged, not fatal; the 1 s stream is a halt (§7.6);
 * - a re-attestation that stalls past the host's phase waits is a loss.
 * Resolves with why the token is lost, or null when stopped through `signal`.
 */
export function runGuard(session: HostSession, o: GuardOptions): Promise<TokenLost | null> {
  const t = o.timings;
  const now = o.now ?? Date.now;
  return new Promise((resolve) => {
    let lastAttested = o.attestedAt;
    let misses = 0;
    let awaitingAck = false;
    let ackTimer: NodeJS.Timeout | undefined;
    let reattestSince: number | null = null;
    const halts = new FailHaltClassifier(t.haltStreamWindowMs);
    const stallLimit = t.waitPingMs + t.waitChallengeMs + t.waitBootOkMs;
    let done = false;

    const finish = (lost: TokenLost | null) => {
      if (done) return;
      done = true;
      clearInterval(tick);
      clearTimeout(ackTimer);
      off();
      o.signal?.removeEventListener('abort', onAbort);
      resolve(lost);
    };
    const onAbort = () => finish(null);
    o.signal?.addEventListener('abort', onAbort, { once: true });

    const miss = (why: string) => {
      misses++;
      o.log({ event: 'heartbeat-missed', misses, threshold: t.heartbeatMissThreshold, why });
      if (misses >= t.heartbeatMissThreshold) {
        finish({ code: 'TOKEN_GONE', reason: `${misses} consecutive heartbeats without an ACK` });
      }
    };

    const off = session.on((out) => {
      switch (out.kind) {
        case 'heartbeat-ack':
          if (!awaitingAck) {
            o.log({ event: 'heartbeat-ack-unsolicited' });
            return;
          }
          awaitingAck = false;
          clearTimeout(ackTimer);
          misses = 0;
          o.log({ event: 'heartbeat-ack' });
          return;
        case 'need-reattest-share':
          reattestSince = now();
          awaitingAck = false;
          clearTimeout(ackTimer);
          return;
        case 'attested':
          lastAttested = now();
          reattestSince = null;
          misses = 0;
          o.log({ event: 'reattested' });
          return;
        case 'fail-halt':
          if (halts.record(now()) === 'halt') {
            finish({
              code: 'TOKEN_HALTED',
              reason: 'the token halted (T2H_INTEGRITY_FAIL_HALT every second)',
            });
          } else o.log({ event: 'token-rejected-frame', note: 'one 0x33: logged, not fatal' });
          return;
        case 'failed':
          finish({ code: out.error.code, reason: out.error.message });
          return;
        case 'token-error':
          o.log({ event: 'token-error', type: out.type });
          return;
        default:
          return;
      }
    });

    const tick = setInterval(() => {
      const at = now();
      const overdue = t.reattestOverdueFactor * t.tokenReattestPeriodMs;
      if (at - lastAttested > overdue) {
        return finish({
          code: 'TOKEN_GONE',
          reason: `no re-attestation for ${at - lastAttested} ms (the token re-attests every ${t.tokenReattestPeriodMs} ms; limit ${overdue} ms): the token is gone or its heartbeat ACKs are being replayed`,
        });
      }
      if (reattestSince !== null) {
        if (at - reattestSince > stallLimit) {
          finish({ code: 'TIMEOUT', reason: `re-attestation stalled for ${at - reattestSince} ms` });
        }
        return; // heartbeats pause while the token re-attests
      }
      if (session.sm.phase !== 'runtime') return;
      if (awaitingAck) return; // the previous wait is still running (interval shorter than the ACK wait)
      awaitingAck = true;
      session.heartbeat().catch(() => undefined);
      ackTimer = setTimeout(() => {
        if (!awaitingAck) return;
        awaitingAck = false;
        miss(session.link.closed ? 'link closed' : `no ACK within ${t.heartbeatAckWaitMs} ms`);
      }, t.heartbeatAckWaitMs);
    }, t.heartbeatIntervalMs);
  });
}
