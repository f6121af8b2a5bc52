import type { CliIo } from '../../cli/output.ts';
import { BOOTSTRAP_HELP, bootstrapCommand } from './bootstrap.ts';
import { type MastrCommandContext, reportFailure, usage } from './common.ts';
import { DEBUG_HELP, debugCommand } from './debug.ts';
import { EMULATE_HELP, emulateTokenCommand } from './emulate-token.ts';
import { goldenHashCommand } from './golden-hash.ts';
import { GUARD_HELP, guardCommand } from './guard.ts';
import { PROVISION_HELP, provisionCommand } from './provision.ts';
import { TOKEN_PROVISION_HELP, tokenProvisionCommand } from './token-provision.ts';

export const MASTR_HELP = `noderr-agent mastr — the host side of the MASTR hardware-token boot gate

${PROVISION_HELP}

noderr-agent mastr golden-hash [--file PATH]
  SHA-256 of the integrity file (default /boot/vmlinuz-$(uname -r), else /boot/vmlinuz) as 64 hex.

${TOKEN_PROVISION_HELP}

${BOOTSTRAP_HELP}

${GUARD_HELP}

${EMULATE_HELP}

${DEBUG_HELP}

Every command takes --json and --tpm SPEC (env NODERR_TPM). Exit codes: 0 ok, 1 failure / halt / token
lost, 2 usage, 3 host or token key missing, 4 TPM error, 5 token HTTP API error (bootstrap: 0 boot, 1 halt).
`;

const COMMANDS: Record<string, (args: string[], ctx: MastrCommandContext) => Promise<number>> = {
  provision: provisionCommand,
  'golden-hash': goldenHashCommand,
  'token-provision': tokenProvisionCommand,
  bootstrap: bootstrapCommand,
  guard: (args, ctx) => guardCommand(args, ctx),
  'emulate-token': emulateTokenCommand,
  debug: debugCommand,
};

/** `noderr-agent mastr <command> …` — resolves with the exit code. */
export async function runMastr(argv: string[], io: CliIo, signal?: AbortSignal): Promise<number> {
  const [cmd, ...args] = argv;
  const json = argv.includes('--json');
  if (!cmd || cmd === '--help' || cmd === '-h' || cmd === 'help') {
    io.stdout(MASTR_HELP);
    return cmd ? 0 : 2;
  }
  const run = COMMANDS[cmd];
  try {
    if (!run) throw usage(`unknown mastr command '${cmd}'`);
    if (args.includes('--help') || args.includes('-h')) {
      io.stdout(MASTR_HELP);
      return 0;
    }
    return await run(args, { io, signal });
  } catch (e) {
    return reportFailure(io, json, e);
  }
}
