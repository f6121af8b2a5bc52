import { isAbsolute, resolve } from 'node:path';
import { toBase64 } from '../../../../shared/encoding/bytes.ts';
import { AgentError } from '../errors.ts';
import { LINUX_EVENT_LOG_PATH, readEventLogFile, readLinuxEventLog } from './event-log-linux.ts';

/**
 * The TCG boot event log sent with every attestation (registration and re-attestation) as `eventLog`, for
 * tiers whose policy judges measured boot. Where it comes from is a setting: `--event-log`, else
 * `NODERR_EVENT_LOG`, else (heartbeat, run) what registration recorded in the state, else `default`:
 *
 * - `default`: the platform's log when there is one — Linux securityfs (`event-log-linux.ts`), Windows TBS
 *   (`event-log-windows.ts`); none elsewhere. Its absence is not worth a warning (VMs without a vTPM log).
 * - `none`: send none.
 * - a file (made absolute, so the daemon reads the same one): its absence is warned about.
 *
 * The API refuses bodies over 256 KiB and base64 grows the log by 4/3, so a log that would not fit with the
 * rest of the request is not sent, with a warning (a tier that judges it then refuses: EVENT_LOG_INVALID).
 */

export const EVENT_LOG_ENV = 'NODERR_EVENT_LOG';

/** The API's body limit (functions/src/middleware/body.ts: MAX_BODY_BYTES). */
export const API_BODY_LIMIT_BYTES = 256 * 1024;

/** What `,"eventLog":""` adds to a JSON object that already has members, besides the base64 itself. */
const EVENT_LOG_MEMBER_OVERHEAD = ',"eventLog":""'.length;

export type EventLogRead =
  | { kind: 'log'; from: string; bytes: Uint8Array }
  | { kind: 'absent'; from: string; reason: string }
  | { kind: 'tooLarge'; from: string; size: string };

/** What was done with the log, for results (`--json`) and status: never the log itself. */
export interface EventLogReport {
  /** The setting: `default`, `none` or a file. */
  source: string;
  /** Where the log was read (`tbs`, a path), when anything was read. */
  from?: string;
  sent: boolean;
  bytes?: number;
  /** Why nothing was sent. */
  reason?: string;
}

/** Checks and normalises one `--event-log` / `NODERR_EVENT_LOG` value: `default`, `none` or a file. */
export function parseEventLogSetting(value: string, cwd: string = process.cwd()): string {
  const v = value.trim();
  if (!v)
    throw new AgentError('USAGE', '--event-log needs a file, none or default (see noderr-agent --help)');
  if (v === 'none' || v === 'default') return v;
  return isAbsolute(v) ? v : resolve(cwd, v);
}

/** The option, else the environment (an empty value counts as unset, as in the Linux installer). */
export function eventLogOverride(
  flag: string | undefined,
  env: Readonly<Record<string, string | undefined>>,
  cwd: string = process.cwd(),
): string | undefined {
  if (flag !== undefined) return parseEventLogSetting(flag, cwd);
  const fromEnv = env[EVENT_LOG_ENV];
  return fromEnv !== undefined && fromEnv.trim() !== '' ? parseEventLogSetting(fromEnv, cwd) : undefined;
}

/** The setting in force: the option, else the environment, else the recorded one (heartbeat, run), else `default`. */
export function resolveEventLogSetting(
  flag: string | undefined,
  env: Readonly<Record<string, string | undefined>>,
  recorded?: string,
  cwd: string = process.cwd(),
): string {
  return eventLogOverride(flag, env, cwd) ?? recorded ?? 'default';
}

/** What `default` means on a platform, for help and messages. */
export function defaultEventLogSource(platform: NodeJS.Platform = process.platform): string {
  if (platform === 'linux') return LINUX_EVENT_LOG_PATH;
  if (platform === 'win32') return 'TBS (Tbsi_Get_TCG_Log)';
  return 'none';
}

/** Reads the log a setting names (the Windows reader, with koffi and tbs.dll, is loaded only on Windows). */
export async function readEventLog(
  setting: string,
  platform: NodeJS.Platform = process.platform,
): Promise<EventLogRead | undefined> {
  if (setting === 'none') return undefined;
  if (setting !== 'default') return readEventLogFile(setting, API_BODY_LIMIT_BYTES);
  if (platform === 'linux') return readLinuxEventLog(API_BODY_LIMIT_BYTES);
  if (platform === 'win32')
    return (await import('./event-log-windows.ts')).readWindowsEventLog(API_BODY_LIMIT_BYTES);
  return undefined;
}

/** Length of the standard base64 (padded) of `n` bytes. */
export function base64Length(n: number): number {
  return 4 * Math.ceil(n / 3);
}

/**
 * Whether a log of `logBytes` fits in a request whose JSON is `bodyBytes` long without it (the log goes in
 * as one more member of a non-empty object).
 */
export function eventLogFits(logBytes: number, bodyBytes: number): boolean {
  return bodyBytes + EVENT_LOG_MEMBER_OVERHEAD + base64Length(logBytes) <= API_BODY_LIMIT_BYTES;
}

/** The largest log that fits beside a request of `bodyBytes` (0 when nothing does). */
export function maxEventLogBytes(bodyBytes: number): number {
  const room = API_BODY_LIMIT_BYTES - bodyBytes - EVENT_LOG_MEMBER_OVERHEAD;
  return room < 4 ? 0 : Math.floor(room / 4) * 3;
}

export function jsonBytes(value: unknown): number {
  return Buffer.byteLength(JSON.stringify(value), 'utf8');
}

/**
 * Reads the log of `setting` and returns `body` with `attestation.eventLog` set when there is a log and it
 * fits; otherwise `body` unchanged. Warns when a log is not sent for its size or an explicit file cannot be
 * read; a missing platform default is only a progress line.
 */
export async function withEventLog<B extends { attestation: Record<string, unknown> }>(
  body: B,
  setting: string,
  out: { warn(message: string): void; progress(step: string): void },
  read: (setting: string) => Promise<EventLogRead | undefined> = readEventLog,
): Promise<{ body: B; report: EventLogReport }> {
  const log = await read(setting);
  if (!log) return { body, report: { source: setting, sent: false, reason: 'none' } };
  if (log.kind === 'absent') {
    const message = `no boot event log sent: cannot read ${log.from}: ${log.reason}`;
    if (setting === 'default') out.progress(message);
    else out.warn(message);
    return { body, report: { source: setting, from: log.from, sent: false, reason: log.reason } };
  }
  const bodyBytes = jsonBytes(body);
  if (log.kind === 'tooLarge' || !eventLogFits(log.bytes.length, bodyBytes)) {
    const size = log.kind === 'tooLarge' ? log.size : String(log.bytes.length);
    const reason = `the boot event log from ${log.from} (${size} bytes, 4/3 as much as base64) does not fit the API's ${API_BODY_LIMIT_BYTES / 1024} KiB body limit beside the rest of the request (at most ${maxEventLogBytes(bodyBytes)} bytes); not sent`;
    out.warn(reason);
    return { body, report: { source: setting, from: log.from, sent: false, reason } };
  }
  out.progress(`Sending the boot event log from ${log.from} (${log.bytes.length} bytes)`);
  return {
    body: { ...body, attestation: { ...body.attestation, eventLog: toBase64(log.bytes) } },
    report: { source: setting, from: log.from, sent: true, bytes: log.bytes.length },
  };
}
