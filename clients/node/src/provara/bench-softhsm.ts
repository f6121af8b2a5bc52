import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { benchProvara } from '../../../../shared/provara/bench.ts';
import { generatePkcs11Key, openPkcs11Signer } from './pkcs11/pkcs11-signer.ts';

const MODULE = '/usr/lib/softhsm/libsofthsm2.so';

/**
 * `benchProvara()` plus a SoftHSM2 PKCS#11 signer on a throw-away token. SoftHSM2 reads SOFTHSM2_CONF at
 * C_Initialize, so call this before anything else in the process loads the module.
 */
export async function benchProvaraWithSoftHsm(): Promise<Record<string, number>> {
  if (!existsSync(MODULE)) return benchProvara();
  const dir = mkdtempSync(join(tmpdir(), 'provara-bench-hsm-'));
  try {
    writeFileSync(
      join(dir, 'softhsm2.conf'),
      `directories.tokendir = ${dir}\nobjectstore.backend = file\nlog.level = ERROR\n`,
    );
    process.env.SOFTHSM2_CONF = join(dir, 'softhsm2.conf');
    execFileSync(
      'softhsm2-util',
      ['--init-token', '--free', '--label', 'bench', '--pin', '1234', '--so-pin', '4321'],
      { stdio: 'ignore' },
    );
    const sel = {
      modulePath: MODULE,
      tokenLabel: 'bench',
      keyLabel: 'bench',
      pin: { kind: 'env', value: '1234' } as const,
    };
    await generatePkcs11Key(sel);
    const signer = await openPkcs11Signer(sel);
    try {
      return await benchProvara({
        extraSigners: { 'SoftHSM2 PKCS#11 (CKM_EDDSA)': { signer, events: 500 } },
      });
    } finally {
      signer.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
