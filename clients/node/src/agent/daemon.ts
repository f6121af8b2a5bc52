import { AgentError } from '../errors.ts';
import type { AgentContext } from './context.ts';
import { EXIT } from './exit-codes.ts';
import { heartbeatOnce } from './heartbeat.ts';

/**
 * `noderr-agent run`: heartbeats at the configured interval, re-attestation when the API asks, exponential
 * backoff with jitter while the API (or the TPM) fails, a distinct exit code when the node is revoked or
 * suspended, and a graceful stop on SIGTERM/SIGINT (the current beat finishes, then exit 0).
 */
export interface DaemonOptions {
  intervalMs: number;
  backoffBaseMs: number;
  backoffMaxMs: number;
  signal: AbortSignal;
  /** One structured event per beat, failure or state change (never secrets). */
  event(e: Record<string, unknown>): void;
  random?: () => number;
}

/** "Equal jitter": half the exponential delay fixed, half random, so a fleet does not retry in lockstep. */
export function backoffDelay(attempt: number, baseMs: number, maxMs: number, random: () => number): number {
  const exp = Math.min(maxMs, baseMs * 2 ** Math.max(0, attempt - 1));
  return Math.round(exp / 2 + random() * (exp / 2));
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const t = setTimeout(done, ms);
    function done() {
      clearTimeout(t);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}

export async function runDaemon(ctx: AgentContext, o: DaemonOptions): Promise<number> {
  const random = o.random ?? Math.random;
  let failures = 0;
  o.event({ event: 'started', intervalMs: o.intervalMs });
  while (!o.signal.aborted) {
    let waitMs = o.intervalMs;
    try {
      const state = ctx.store.requireState();
      const r = await heartbeatOnce(ctx, state);
      if (failures > 0) o.event({ event: 'recovered', afterFailures: failures });
      failures = 0;
      o.event({
        event: 'heartbeat',
        nodeId: state.nodeId,
        reattested: r.reattested,
        ...(r.eventLog ? { eventLogSent: r.eventLog.sent } : {}),
      });
    } catch (e) {
      const err = e instanceof AgentError ? e : new AgentError('API_UNREACHABLE', (e as Error).message);
      if (err.code === 'NOT_REGISTERED' || err.code === 'STATE_INVALID') {
        o.event({ event: 'fatal', code: err.code, message: err.message });
        return EXIT.notRegistered;
      }
      ctx.store.updateStatus({
        lastError: { code: err.code, message: err.message, at: new Date().toISOString() },
      });
      if (err.code === 'NODE_REVOKED' || err.code === 'NODE_SUSPENDED') {
        ctx.store.updateStatus({ nodeStatus: err.code === 'NODE_REVOKED' ? 'revoked' : 'suspended' });
        o.event({ event: err.code === 'NODE_REVOKED' ? 'revoked' : 'suspended', message: err.message });
        return err.code === 'NODE_REVOKED' ? EXIT.revoked : EXIT.suspended;
      }
      failures++;
      waitMs = backoffDelay(failures, o.backoffBaseMs, o.backoffMaxMs, random);
      o.event({ event: 'backoff', code: err.code, message: err.message, attempt: failures, delayMs: waitMs });
    }
    await sleep(waitMs, o.signal);
  }
  o.event({ event: 'stopped' });
  return EXIT.ok;
}
