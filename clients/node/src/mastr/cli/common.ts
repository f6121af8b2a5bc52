import { type ParseArgsConfig, parseArgs } from 'node:util';
import { withTpm } from '../../agent/context.ts';
import type { CliIo } from '../../cli/output.ts';
import { AgentError } from '../../errors.ts';
import type { Tpm } from '../../tpm/tpm.ts';
import { defaultTpmSpec, parseTpmSpec } from '../../tpm/transport.ts';
import { MastrError } from '../errors.ts';

/** What every `noderr-agent mastr …` command gets. */
export interface MastrCommandContext {
  io: CliIo;
  signal: AbortSignal | undefined;
}

/** Exit codes of the mastr commands (bootstrap collapses every failure to 1 = halt). */
export const MASTR_EXIT = { ok: 0, failure: 1, usage: 2, keysMissing: 3, tpm: 4, tokenApi: 5 } as const;

export function usage(message: string): MastrError {
  return new MastrError('USAGE', `${message} (see noderr-agent mastr --help)`);
}

const BASE_OPTIONS = { json: { type: 'boolean' }, tpm: { type: 'string' } } as const;

export function parse<T extends NonNullable<ParseArgsConfig['options']>>(args: string[], options: T) {
  try {
    return parseArgs({
      args,
      options: { ...options, ...BASE_OPTIONS },
      allowPositionals: true,
      strict: true,
    });
  } catch (e) {
    throw usage(e instanceof Error ? e.message : String(e));
  }
}

export function exitCodeOf(e: unknown): number {
  if (e instanceof MastrError) {
    switch (e.code) {
      case 'USAGE':
        return MASTR_EXIT.usage;
      case 'HOST_KEY_MISSING':
      case 'TOKEN_PUBKEY_MISSING':
        return MASTR_EXIT.keysMissing;
      case 'HTTP_FAILED':
      case 'HTTP_REJECTED':
        return MASTR_EXIT.tokenApi;
      default:
        return MASTR_EXIT.failure;
    }
  }
  if (e instanceof AgentError)
    return e.code === 'USAGE' || e.code === 'TPM_SPEC_INVALID' ? MASTR_EXIT.usage : MASTR_EXIT.tpm;
  return MASTR_EXIT.failure;
}

/** Prints a failure (`--json`: one object with ok:false) and returns the exit code. */
export function reportFailure(io: CliIo, json: boolean, e: unknown, exitOverride?: number): number {
  const code = e instanceof MastrError || e instanceof AgentError ? e.code : 'INTERNAL';
  const message = e instanceof Error ? e.message : String(e);
  const exit = exitOverride ?? exitCodeOf(e);
  if (json) io.stdout(`${JSON.stringify({ ok: false, error: { code, message }, exitCode: exit })}\n`);
  else io.stderr(`noderr-agent mastr: ${code}: ${message}\n`);
  return exit;
}

export function result(io: CliIo, json: boolean, value: Record<string, unknown>, human: string): void {
  io.stdout(json ? `${JSON.stringify({ ok: true, ...value })}\n` : `${human}\n`);
}

/** A log line per event: JSON on stdout with --json, else `time event k=v` on stderr. */
export function eventLogger(
  io: CliIo,
  json: boolean,
): (e: { event: string } & Record<string, unknown>) => void {
  return (e) => {
    const at = new Date().toISOString();
    if (json) io.stdout(`${JSON.stringify({ at, ...e })}\n`);
    else {
      const { event, ...rest } = e;
      const detail = Object.entries(rest)
        .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
        .join(' ');
      io.stderr(`${at} ${event}${detail ? ` ${detail}` : ''}\n`);
    }
  };
}

export function tpmSpecOf(flag: string | undefined, io: CliIo): string {
  const spec = flag ?? io.env.NODERR_TPM ?? defaultTpmSpec();
  parseTpmSpec(spec);
  return spec;
}

export function openTpm<T>(flag: string | undefined, io: CliIo, fn: (tpm: Tpm) => Promise<T>): Promise<T> {
  return withTpm({ tpmSpec: tpmSpecOf(flag, io) }, fn);
}

export function positiveNumber(v: string | undefined, name: string, fallback: number): number {
  if (v === undefined) return fallback;
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) throw usage(`--${name} must be a positive number`);
  return n;
}

/** `0x01000080` or `16777344` → a number. */
export function handleNumber(v: string, name: string): number {
  const n = /^0x[0-9a-f]+$/i.test(v) ? Number.parseInt(v, 16) : /^\d+$/.test(v) ? Number(v) : Number.NaN;
  if (!Number.isSafeInteger(n) || n < 0 || n > 0xffffffff)
    throw usage(`--${name} must be a 32-bit number (0x…)`);
  return n;
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
