import { readFileSync, writeFileSync } from 'node:fs';
import { fromHex } from '../../shared/encoding/bytes.ts';
import { TPM_GENERATED_VALUE } from '../../shared/tpm2/constants.ts';

/** What a command may touch: injectable so tests can run the CLI in-process. */
export interface CliIo {
  stdout(text: string): void;
  stderr(text: string): void;
  readFile(path: string): Uint8Array;
  writeFile(path: string, data: Uint8Array): void;
}

export const nodeIo: CliIo = {
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
  readFile: (path) => new Uint8Array(readFileSync(path)),
  writeFile: (path, data) => writeFileSync(path, data),
};

/** The operator called the CLI wrongly (exit 2): unknown option, missing argument or file, bad hex. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

/** Exit codes, the CLI's contract with scripts (see `--help`). */
export const EXIT = { ok: 0, rejected: 1, usage: 2, internal: 3 } as const;

/** parseArgs values as the commands declare them: every option is a string or a boolean. */
export type ArgValues = Record<string, string | boolean | undefined>;

export function requireString(values: ArgValues, name: string): string {
  const v = values[name];
  if (typeof v !== 'string' || v === '') throw new UsageError(`--${name} is required`);
  return v;
}

export function optionalString(values: ArgValues, name: string): string | undefined {
  const v = values[name];
  if (v === undefined) return undefined;
  if (typeof v !== 'string' || v === '') throw new UsageError(`--${name} needs a value`);
  return v;
}

/** Reads an input file; a missing or unreadable file is a usage error, not a rejection. */
export function readInput(io: CliIo, path: string, option: string): Uint8Array {
  try {
    return io.readFile(path);
  } catch (e) {
    const why = e instanceof Error && 'code' in e ? String(e.code) : String(e);
    throw new UsageError(`--${option}: cannot read ${path} (${why})`);
  }
}

/** Hex as tpm2-tools prints it (either case, optional `0x`); odd length or non-hex is a usage error. */
export function parseHexOption(value: string, option: string): Uint8Array {
  const bytes = fromHex(value.startsWith('0x') || value.startsWith('0X') ? value.slice(2) : value);
  if (!bytes) throw new UsageError(`--${option}: '${value}' is not hex (an even number of 0-9a-f digits)`);
  return bytes;
}

/**
 * The TPMS_ATTEST inside a file that holds either a bare TPMS_ATTEST (`tpm2_quote -m`, `tpm2_certify -o`)
 * or a TPM2B_ATTEST (u16 size ‖ TPMS_ATTEST). Only the outer size is peeled off here; everything else is
 * left to the verifier, which checks the signature over these exact bytes before parsing them.
 */
export function unwrapAttest(bytes: Uint8Array): Uint8Array {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (bytes.length >= 4 && view.getUint32(0) === TPM_GENERATED_VALUE) return bytes;
  if (
    bytes.length >= 6 &&
    view.getUint16(0) === bytes.length - 2 &&
    view.getUint32(2) === TPM_GENERATED_VALUE
  ) {
    return bytes.subarray(2);
  }
  return bytes;
}

/** JSON.stringify that writes bigints (TPM clock values) as decimal strings. */
export function toJson(value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v));
}

/** Writes an output file; an unwritable path is a usage error. */
export function writeOutput(io: CliIo, path: string, data: Uint8Array, option: string): void {
  try {
    io.writeFile(path, data);
  } catch (e) {
    const why = e instanceof Error && 'code' in e ? String(e.code) : String(e);
    throw new UsageError(`--${option}: cannot write ${path} (${why})`);
  }
}
