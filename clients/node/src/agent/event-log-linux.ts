import { closeSync, openSync, readSync } from 'node:fs';
import type { EventLogRead } from './event-log.ts';

/**
 * The boot event log on Linux: the kernel exposes the firmware's TCG log in securityfs. securityfs reports
 * a size of 0 for it, so the file is read to its end instead of by its size. The same bounded reader serves
 * `--event-log FILE` on every platform (plain node:fs).
 */
export const LINUX_EVENT_LOG_PATH = '/sys/kernel/security/tpm0/binary_bios_measurements';

const CHUNK = 64 * 1024;

/**
 * Reads `path` to its end, but never more than `cap` bytes (+1, to tell "exactly cap" from "more"): a file
 * larger than that could not be sent anyway, and an arbitrary path must not make the agent read gigabytes.
 */
export function readEventLogFile(path: string, cap: number): EventLogRead {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (e) {
    return { kind: 'absent', from: path, reason: errnoText(e) };
  }
  try {
    const chunks: Uint8Array[] = [];
    let total = 0;
    for (;;) {
      const buf = new Uint8Array(Math.min(CHUNK, cap + 1 - total));
      const n = readSync(fd, buf, 0, buf.length, null);
      if (n === 0) break;
      chunks.push(buf.subarray(0, n));
      total += n;
      if (total > cap) return { kind: 'tooLarge', from: path, size: `more than ${cap}` };
    }
    if (total === 0) return { kind: 'absent', from: path, reason: 'the file is empty' };
    const bytes = new Uint8Array(total);
    let o = 0;
    for (const c of chunks) {
      bytes.set(c, o);
      o += c.length;
    }
    return { kind: 'log', from: path, bytes };
  } catch (e) {
    return { kind: 'absent', from: path, reason: errnoText(e) };
  } finally {
    closeSync(fd);
  }
}

function errnoText(e: unknown): string {
  const code = (e as NodeJS.ErrnoException).code;
  if (code === 'ENOENT') return 'no such file';
  if (code === 'EACCES' || code === 'EPERM') return 'permission denied';
  if (code === 'EISDIR') return 'it is a directory';
  return (e as Error).message;
}

/** The platform default on Linux: securityfs (absent without a TPM, or when securityfs is not mounted). */
export function readLinuxEventLog(cap: number): EventLogRead {
  return readEventLogFile(LINUX_EVENT_LOG_PATH, cap);
}
