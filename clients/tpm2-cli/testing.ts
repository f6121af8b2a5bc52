import { execFile } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { CliIo } from './io.ts';
import { run } from './run.ts';

/**
 * Test support for the CLI: run it in-process (fast) or as the real command line (proves argv handling
 * and exit codes), and run tpm2-tools' own checker on the same files.
 */

export interface CliOutcome {
  status: number;
  stdout: string;
  stderr: string;
  /** stdout parsed as the one JSON object every command prints (undefined for --help text). */
  json: Record<string, unknown> | undefined;
}

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

function outcome(status: number, stdout: string, stderr: string): CliOutcome {
  let json: Record<string, unknown> | undefined;
  try {
    const parsed: unknown = JSON.parse(stdout);
    if (typeof parsed === 'object' && parsed !== null) json = parsed as Record<string, unknown>;
  } catch {
    json = undefined;
  }
  return { status, stdout, stderr, json };
}

/** `run(argv)` in this process, with stdout/stderr captured and the real file system. */
export async function runCli(argv: readonly string[]): Promise<CliOutcome> {
  let stdout = '';
  let stderr = '';
  const io: CliIo = {
    stdout: (t) => {
      stdout += t;
    },
    stderr: (t) => {
      stderr += t;
    },
    readFile: (p) => new Uint8Array(readFileSync(p)),
    writeFile: (p, d) => writeFileSync(p, d),
  };
  const status = await run(argv, io);
  return outcome(status, stdout, stderr);
}

/**
 * The real command line in a child process: `npm run --silent tpm2 -- …` (the documented entry point) or
 * `npx tsx clients/tpm2-cli/main.ts …`.
 */
export function spawnCli(argv: readonly string[], via: 'npm' | 'tsx' = 'npm'): Promise<CliOutcome> {
  const [file, args] =
    via === 'npm'
      ? ['npm', ['run', '--silent', 'tpm2', '--', ...argv]]
      : ['npx', ['tsx', 'clients/tpm2-cli/main.ts', ...argv]];
  return new Promise((resolve) => {
    execFile(file, args, { cwd: ROOT }, (err, stdout, stderr) => {
      const status = err ? (typeof err.code === 'number' ? err.code : -1) : 0;
      resolve(outcome(status, stdout, stderr));
    });
  });
}

/** Runs a tool outside the TPM (tpm2_checkquote, openssl, tpm2_makecredential -T none); never throws. */
export function runTool(file: string, args: readonly string[]): Promise<{ status: number; output: string }> {
  return new Promise((resolve) => {
    execFile(file, args, (err, stdout, stderr) => {
      const status = err ? (typeof err.code === 'number' ? err.code : -1) : 0;
      resolve({ status, output: `${stdout}${stderr}` });
    });
  });
}
