import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { fromBase64 } from '../../../../../shared/encoding/bytes.ts';
import { canonicalBytes } from '../../../../../shared/provara/canonical-json.ts';
import { ed25519Verify } from '../../../../../shared/provara/ed25519.ts';
import { parseJson } from '../../../../../shared/provara/json-parse.ts';
import { type JsonObject, without } from '../../../../../shared/provara/json-value.ts';
import { Vault } from '../../../../../shared/provara/vault.ts';
import { MemoryVaultFiles } from '../../../../../shared/provara/vault-files.ts';
import { verifyVault } from '../../../../../shared/provara/verify.ts';
import { detectPkcs11Keys, generatePkcs11Key, openPkcs11Signer } from './pkcs11-signer.ts';

/** SoftHSM2 is a real PKCS#11 module with CKM_EDDSA; each test file gets its own token directory. */
const MODULE = '/usr/lib/softhsm/libsofthsm2.so';
const PIN = { kind: 'env', value: '123456' } as const;

beforeAll(() => {
  if (!existsSync(MODULE))
    throw new Error('softhsm2 is not installed (scripts/ensure-system-packages.sh installs it)');
  const dir = mkdtempSync(join(tmpdir(), 'provara-softhsm-'));
  writeFileSync(
    join(dir, 'softhsm2.conf'),
    `directories.tokendir = ${dir}\nobjectstore.backend = file\nlog.level = ERROR\n`,
  );
  process.env.SOFTHSM2_CONF = join(dir, 'softhsm2.conf'); // read by SoftHSM at C_Initialize, which comes later
  execFileSync(
    'softhsm2-util',
    ['--init-token', '--free', '--label', 'provara-test', '--pin', '123456', '--so-pin', '654321'],
    { stdio: 'ignore' },
  );
});

describe('PKCS#11 signing on SoftHSM2 (CKM_EDDSA)', () => {
  it('generates an Ed25519 key on the token and signs a vault whose events are plain Profile A', async () => {
    const gen = await generatePkcs11Key({
      modulePath: MODULE,
      tokenLabel: 'provara-test',
      keyLabel: 'vault-root',
      pin: PIN,
    });
    const signer = await openPkcs11Signer({
      modulePath: MODULE,
      tokenLabel: 'provara-test',
      keyLabel: 'vault-root',
      pin: PIN,
    });
    try {
      expect(signer.keyId).toBe(gen.keyId);
      const files = new MemoryVaultFiles();
      const vault = await Vault.init(files, { signer, uid: 'hsm-vault' });
      await vault.append(
        {
          type: 'OBSERVATION',
          actor: 'sensor',
          payload: { subject: 'door', predicate: 'state', value: 'open' },
        },
        signer,
      );
      await vault.flush();
      const r = await verifyVault(files);
      expect(r.errors).toEqual([]);
      expect(r.signatures.ed25519).toBe(3);
      const line = new TextDecoder().decode(files.files.get('events/events.ndjson')).split('\n')[2] as string;
      const ev = parseJson(line) as JsonObject;
      expect(
        await ed25519Verify(
          gen.publicKey,
          fromBase64(ev.get('sig') as string) as Uint8Array,
          canonicalBytes(without(ev, 'sig')),
        ),
      ).toBe(true);
      expect(new TextDecoder().decode(files.files.get('identity/keys.json'))).toContain('"kind": "pkcs11"');
    } finally {
      signer.close();
    }
  });

  it('keys detect lists the token and the key’s bp1_ id without logging in', async () => {
    const found = await detectPkcs11Keys(MODULE);
    const t = found.find((f) => f.token.label === 'provara-test');
    expect(t?.keys.map((k) => k.label)).toContain('vault-root');
    expect(t?.keys[0]?.keyId).toMatch(/^bp1_[0-9a-f]{16}$/);
  });

  it('a wrong PIN: PIN_INCORRECT with CKR_PIN_INCORRECT', async () => {
    await expect(
      openPkcs11Signer({
        modulePath: MODULE,
        tokenLabel: 'provara-test',
        pin: { kind: 'env', value: '000000' },
      }),
    ).rejects.toMatchObject({
      code: 'PIN_INCORRECT',
      details: { ckr: 'CKR_PIN_INCORRECT' },
    });
  });

  it('no PIN source and no PIN pad: PIN_REQUIRED', async () => {
    await expect(openPkcs11Signer({ modulePath: MODULE, tokenLabel: 'provara-test' })).rejects.toMatchObject({
      code: 'PIN_REQUIRED',
    });
  });

  it('an unknown key label: KEY_NOT_FOUND_ON_TOKEN', async () => {
    await expect(
      openPkcs11Signer({ modulePath: MODULE, tokenLabel: 'provara-test', keyLabel: 'nope', pin: PIN }),
    ).rejects.toMatchObject({
      code: 'KEY_NOT_FOUND_ON_TOKEN',
    });
  });

  it('an unknown token: TOKEN_NOT_FOUND', async () => {
    await expect(
      openPkcs11Signer({ modulePath: MODULE, tokenLabel: 'absent', pin: PIN }),
    ).rejects.toMatchObject({ code: 'TOKEN_NOT_FOUND' });
  });

  it('a module that does not exist: HARDWARE_UNAVAILABLE', async () => {
    await expect(openPkcs11Signer({ modulePath: '/nonexistent/pkcs11.so', pin: PIN })).rejects.toMatchObject({
      code: 'HARDWARE_UNAVAILABLE',
    });
  });
});
