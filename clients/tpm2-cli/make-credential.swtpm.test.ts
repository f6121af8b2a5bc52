import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Swtpm, startSwtpm } from '../../scripts/lib/swtpm.ts';
import { type Ak, activateCredential, createAk, createEk, type Ek } from '../../scripts/lib/tpm-fixture.ts';
import { runCli, spawnCli } from './testing.ts';

/**
 * make-credential against the real TPM2_ActivateCredential: what our software MakeCredential writes,
 * a swtpm recovers with tpm2_activatecredential (EK policy session) — for an RSA and an ECC EK.
 */

let tpm: Swtpm;
let dir: string;
let ekRsa: Ek;
let ekEcc: Ek;
let akOnRsa: Ak;
let akOnEcc: Ak;
let otherAkOnRsa: Ak;

beforeAll(async () => {
  tpm = await startSwtpm();
  dir = mkdtempSync(join(tmpdir(), 'noderr-make-credential-'));
  [ekRsa, ekEcc] = await Promise.all([createEk(tpm, dir, 'rsa'), createEk(tpm, dir, 'ecc')]);
  akOnRsa = await createAk(tpm, dir, ekRsa, 'ecc-ecdsa', 'ak-on-rsa');
  akOnEcc = await createAk(tpm, dir, ekEcc, 'ecc-ecdsa', 'ak-on-ecc');
  otherAkOnRsa = await createAk(tpm, dir, ekRsa, 'ecc-ecdsa', 'other-ak-on-rsa');
}, 60_000);

