import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { release } from 'node:os';
import { MastrError } from './errors.ts';

/**
 * The golden hash (MASTR.md §2.3): SHA-256 over the entire contents of one file. By default the running
 * kernel's image, `/boot/vmlinuz-$(uname -r)`, falling back to `/boot/vmlinuz` — the file the seed's docs
 * name (its code hashed `./testfile` at attestation time, §7.13). `root` prefixes both paths, for the
 * initramfs, where the real root is mounted under `${rootmnt}` / `$NEWROOT`.
 */
export function defaultIntegrityFile(root = '', kernelRelease = release(), exists = existsSync): string {
  const candidates = [`${root}/boot/vmlinuz-${kernelRelease}`, `${root}/boot/vmlinuz`];
  for (const c of candidates) if (exists(c)) return c;
  throw new MastrError(
    'INTEGRITY_FILE_UNREADABLE',
    `no kernel image at ${candidates.join(' or ')}: pass --integrity-file PATH`,
  );
}

export function hashIntegrityFile(path: string): Uint8Array {
  try {
    return new Uint8Array(createHash('sha256').update(readFileSync(path)).digest());
  } catch (e) {
    throw new MastrError(
      'INTEGRITY_FILE_UNREADABLE',
      `cannot read the integrity file ${path}: ${e instanceof Error ? e.message : String(e)}`,
    );
  }
}
