import type { ParseArgsConfig } from 'node:util';
import type { ArgValues, CliIo } from './io.ts';

/** One CLI command: its options for `node:util` parseArgs, its `--help` text and what it does. */
export interface Command {
  name: string;
  /** One line for the command list. */
  summary: string;
  /** The full `--help` text. */
  help: string;
  options: NonNullable<ParseArgsConfig['options']>;
  /** Names the positional arguments in usage (e.g. `FILE`); commands without it take none. */
  positionals?: string;
  /**
   * Runs the command and returns the success object printed as JSON (`ok: true` is added by the runner).
   * Throws TpmError for a rejection (exit 1) and UsageError for a wrong call (exit 2).
   */
  execute(values: ArgValues, io: CliIo, positionals?: readonly string[]): Promise<Record<string, unknown>>;
}
