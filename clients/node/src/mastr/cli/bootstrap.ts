import { runBootstrap } from '../bootstrap.ts';
import { tpmHostSigner } from '../host-key.ts';
import { HostSession } from '../host-session.ts';
import { defaultIntegrityFile, hashIntegrityFile } from '../integrity.ts';
import { DEFAULT_HANDOFF_FILE, writeHandoff } from '../session-handoff.ts';
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
  reportFailure,
  result,
  sleep,
  usage,
} from './common.ts';
import { debugFramePolicy, hostTimings, LINK_OPTIONS, openPort } from './link-options.ts';

export const BOOTSTRAP_HELP = `noderr-agent mastr bootstrap --port DEV [--integrity-file PATH] [--root DIR] [--handoff FILE]
        [--debug-frames fatal|tolerate] [--nv-index 0x… | --legacy-nv-index] [--baud N] [--tpm SPEC]
  The initramfs gate: handshake, channel check, integrity, BOOT_OK. Exit 0 = boot, 1 = halt (reason on
  stderr). --integrity-file defaults to DIR/boot/vmlinuz-$(uname -r), else DIR/boot/vmlinuz (--root DIR:
  where the real root is mounted). The session key goes to --handoff (default ${DEFAULT_HANDOFF_FILE},
  0600 on the /run tmpfs) for the guard. DEBUG_MSG frames from a DEBUG firmware are fatal unless
  --debug-frames tolerate. --port tcp:HOST:PORT talks to emulate-token.`;

/** Every failure is exit 1 (halt): the initramfs script only distinguishes boot from no boot. */
export async function bootstrapCommand(args: string[], ctx: MastrCommandContext): Promise<number> {
  let json = args.includes('--json');
  try {
    const { values, positionals } = parse(args, {
      ...LINK_OPTIONS,
      'integrity-file': { type: 'string' },
      root: { type: 'string' },
    });
    json = values.json === true;
    if (positionals.length) throw usage('bootstrap takes no arguments');
    const timings = hostTimings(values['time-scale']);
    const policy = debugFramePolicy(values['debug-frames']);
    const nvIndex = values['legacy-nv-index']
      ? LEGACY_TOKEN_PUBKEY_NV_INDEX
      : values['nv-index']
        ? handleNumber(values['nv-index'], 'nv-index')
        : TOKEN_PUBKEY_NV_INDEX;
    const integrityFile = values['integrity-file'] ?? defaultIntegrityFile(values.root ?? '');
    const handoff = values.handoff ?? DEFAULT_HANDOFF_FILE;
    const log = eventLogger(ctx.io, json);
    return await openTpm(values.tpm, ctx.io, async (tpm) => {
      const tokenPub = await requireTokenPubkey(tpm, nvIndex);
      const link = await openPort(values.port, values.baud);
      try {
        await sleep(timings.openSettleMs);
        const session = new HostSession({
          link,
          signer: tpmHostSigner(tpm),
          tokenPub,
          integrityHash: () => hashIntegrityFile(integrityFile),
          debugFrames: policy,
          log,
        });
        const r = await runBootstrap(session, timings);
        writeHandoff(handoff, r);
        result(
          ctx.io,
          json,
          { boot: true, integrityFile, handoff },
          `MASTR: token attested this host (${integrityFile}); boot continues. Session handed to the guard via ${handoff}.`,
        );
        return 0;
      } finally {
        await link.close();
      }
    });
  } catch (e) {
    return reportFailure(ctx.io, json, e, 1);
  }
}
