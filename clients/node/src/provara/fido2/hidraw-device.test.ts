import { afterEach, describe, expect, it } from 'vitest';
import { Vault } from '../../../../../shared/provara/vault.ts';
import { MemoryVaultFiles } from '../../../../../shared/provara/vault-files.ts';
import { verifyVault } from '../../../../../shared/provara/verify.ts';
import { getInfo, makeCredential } from './ctap2.ts';
import { CtapHidChannel, frame, REPORT_SIZE } from './ctaphid.ts';
import { fido2Signer, PROVARA_RP_ID } from './fido2-signer.ts';
import { HIDRAW_STANDIN_ENV, HidrawDevice, hidrawPaths, openHidraw } from './hidraw-device.ts';
import { HidrawFifoStandIn } from './testing/hidraw-fifo-standin.ts';
import { SoftAuthenticator } from './testing/soft-authenticator.ts';

const SEAM = { [HIDRAW_STANDIN_ENV]: 'fifo-pair' };
const cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

async function standIn(device?: SoftAuthenticator) {
  const s = await HidrawFifoStandIn.create(device);
  cleanup.push(() => s.close());
  const dev = await openHidraw(s.path, SEAM, { pollMs: 2 });
  cleanup.push(() => dev.close());
  return { s, dev };
}

const until = async (cond: () => boolean) => {
  for (let i = 0; i < 200 && !cond(); i++) await new Promise((r) => setTimeout(r, 5));
  expect(cond()).toBe(true);
};

describe('HidrawDevice over a FIFO pair standing in for /dev/hidrawN', () => {
  it('writes each 64-byte report as 65 bytes, report id 0x00 first', async () => {
    const { s, dev } = await standIn();
    const report = Uint8Array.from({ length: REPORT_SIZE }, (_, i) => i + 1);
    await dev.write(report);
    await dev.write(new Uint8Array(REPORT_SIZE).fill(0xee));
    await until(() => s.rawWrites.length === 2);
    const [a, b] = s.takeWrites();
    expect(a).toHaveLength(65);
    expect(a?.[0]).toBe(0x00);
    expect(a?.subarray(1)).toEqual(report);
    expect(b?.[0]).toBe(0x00);
    expect(s.badReportIds).toBe(0);
  });

  it('refuses an output report that is not 64 bytes: CTAPHID_FRAMING', async () => {
    const { dev } = await standIn();
    await expect(dev.write(new Uint8Array(65))).rejects.toMatchObject({ code: 'CTAPHID_FRAMING' });
  });

  it('read() times out with HARDWARE_UNAVAILABLE (reason timeout) and loses no later report', async () => {
    const { s, dev } = await standIn();
    const t0 = Date.now();
    await expect(dev.read(40)).rejects.toMatchObject({
      code: 'HARDWARE_UNAVAILABLE',
      details: { reason: 'timeout', timeoutMs: 40 },
    });
    expect(Date.now() - t0).toBeGreaterThanOrEqual(35);
    const [r1] = frame(0x01020304, 0x90, Uint8Array.of(1));
    const [r2] = frame(0x01020304, 0x90, Uint8Array.of(2));
    await s.sendReport(r1 as Uint8Array);
    await s.sendReport(r2 as Uint8Array);
    await new Promise((r) => setTimeout(r, 30)); // both arrive while nobody reads
    expect(await dev.read(1000)).toEqual(r1);
    expect(await dev.read(1000)).toEqual(r2);
  });

  it('close() ends the stream: a pending read, later reads and writes reject (reason closed)', async () => {
    const { dev } = await standIn();
    const closed = { code: 'HARDWARE_UNAVAILABLE', details: { reason: 'closed' } };
    const pending = expect(dev.read(5000)).rejects.toMatchObject(closed);
    await dev.close();
    await pending;
    await expect(dev.read(10)).rejects.toMatchObject(closed);
    await expect(dev.write(new Uint8Array(REPORT_SIZE))).rejects.toMatchObject(closed);
  });

  it('a missing node: HARDWARE_UNAVAILABLE with ENOENT', async () => {
    await expect(HidrawDevice.open('/dev/hidraw-does-not-exist')).rejects.toMatchObject({
      code: 'HARDWARE_UNAVAILABLE',
      details: { errno: 'ENOENT' },
    });
  });

  it('the seam maps a device path to the FIFO pair only when asked', () => {
    expect(hidrawPaths('/dev/hidraw3', {})).toEqual({ readPath: '/dev/hidraw3', writePath: '/dev/hidraw3' });
    expect(hidrawPaths('/tmp/x', SEAM)).toEqual({
      readPath: '/tmp/x/from-device',
      writePath: '/tmp/x/to-device',
    });
    expect(() => hidrawPaths('/tmp/x', { [HIDRAW_STANDIN_ENV]: 'socket' })).toThrow(
      expect.objectContaining({ code: 'HARDWARE_UNAVAILABLE' }),
    );
  });

  it('the whole stack over file descriptors: CTAPHID → CTAP2 → fido2Signer → vault append → verify', async () => {
    const auth = new SoftAuthenticator();
    const { s, dev } = await standIn(auth);
    const ch = await CtapHidChannel.open(dev);
    expect((await getInfo(ch)).algorithms).toEqual([-8]);
    const cred = await makeCredential(ch, { rpId: PROVARA_RP_ID, userName: 'hidraw' });
    let prompts = 0;
    const signer = await fido2Signer(ch, cred, { onTouch: () => prompts++ });
    const files = new MemoryVaultFiles();
    const vault = await Vault.init(files, { signer, uid: 'hidraw-vault' });
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
    expect(r.signatures.webauthn).toBeGreaterThanOrEqual(3);
    expect(auth.touches).toBe(1 + prompts);
    expect(s.badReportIds).toBe(0);
    expect(s.rawWrites.length).toBeGreaterThan(0);
    expect(s.rawWrites.every((w) => w.length === 65 && w[0] === 0)).toBe(true);
  });
});