afterAll(async () => {
  await tpm?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

function hex(b: Uint8Array): string {
  return Buffer.from(b).toString('hex');
}

describe('make-credential output is recovered by tpm2_activatecredential', () => {
  it('for an RSA-2048 EK (--name-file, --out-tpm2-tools)', async () => {
    const secret = new Uint8Array(randomBytes(32));
    const cred = join(dir, 'rsa.cred');
    const out = await runCli([
      ...['make-credential', '--ek', ekRsa.publicPath, '--name-file', akOnRsa.namePath],
      ...['--secret', hex(secret), '--out-tpm2-tools', cred],
    ]);
    expect(out.status, out.stderr).toBe(0);
    expect(out.json).toEqual({ ok: true, objectName: hex(akOnRsa.name), written: { tpm2Tools: cred } });
    expect(await activateCredential(tpm, dir, akOnRsa, cred, 'activate-rsa')).toEqual(secret);
  });

  it('for an ECC P-256 EK (--name HEX), writing raw blob and secret that match the tpm2-tools file', async () => {
    const secret = new Uint8Array(randomBytes(16));
    const [cred, blob, encSecret] = ['ecc.cred', 'ecc.blob', 'ecc.secret'].map((f) => join(dir, f));
    const out = await runCli([
      ...['make-credential', '--ek', ekEcc.publicPath, '--name', hex(akOnEcc.name), '--secret', hex(secret)],
      ...['--out-tpm2-tools', String(cred), '--out-blob', String(blob), '--out-secret', String(encSecret)],
    ]);
    expect(out.status, out.stderr).toBe(0);
    expect(await activateCredential(tpm, dir, akOnEcc, String(cred), 'activate-ecc')).toEqual(secret);
    // The tpm2-tools file is 0xBADCC0DE ‖ version 1 ‖ TPM2B_ID_OBJECT ‖ TPM2B_ENCRYPTED_SECRET.
    const file = readFileSync(String(cred));
    const blobBytes = readFileSync(String(blob));
    const secretBytes = readFileSync(String(encSecret));
    expect(file.subarray(0, 8).toString('hex')).toBe('badcc0de00000001');
    expect(blobBytes.readUInt16BE(0)).toBe(blobBytes.length - 2);
    expect(secretBytes.readUInt16BE(0)).toBe(secretBytes.length - 2);
    // An ECC EK's encrypted secret is the ephemeral TPMS_ECC_POINT: two 32-byte P-256 coordinates.
    expect(secretBytes.length).toBe(2 + 2 + 32 + 2 + 32);
    expect(Buffer.concat([file.subarray(0, 8), blobBytes, secretBytes]).equals(file)).toBe(true);
  });

  it('is bound to the AK Name: another AK under the same EK cannot activate it', async () => {
    const cred = join(dir, 'bound.cred');
    const out = await runCli([
      ...['make-credential', '--ek', ekRsa.publicPath, '--name', hex(akOnRsa.name)],
      ...['--secret', hex(randomBytes(32)), '--out-tpm2-tools', cred],
    ]);
    expect(out.status, out.stderr).toBe(0);
    // TPM_RC_INTEGRITY: the outer HMAC is keyed with the Name of the AK it was made for.
    await expect(activateCredential(tpm, dir, otherAkOnRsa, cred, 'activate-other')).rejects.toThrow(
      /0x9a2|integrity/i,
    );
  });

  it('rejects a key that is not an EK (the AK public) with UNSUPPORTED_ALGORITHM', async () => {
    const out = await runCli([
      ...[
        'make-credential',
        '--ek',
        akOnRsa.publicPath,
        '--name',
        hex(akOnRsa.name),
        '--secret',
        '00'.repeat(16),
      ],
      ...['--out-tpm2-tools', join(dir, 'not-ek.cred')],
    ]);
    expect(out.status, out.stderr).toBe(1);
    expect(out.json).toMatchObject({ ok: false, reason: 'UNSUPPORTED_ALGORITHM' });
  });
});

describe('make-credential on the command line', () => {
  it('writes a credential tpm2_activatecredential recovers and exits 0 (npm run --silent tpm2)', async () => {
    const secret = new Uint8Array(randomBytes(32));
    const cred = join(dir, 'spawned.cred');
    const out = await spawnCli([
      ...['make-credential', '--ek', ekRsa.publicPath, '--name', hex(akOnRsa.name), '--secret', hex(secret)],
      ...['--out-tpm2-tools', cred],
    ]);
    expect(out.status, out.stderr).toBe(0);
    expect(out.json).toMatchObject({ ok: true, written: { tpm2Tools: cred } });
    expect(await activateCredential(tpm, dir, akOnRsa, cred, 'activate-spawned')).toEqual(secret);
  });

  it('exits 2 with reason USAGE for wrong calls', async () => {
    const base = ['make-credential', '--ek', ekRsa.publicPath, '--secret', '00'.repeat(16)];
    const out = join(dir, 'usage.cred');
    const cases: Array<[string[], RegExp]> = [
      [[...base, '--out-tpm2-tools', out], /exactly one of --name HEX and --name-file FILE/],
      [[...base, '--name', '00', '--name-file', akOnRsa.namePath, '--out-tpm2-tools', out], /exactly one of/],
      [[...base, '--name', hex(akOnRsa.name)], /nothing to write/],
      [[...base, '--name', hex(akOnRsa.name), '--out-blob', out], /--out-blob and --out-secret go together/],
      [[...base, '--name', 'zz', '--out-tpm2-tools', out], /--name: 'zz' is not hex/],
      [
        [...base, '--name-file', join(dir, 'absent.name'), '--out-tpm2-tools', out],
        /--name-file: cannot read/,
      ],
      [
        [...base, '--name', hex(akOnRsa.name), '--out-tpm2-tools', join(dir, 'no-dir', 'x.cred')],
        /--out-tpm2-tools: cannot write/,
      ],
      [[...base, '--name', '00', '--out-tpm2-tools', out, 'stray'], /positional|Unexpected argument/i],
    ];
    for (const [argv, message] of cases) {
      const r = await runCli(argv);
      expect(r.status, argv.join(' ')).toBe(2);
      expect(r.json).toMatchObject({ ok: false, reason: 'USAGE' });
      expect(String(r.json?.message)).toMatch(message);
    }
    const spawned = await spawnCli([...base, '--out-tpm2-tools', out], 'tsx');
    expect(spawned.status, spawned.stderr).toBe(2);
    expect(spawned.json).toMatchObject({ ok: false, reason: 'USAGE' });
  });

  it('--help prints the usage text and exits 0', async () => {
    const out = await runCli(['make-credential', '-h']);
    expect(out.status, out.stderr).toBe(0);
    expect(out.stdout).toMatch(
      /^Usage: tpm2 make-credential --ek FILE \(--name HEX \| --name-file FILE\) --secret HEX/,
    );
    expect(out.stdout).toMatch(/--out-tpm2-tools FILE/);
  });
});
