import { type HostTimings, MSG, messageName } from './constants.ts';
import { MastrError } from './errors.ts';
import { FailHaltClassifier } from './fail-halt.ts';
import type { HostSession } from './host-session.ts';

export interface BootstrapResult {
  sessionKey: Uint8Array;
  attestedAt: number;
}

/**
 * The initramfs gate (MASTR.md §3.3): ECDH share → token share → ping/pong → challenge → integrity →
 * BOOT_OK → BOOT_OK_ACK. Resolves when the token is in RUNTIME; rejects with the reason to halt:
 * TIMEOUT (which step), SIGNATURE_INVALID, TOKEN_HALTED (the 1 s 0x33 stream: integrity rejected),
 * TOKEN_FAIL_HALT (one 0x33: the token rejected a frame), TOKEN_ERROR / TOKEN_NACK, DEBUG_FRAME_REFUSED,
 * TRANSPORT_CLOSED. Unlike the seed, a 0x33 ends the wait at once instead of timing out (§4.5).
 */
export function runBootstrap(
  session: HostSession,
  t: HostTimings,
  now: () => number = Date.now,
): Promise<BootstrapResult> {
  return new Promise<BootstrapResult>((resolve, reject) => {
    let timer: NodeJS.Timeout | undefined;
    let haltTimer: NodeJS.Timeout | undefined;
    let waitingFor = 'T2H_ECDH_SHARE (0x21)';
    const halts = new FailHaltClassifier(t.haltStreamWindowMs);
    let settled = false;
    const finish = (err: MastrError | null, value?: BootstrapResult) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      clearTimeout(haltTimer);
      off();
      if (err) reject(err);
      else resolve(value!);
    };
    const expect = (what: string, ms: number) => {
      waitingFor = what;
      clearTimeout(timer);
      timer = setTimeout(
        () =>
          finish(
            new MastrError(
              'TIMEOUT',
              `no ${what} within ${ms} ms${
                what.startsWith('T2H_ECDH')
                  ? ' (is the token provisioned and freshly plugged in? an aborted handshake wedges it until replug)'
                  : ''
              }`,
            ),
          ),
        ms,
      );
    };
    const off = session.on((o) => {
      switch (o.kind) {
        case 'session-key':
          expect('channel check ping (0x22)', t.waitPingMs);
          return;
        case 'write':
          if (o.type === MSG.H2T_CHANNEL_VERIFY_RESPONSE)
            expect('integrity challenge (0x30)', t.waitChallengeMs);
          if (o.type === MSG.H2T_INTEGRITY_RESPONSE) expect('T2H_BOOT_OK (0x32)', t.waitBootOkMs);
          return;
        case 'attested': {
          // BOOT_OK_ACK must be on the wire before the caller closes the port.
          const attestedAt = now();
          clearTimeout(timer);
          session.flush().then(
            () => finish(null, { sessionKey: o.sessionKey, attestedAt }),
            (e: unknown) =>
              finish(new MastrError('TRANSPORT_FAILED', `could not send BOOT_OK_ACK: ${String(e)}`)),
          );
          return;
        }
        case 'failed':
          return finish(o.error);
        case 'token-error':
          return finish(
            new MastrError(
              o.type === MSG.T2H_NACK ? 'TOKEN_NACK' : 'TOKEN_ERROR',
              `the token answered ${messageName(o.type)} while we waited for ${waitingFor}`,
            ),
          );
        case 'fail-halt': {
          if (halts.record(now()) === 'halt') {
            return finish(
              new MastrError(
                'TOKEN_HALTED',
                `the token halted (0x33 every second) while we waited for ${waitingFor}: it rejected the integrity response — the golden hash or the host key does not match. Power-cycle the token after fixing it.`,
              ),
            );
          }
          // One 0x33 is the generic error signal; wait one window for the next to tell which.
          clearTimeout(haltTimer);
          const was = waitingFor;
          haltTimer = setTimeout(
            () =>
              finish(
                new MastrError(
                  'TOKEN_FAIL_HALT',
                  `the token rejected a frame (one T2H_INTEGRITY_FAIL_HALT) while we waited for ${was}`,
                ),
              ),
            t.haltStreamWindowMs,
          );
          return;
        }
        default:
          return;
      }
    });
    session.link.onClose(() =>
      finish(
        new MastrError('TRANSPORT_CLOSED', `the link to the token closed while we waited for ${waitingFor}`),
      ),
    );
    expect(waitingFor, t.waitTokenShareMs);
    session
      .start()
      .catch((e: unknown) =>
        finish(
          e instanceof MastrError ? e : new MastrError('HOST_KEY_MISSING', `cannot start: ${String(e)}`),
        ),
      );
  });
}
