import { chmodSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { MastrError } from './errors.ts';

/**
 * Handing the session key from `bootstrap` (initramfs) to `guard` (the running system).
 *
 * The seed put 16 raw bytes into the `@s` session keyring (MASTR.md §2.1, §7.5). systemd gives each service
 * its own session keyring, so the guard started as a unit never saw the key. We use a file on /run instead:
 * a root-only tmpfs that both initramfs-tools and dracut move into the real root before switch_root, never
 * on disk. The directory is 0700, the file 0600, written atomically, and the guard deletes it as soon as it
 * has read it, so the key exists outside process memory only between the two.
 */
export const DEFAULT_HANDOFF_FILE = '/run/mastr/session.json';

export interface Handoff {
  sessionKey: Uint8Array;
  /** When BOOT_OK was acknowledged (ms since the epoch): the token's 30 s re-attestation clock starts here. */
  attestedAt: number;
}

export function writeHandoff(path: string, h: Handoff): void {
  try {
    mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
    chmodSync(dirname(path), 0o700);
    const tmp = `${path}.${process.pid}.tmp`;
    writeFileSync(
      tmp,
      `${JSON.stringify({ v: 1, sessionKey: Buffer.from(h.sessionKey).toString('hex'), attestedAt: h.attestedAt })}\n`,
      { mode: 0o600 },
    );
    renameSync(tmp, path);
  } catch (e) {
    throw new MastrError(
      'HANDOFF_FAILED',
      `cannot write the session handoff ${path}: ${(e as Error).message}`,
    );
  }
}

/** Reads and deletes the handoff (`keep` leaves it, for debugging). */
export function takeHandoff(path: string, keep = false): Handoff {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new MastrError(
      'HANDOFF_FAILED',
      `no session handoff at ${path} (did bootstrap run in this boot?): ${(e as Error).message}`,
    );
  }
  if (!keep) rmSync(path, { force: true });
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new MastrError('HANDOFF_FAILED', `session handoff ${path} is not JSON`);
  }
  const o = parsed as { v?: unknown; sessionKey?: unknown; attestedAt?: unknown };
  if (
    o.v !== 1 ||
    typeof o.sessionKey !== 'string' ||
    !/^[0-9a-f]{32}$/.test(o.sessionKey) ||
    typeof o.attestedAt !== 'number'
  ) {
    throw new MastrError('HANDOFF_FAILED', `session handoff ${path} is malformed`);
  }
  return { sessionKey: new Uint8Array(Buffer.from(o.sessionKey, 'hex')), attestedAt: o.attestedAt };
}
