import { execFile } from 'node:child_process';
import { MastrError } from '../errors.ts';
import { runGuard, type TokenLost } from '../guard.ts';
import { tpmHostSigner } from '../host-key.ts';
import { HostSession } from '../host-session.ts';
import { defaultIntegrityFile, hashIntegrityFile } from '../integrity.ts';
import { DEFAULT_HANDOFF_FILE, takeHandoff } from '../session-handoff.ts';
import {
  LEGACY_TOKEN_PUBKEY_NV_INDEX,
  requireTokenPubkey,
  TOKEN_PUBKEY_NV_INDEX,
} from '../token-pubkey-store.ts';
import {
  eventLogger,
  handleNumber,
  type MastrCommandContext,
  openTpm,
  parse,
  positiveNumber,
  reportFailure,
  result,
  usage,
} from './common.ts';
import { debugFramePolicy, hostTimings, LINK_OPTIONS, openPort } from './link-options.ts';

export const GUARD_HELP = `noderr-agent mastr guard --port DEV [--interval S] [--ack-timeout S] [--misses N]
        [--reattest-period S] [--no-shutdown] [--handoff FILE] [--integrity-file PATH] [--debug-frames …]
  The runtime daemon: a heartbeat every 5 s, 2 s for the ACK, 3 misses → shutdown -h now; answers the
  token's re-attestation every 30 s and treats a token that has not re-attested within 2 × that period as
  gone (a replayed ACK cannot keep it alive). One 0x33 is logged; the 1 s 0x33 stream is a halt.
  --no-shutdown reports instead of shutting down (exit 1). Reads and deletes the session handoff.`;

export type Shutdown = (reason: string) => Promise<void>;

export const systemShutdown: Shutdown = (reason) =>
  new Promise((resolve) => {
    execFile('/sbin/shutdown', ['-h', 'now', `MASTR token lost: ${reason}`], { timeout: 5000 }, () =>
      resolve(),
    );
  });

export async function guardCommand(
  args: string[],
  ctx: MastrCommandContext,
  shutdown = systemShutdown,
): Promise<number> {
  let json = args.includes('--json');
  try {
    const { values, positionals } = parse(args, {
      ...LINK_OPTIONS,
      interval: { type: 'string' },
      'ack-timeout': { type: 'string' },
      misses: { type: 'string' },
      'reattest-period': { type: 'string' },
      'no-shutdown': { type: 'boolean' },
      'integrity-file': { type: 'string' },
      'keep-handoff': { type: 'boolean' },
    });
    json = values.json === true;
    if (positionals.length) throw usage('guard takes no arguments');
    const t = hostTimings(values['time-scale']);
    t.heartbeatIntervalMs = positiveNumber(values.interval, 'interval', t.heartbeatIntervalMs / 1000) * 1000;
    t.heartbeatAckWaitMs =
      positiveNumber(values['ack-timeout'], 'ack-timeout', t.heartbeatAckWaitMs / 1000) * 1000;
    t.heartbeatMissThreshold = positiveNumber(values.misses, 'misses', t.heartbeatMissThreshold);
    t.tokenReattestPeriodMs =
      positiveNumber(values['reattest-period'], 'reattest-period', t.tokenReattestPeriodMs / 1000) * 1000;
    const policy = debugFramePolicy(values['debug-frames']);
    const nvIndex = values['legacy-nv-index']
      ? LEGACY_TOKEN_PUBKEY_NV_INDEX
      : values['nv-index']
        ? handleNumber(values['nv-index'], 'nv-index')
        : TOKEN_PUBKEY_NV_INDEX;
    const integrityFile = values['integrity-file'] ?? defaultIntegrityFile();
    const log = eventLogger(ctx.io, json);
    const handoff = takeHandoff(values.handoff ?? DEFAULT_HANDOFF_FILE, values['keep-handoff'] === true);
    const lost = await openTpm<TokenLost | null>(values.tpm, ctx.io, async (tpm) => {
      const tokenPub = await requireTokenPubkey(tpm, nvIndex);
      const link = await openPort(values.port, values.baud);
      try {
        const session = new HostSession({
          link,
          signer: tpmHostSigner(tpm),
          tokenPub,
          integrityHash: () => hashIntegrityFile(integrityFile),
          debugFrames: policy,
          sessionKey: handoff.sessionKey,
          log,
        });
        log({ event: 'guard-started', port: link.description, intervalMs: t.heartbeatIntervalMs });
        return await runGuard(session, {
          timings: t,
          attestedAt: handoff.attestedAt,
          log,
          ...(ctx.signal ? { signal: ctx.signal } : {}),
        });
      } finally {
        await link.close();
      }
    });
    if (!lost) {
      result(ctx.io, json, { stopped: true }, 'guard stopped');
      return 0;
    }
    log({ event: 'token-lost', code: lost.code, reason: lost.reason, shutdown: !values['no-shutdown'] });
    if (!values['no-shutdown']) await shutdown(lost.reason);
    return reportFailure(ctx.io, json, new MastrError(lost.code, lost.reason), 1);
  } catch (e) {
    return reportFailure(ctx.io, json, e);
  }
}
