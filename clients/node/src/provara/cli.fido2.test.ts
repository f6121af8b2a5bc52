import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CliIo } from '../cli/output.ts';
import { runProvaraCommand } from './cli.ts';
import { HIDRAW_STANDIN_ENV } from './fido2/hidraw-device.ts';
import { HidrawFifoStandIn } from './fido2/testing/hidraw-fifo-standin.ts';
import { SoftAuthenticator, type SoftAuthenticatorOptions } from './fido2/testing/soft-authenticator.ts';
import { detectFidoHidraw } from './hid-detect.ts';
import { loadFido2Identity } from './identity-store.ts';

const noFidoHidraw = (await detectFidoHidraw()).length === 0;
const tmp = mkdtempSync(join(tmpdir(), 'provara-cli-fido2-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

async function run(args: string[], env: Record<string, string>) {
  let stdout = '';
  let stderr = '';
  const io: CliIo = {
    stdout: (t) => {
      stdout += t;
    },
    stderr: (t) => {
      stderr += t;
    },
    readStdin: async () => '',
    env,
  };
  const code = await runProvaraCommand(args, io);
  return { code, stdout, stderr };
}

/** A software authenticator behind the FIFO-pair stand-in for /dev/hidrawN, and a private key dir. */
function rig(name: string, opts: SoftAuthenticatorOptions = {}) {
  const r = {
    auth: new SoftAuthenticator(opts),
    standIn: undefined as unknown as HidrawFifoStandIn,
    keys: join(tmp, `${name}-keys`),
    env: {} as Record<string, string>,
  };
  beforeAll(async () => {
    r.standIn = await HidrawFifoStandIn.create(r.auth);
    // TEST SEAM: the device path names the FIFO pair; everything past open() is the production code
    r.env = { NODERR_PROVARA_KEY_DIR: r.keys, [HIDRAW_STANDIN_ENV]: 'fifo-pair' };
  });
  afterAll(() => r.standIn.close());
  return r;
}

const TOUCH = 'Touch your security key…';

describe('noderr-agent provara --hardware-sign --fido2 (software authenticator behind a hidraw stand-in)', () => {
  const r = rig('ed');
  const dir = join(tmp, 'vault');
  let rootKeyId = '';

  it('init makes an Ed25519 credential with a touch and stores it outside the vault (0600, no secret)', async () => {
    const i = await run(['init', dir, '--hardware-sign', '--fido2', r.standIn.path, '--json'], r.env);
    expect(i.code, i.stdout + i.stderr).toBe(0);
    const out = JSON.parse(i.stdout);
    expect(out).toMatchObject({
      ok: true,
      hardware: true,
      algorithm: 'Ed25519',
      signatureFormat: 'webauthn.v1',
    });
    rootKeyId = out.rootKeyId;
    expect(rootKeyId).toMatch(/^bp1_[0-9a-f]{16}$/);
    expect(i.stderr).toContain(TOUCH);
    const file = join(r.keys, `${rootKeyId}.json`);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const stored = JSON.parse(readFileSync(file, 'utf8'));
    expect(stored).toMatchObject({ key_id: rootKeyId, kind: 'fido2', cose_alg: -8, rp_id: 'provara.vault' });
    expect(Object.keys(stored).some((k) => k.includes('private'))).toBe(false);
    expect(readdirSync(join(dir, 'identity')).some((n) => n.startsWith('bp1_'))).toBe(false);
    // every write that reached the "device" carried the 0x00 report id
    expect(r.standIn.badReportIds).toBe(0);
    expect(r.standIn.rawWrites.every((w) => w.length === 65 && w[0] === 0)).toBe(true);
  });

  it('append --hardware-sign signs with GetAssertion (touch prompt), verify exits 0 with webauthn signatures', async () => {
    const touches = r.auth.touches;
    const a = await run(
      [
        'append',
        dir,
        '--hardware-sign',
        '--fido2',
        r.standIn.path,
        '--type',
        'OBSERVATION',
        '--data',
        '{"subject":"door","predicate":"state","value":"open"}',
        '--json',
      ],
      r.env,
    );
    expect(a.code, a.stdout + a.stderr).toBe(0);
    expect(JSON.parse(a.stdout).eventId).toMatch(/^evt_[0-9a-f]{24}$/);
    expect(a.stderr).toContain(TOUCH);
    expect(r.auth.touches - touches).toBe(1); // one touch per event (manifest.sig is not re-signed)
    const v = await run(['verify', dir, '--json', '--expect-root', rootKeyId], r.env);
    expect(v.code, v.stdout).toBe(0);
    const report = JSON.parse(v.stdout);
    expect(report.errors).toEqual([]);
    expect(report.eventCount).toBe(3); // GENESIS, the seed OBSERVATION, the append
    expect(report.signatures.webauthn).toBe(3);
  });

  it('keys export --hardware-sign --fido2 prints the stored credential key', async () => {
    const e = await run(['keys', 'export', '--hardware-sign', '--fido2', r.standIn.path, '--json'], r.env);
    expect(e.code, e.stdout + e.stderr).toBe(0);
    const stored = JSON.parse(readFileSync(join(r.keys, `${rootKeyId}.json`), 'utf8'));
    expect(JSON.parse(e.stdout)).toEqual({
      ok: true,
      keyId: rootKeyId,
      algorithm: 'Ed25519',
      publicKeyB64: stored.public_key_b64,
    });
  });

  it('a stored credential record filed under another bp1_ id: KEY_INVALID', async () => {
    const forged = join(r.keys, 'bp1_0000000000000000.json');
    writeFileSync(forged, readFileSync(join(r.keys, `${rootKeyId}.json`)), { mode: 0o600 });
    await expect(loadFido2Identity(r.keys, 'bp1_0000000000000000')).rejects.toMatchObject({
      code: 'KEY_INVALID',
    });
    rmSync(forged);
  });

  it('append without --hardware-sign on a FIDO2 vault: KEY_INVALID pointing at --fido2', async () => {
    const a = await run(['append', dir, '--type', 'OBSERVATION', '--data', '{}', '--json'], r.env);
    expect(a.code).toBe(3);
    const err = JSON.parse(a.stdout).error;
    expect(err.code).toBe('KEY_INVALID');
    expect(err.message).toContain('--fido2');
  });

  it('--fido2 together with --pkcs11-module: USAGE, exit 2', async () => {
    const a = await run(
      [
        'init',
        join(tmp, 'x'),
        '--hardware-sign',
        '--fido2',
        r.standIn.path,
        '--pkcs11-module',
        '/x.so',
        '--json',
      ],
      r.env,
    );
    expect(a.code).toBe(2);
    expect(JSON.parse(a.stdout).error.code).toBe('USAGE');
  });

  it('NODERR_FIDO2_DEVICE selects the device when no flag does', async () => {
    const a = await run(
      [
        'append',
        dir,
        '--hardware-sign',
        '--type',
        'OBSERVATION',
        '--data',
        '{"subject":"s","predicate":"p"}',
      ],
      { ...r.env, NODERR_FIDO2_DEVICE: r.standIn.path },
    );
    expect(a.code, a.stderr).toBe(0);
    expect(a.stderr).toContain(TOUCH);
  });
});

describe('noderr-agent provara --fido2: fallbacks and failures', () => {
  const es = rig('es', { algorithms: [-7] });
  let allow = true;
  const refusing = rig('refuse', { presence: () => allow });

  it('an authenticator whose GetInfo lists only ES256 gets an ES256 credential; the vault verifies', async () => {
    const dir = join(tmp, 'es-vault');
    const i = await run(['init', dir, '--hardware-sign', '--fido2', es.standIn.path, '--json'], es.env);
    expect(i.code, i.stdout + i.stderr).toBe(0);
    expect(JSON.parse(i.stdout).algorithm).toBe('ES256');
    const v = await run(['verify', dir, '--json'], es.env);
    expect(v.code, v.stdout).toBe(0);
  });

  it('a touch refused at append: USER_PRESENCE_REQUIRED, exit 3, nothing appended', async () => {
    const dir = join(tmp, 'refuse-vault');
    expect(
      (await run(['init', dir, '--hardware-sign', '--fido2', refusing.standIn.path], refusing.env)).code,
    ).toBe(0);
    const before = readFileSync(join(dir, 'events/events.ndjson'), 'utf8');
    allow = false;
    const a = await run(
      [
        'append',
        dir,
        '--hardware-sign',
        '--fido2',
        refusing.standIn.path,
        '--type',
        'T',
        '--data',
        '{}',
        '--json',
      ],
      refusing.env,
    );
    expect(a.code).toBe(3);
    expect(JSON.parse(a.stdout).error.code).toBe('USER_PRESENCE_REQUIRED');
    expect(readFileSync(join(dir, 'events/events.ndjson'), 'utf8')).toBe(before);
  });

  it('a device node that does not exist (no seam): HARDWARE_UNAVAILABLE, exit 3', async () => {
    const a = await run(
      ['init', join(tmp, 'nodev'), '--hardware-sign', '--fido2', '/dev/hidraw-nope', '--json'],
      {
        NODERR_PROVARA_KEY_DIR: join(tmp, 'nodev-keys'),
      },
    );
    expect(a.code).toBe(3);
    expect(JSON.parse(a.stdout).error).toMatchObject({ code: 'HARDWARE_UNAVAILABLE' });
  });

  it.runIf(noFidoHidraw)(
    '--fido2 auto with no FIDO hidraw node on this machine: HARDWARE_UNAVAILABLE',
    async () => {
      const a = await run(['init', join(tmp, 'auto'), '--hardware-sign', '--fido2', 'auto', '--json'], {
        NODERR_PROVARA_KEY_DIR: join(tmp, 'auto-keys'),
      });
      expect(a.code).toBe(3);
      expect(JSON.parse(a.stdout).error.code).toBe('HARDWARE_UNAVAILABLE');
    },
  );
});
