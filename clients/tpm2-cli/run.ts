import { parseArgs } from 'node:util';
import { isTpmError } from '../../shared/tpm2/errors.ts';
import type { Command } from './command.ts';
import { eventlogCommand } from './commands/eventlog.ts';
import { makeCredentialCommand } from './commands/make-credential.ts';
import { verifyCertifyCommand } from './commands/verify-certify.ts';
import { verifyEkCertCommand } from './commands/verify-ek-cert.ts';
import { verifyQuoteCommand } from './commands/verify-quote.ts';
import { type CliIo, EXIT, toJson, UsageError } from './io.ts';

const COMMANDS: readonly Command[] = [
  verifyQuoteCommand,
  verifyCertifyCommand,
  makeCredentialCommand,
  verifyEkCertCommand,
  eventlogCommand,
];

const width = Math.max(...COMMANDS.map((c) => c.name.length));
const topHelp = `Usage: npm run --silent tpm2 -- <command> [options]

TPM 2.0 attestation tools for operators and scripts (tpm2-ts, the verifiers the API runs).

Commands:
${COMMANDS.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`).join('\n')}

Run \`<command> --help\` for its options. Every command prints exactly one JSON object on stdout:
{"ok": true, …} or {"ok": false, "reason": "<CODE>", "message": "…"}; usage errors have reason USAGE.
Exit status: 0 ok, 1 rejected (reason = a verifier code of design/API.md), 2 usage error, 3 internal error.
`;

function print(io: CliIo, value: Record<string, unknown>): void {
  io.stdout(`${toJson(value)}\n`);
}

/**
 * Runs the CLI on `argv` (without node and script) and returns the exit status; everything it prints
 * goes through `io`, so tests call it in-process.
 *
 * @example
 *   const status = await run(['verify-quote', '--help'], nodeIo);
 */
export async function run(argv: readonly string[], io: CliIo): Promise<number> {
  const [name, ...rest] = argv;
  if (name === '--help' || name === '-h' || name === 'help') {
    io.stdout(topHelp);
    return EXIT.ok;
  }
  const command = COMMANDS.find((c) => c.name === name);
  if (!command) {
    const message = name === undefined ? 'no command given' : `unknown command '${name}'`;
    print(io, {
      ok: false,
      reason: 'USAGE',
      message: `${message}; commands: ${COMMANDS.map((c) => c.name).join(', ')}`,
    });
    return EXIT.usage;
  }
  try {
    const { values, positionals } = (() => {
      try {
        return parseArgs({
          args: [...rest],
          options: { ...command.options, help: { type: 'boolean', short: 'h' } },
          strict: true,
          allowPositionals: command.positionals !== undefined,
        });
      } catch (e) {
        // node:util reports unknown options, missing values and stray arguments as TypeErrors.
        throw new UsageError(e instanceof Error ? e.message : String(e));
      }
    })();
    if (values.help === true) {
      io.stdout(command.help);
      return EXIT.ok;
    }
    const result = await command.execute(values, io, positionals);
    print(io, { ok: true, ...result });
    return EXIT.ok;
  } catch (e) {
    if (e instanceof UsageError) {
      print(io, { ok: false, reason: 'USAGE', message: `${e.message} (see ${command.name} --help)` });
      return EXIT.usage;
    }
    if (isTpmError(e)) {
      print(io, { ok: false, reason: e.reason, message: e.message });
      return EXIT.rejected;
    }
    // Not a typed rejection: a bug, reported as such rather than as a verdict about the input.
    print(io, { ok: false, reason: 'INTERNAL', message: e instanceof Error ? e.message : String(e) });
    if (e instanceof Error && e.stack) io.stderr(`${e.stack}\n`);
    return EXIT.internal;
  }
}
