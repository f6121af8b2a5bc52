import { buildSyntheticLog, type SyntheticLog, type SyntheticLogOptions } from './build-log.ts';
import { selfSignedDer } from './self-signed.ts';

/** Fixed inputs for synthetic-log tests: a "kernel" and "initrd" whose SHA-256 are the golden hashes. */
export const KERNEL = {
  path: '/boot/vmlinuz-6.8.0-noderr',
  contents: new TextEncoder().encode('not really a kernel'),
};
export const INITRD = {
  path: '/boot/initrd.img-6.8.0-noderr',
  contents: new TextEncoder().encode('not an initrd'),
};
export const BOOT_APP = { path: '\\EFI\\BOOT\\BOOTX64.EFI', image: new TextEncoder().encode('MZ shim') };
export const CMDLINE = 'root=PARTUUID=00000000-0000-0000-0000-000000000001 ro quiet';

export async function sha256Hex(b: Uint8Array): Promise<string> {
  const h = new Uint8Array(await crypto.subtle.digest('SHA-256', b as Uint8Array<ArrayBuffer>));
  return Array.from(h, (x) => x.toString(16).padStart(2, '0')).join('');
}

export interface SyntheticBoot {
  log: SyntheticLog;
  options: SyntheticLogOptions;
  dbCertSha256: string;
}

export async function syntheticBoot(overrides: Partial<SyntheticLogOptions> = {}): Promise<SyntheticBoot> {
  const options: SyntheticLogOptions = {
    secureBoot: true,
    pk: await selfSignedDer('Noderr Test PK'),
    kek: await selfSignedDer('Noderr Test KEK'),
    db: await selfSignedDer('Noderr Test db'),
    dbxSha256: [new Uint8Array(32).fill(0xdb)],
    bootApplication: BOOT_APP,
    kernel: KERNEL,
    initrd: INITRD,
    cmdline: CMDLINE,
    ...overrides,
  };
  return { log: await buildSyntheticLog(options), options, dbCertSha256: await sha256Hex(options.db) };
}
