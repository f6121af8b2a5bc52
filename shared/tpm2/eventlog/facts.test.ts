import { readFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { toHex } from '../../encoding/bytes.ts';
import { TpmError } from '../errors.ts';
import { loadVectors, type Vectors } from '../testing/vectors.ts';
import { verifyQuote } from '../verify-quote.ts';
import { EFI_GUID } from './efi-guid.ts';
import { EV } from './event-types.ts';
import { extractFacts } from './facts.ts';
import { parseEventLog } from './parse.ts';
import { replayEventLog } from './replay.ts';
import { efiVariableData, encodeEventLog, type SyntheticEvent } from './testing/build-log.ts';
import { BOOT_APP, CMDLINE, INITRD, KERNEL, sha256Hex, syntheticBoot } from './testing/synthetic.ts';
import { loadEventLogVectors } from './testing/vector-logs.ts';

const read = (p: string) =>
  new Uint8Array(readFileSync(new URL(`../../../../shared/vectors/${p}`, import.meta.url)));
const logs = loadEventLogVectors(read);
let v: Vectors;
beforeAll(async () => {
  v = await loadVectors(read);
});

async function gceFacts() {
  const pcrs: Record<string, Record<string, Uint8Array>> = {};
  for (const q of v.gce) Object.assign(pcrs, (await verifyQuote(q)).pcrs);
  return extractFacts(await replayEventLog(parseEventLog(logs.gceLog), pcrs));
}

/** Facts of a synthetic log replayed against its own values (the log is re-encoded after `edit`). */
async function factsOf(events: SyntheticEvent[]) {
  const log = parseEventLog(encodeEventLog(['sha1', 'sha256'], events));
  return extractFacts(await replayEventLog(log));
}

async function invalidPcr7(p: Promise<unknown>, check: string): Promise<void> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err, `expected EVENT_LOG_INVALID ${check}`).toBeInstanceOf(TpmError);
  expect((err as TpmError).reason).toBe('EVENT_LOG_INVALID');
  expect((err as TpmError).details?.check).toBe(check);
}

describe('extractFacts on real logs', () => {
  it('GCE COS 85: Secure Boot on, Google keys, shim authorities with the extra-byte quirk, GRUB kernel', async () => {
    const f = await gceFacts();
    expect(f.anchored).toBe(true);
    const sb = f.secureBoot!;
    expect(sb.enabled).toBe(true);
    expect(sb.pk?.certificates.map((c) => c.subject)).toEqual([
      'C=US, ST=California, L=Mountain View, O=Google LLC., OU=Container Optimized OS, CN=UEFI Platform Key v10',
    ]);
    expect(sb.db?.certificates.map((c) => c.subject?.split('CN=')[1])).toEqual(['UEFI DB Key v10']);
    expect(sb.dbx?.certificates).toHaveLength(4);
    expect(sb.authorities.map((a) => [a.variable, a.afterSeparator, a.quirk])).toEqual([
      ['db', true, undefined],
      ['db', true, 'shim-extra-byte'],
      ['db', true, 'shim-extra-byte'],
    ]);
    // Every authority is the db certificate itself.
    expect(new Set(sb.authorities.map((a) => a.certificate?.sha256))).toEqual(
      new Set([sb.db?.certificates[0]?.sha256]),
    );
    expect(f.grub.kernels).toEqual([
      {
        sequence: 39,
        path: '/syslinux/vmlinuz.A',
        digests: {
          sha1: '37f4f1b6306e656659d8cb7aee42226af6631398',
          sha256: 'e81373f2a36d663d8ffddce4508d2f106c6cfd82879575cb023c6e1ee813ba57',
          sha384:
            '844ce3035126b5c2e742d355fa3bc30c53b0c4a47e7a9798060b754f8af5a352f456bf857b45a0e8067a4048cf3f4cd6',
        },
      },
    ]);
    expect(f.grub.kernelCmdline).toMatch(
      /^\/syslinux\/vmlinuz\.A init=\/usr\/lib\/systemd\/systemd boot=local /,
    );
    expect(f.grub.unverifiedCommands).toBe(0);
    expect(f.grub.commands).toHaveLength(14);
    expect(f.bootApplications.map((a) => a.path)).toEqual(['\\EFI\\BOOT\\BOOTX64.EFI', undefined, undefined]);
  });

  it('GCE Ubuntu 21.04: Secure Boot off, SbatLevel authority, GRUB-measured kernel and command line', async () => {
    const l = logs.tpm2Tools.find((x) => x.name === 'event-gce-ubuntu-2104-log.bin')!;
    const f = await extractFacts(await replayEventLog(parseEventLog(l.bytes), l.expected));
    expect(f.secureBoot?.enabled).toBe(false);
    expect(f.secureBoot?.authorities.map((a) => [a.variable, a.certificate])).toEqual([
      ['SbatLevel', undefined],
    ]);
    expect(f.grub.kernels.map((k) => [k.path, k.digests.sha256])).toEqual([
      ['/boot/vmlinuz-5.11.0-1008-gcp', '38c6396eb70b84aef13f06384a37b7e7bfa77a14e3bde632a76c90acb65c1d97'],
    ]);
    expect(f.grub.kernelCmdline).toMatch(/^\/boot\/vmlinuz-5\.11\.0-1008-gcp root=PARTUUID=bf817bdf/);
    expect(f.bootApplications.map((a) => a.path)).toEqual([
      '\\EFI\\ubuntu\\shimx64.efi',
      '\\EFI\\ubuntu\\grubx64.efi',
    ]);
  });

  it('Windows on GCE: Secure Boot on, authority = Microsoft Root Certificate Authority 2010 from db', async () => {
    const q = await verifyQuote(v.windows);
    const f = await extractFacts(await replayEventLog(parseEventLog(logs.windowsLog), q.pcrs));
    expect(f.secureBoot?.enabled).toBe(true);
    expect(f.secureBoot?.authorities.map((a) => a.certificate?.subject)).toEqual([
      'C=US, ST=Washington, L=Redmond, O=Microsoft Corporation, CN=Microsoft Root Certificate Authority 2010',
    ]);
    expect(f.bootApplications.map((a) => [a.path, Object.keys(a.digests)])).toEqual([
      ['\\EFI\\Microsoft\\Boot\\bootmgfw.efi', ['sha1']],
    ]);
    expect(f.grub.kernels).toEqual([]);
  });

  it('every other log yields facts: Secure Boot off, databases parsed', async () => {
    const cases = [
      ...logs.tpm2Tools
        .filter((l) => l.name !== 'event-gce-ubuntu-2104-log.bin')
        .map((l) => [l.bytes, l.expected] as const),
      [logs.cryptoAgile, undefined] as const,
      [logs.ebsMissing, { sha1: { '5': logs.ebsPcr5.sha1 } }] as const,
    ];
    const states = [];
    for (const [bytes, quoted] of cases) {
      const f = await extractFacts(await replayEventLog(parseEventLog(bytes), quoted));
      states.push([f.secureBoot?.enabled, f.secureBoot?.dbx?.sha256.length]);
    }
    // arch, fedora (empty dbx), uefi-sha1, crypto_agile, EBS log (PCR 7 not quoted → unknown).
    expect(states).toEqual([
      [false, 77],
      [false, 0],
      [false, 78],
      [false, 77],
      [undefined, undefined],
    ]);
  });
});

describe('extractFacts on a synthetic log', () => {
  it('reads every fact the builder measured, authenticated in both banks', async () => {
    const { log, dbCertSha256 } = await syntheticBoot();
    const f = await extractFacts(await replayEventLog(parseEventLog(log.bytes)));
    expect(f.secureBoot?.enabled).toBe(true);
    expect(f.secureBoot?.db?.certificates.map((c) => [c.sha256, c.subject])).toEqual([
      [dbCertSha256, 'CN=Noderr Test db'],
    ]);
    expect(f.secureBoot?.dbx?.sha256).toEqual(['db'.repeat(32)]);
    expect(f.secureBoot?.authorities.map((a) => a.certificate?.sha256)).toEqual([dbCertSha256]);
    expect(f.bootApplications.map((a) => [a.path, a.digests.sha256])).toEqual([
      [BOOT_APP.path, await sha256Hex(BOOT_APP.image)],
    ]);
    expect(f.grub.kernels.map((k) => [k.path, k.digests.sha256])).toEqual([
      [KERNEL.path, await sha256Hex(KERNEL.contents)],
    ]);
    expect(f.grub.initrds.map((k) => [k.path, k.digests.sha256])).toEqual([
      [INITRD.path, await sha256Hex(INITRD.contents)],
    ]);
    expect(f.grub.kernelCmdline).toBe(`${KERNEL.path} ${CMDLINE}`);
  });

  it('edited SecureBoot data under the original digest is refused (forgeable event data)', async () => {
    const { log } = await syntheticBoot({ secureBoot: false });
    const sb = log.events[0]!;
    sb.data = efiVariableData(EFI_GUID.GLOBAL_VARIABLE, 'SecureBoot', Uint8Array.of(1));
    await invalidPcr7(factsOf(log.events), 'variable-digest');
  });

  it('a GRUB command edited after the fact is not authenticated, so no kernel is identified', async () => {
    const { log } = await syntheticBoot();
    const linux = log.events.find((e) => new TextDecoder().decode(e.data).startsWith('grub_cmd: linux'))!;
    linux.data = new TextEncoder().encode(`grub_cmd: linux /boot/other ${CMDLINE}\0`);
    const f = await factsOf(log.events);
    expect(f.grub.unverifiedCommands).toBe(1);
    expect(f.grub.kernels).toEqual([]);
  });

  const variable = async (
    name: string,
    data: Uint8Array,
    guid: string = EFI_GUID.GLOBAL_VARIABLE,
  ): Promise<SyntheticEvent> => {
    const bytes = efiVariableData(guid, name, data);
    const h = async (alg: string) =>
      new Uint8Array(await crypto.subtle.digest(alg, bytes as Uint8Array<ArrayBuffer>));
    return {
      pcr: 7,
      type: EV.EV_EFI_VARIABLE_DRIVER_CONFIG,
      data: bytes,
      digests: { sha1: await h('SHA-1'), sha256: await h('SHA-256') },
    };
  };
  const action = async (pcr: number, type: number, text: string | Uint8Array): Promise<SyntheticEvent> => {
    const bytes = typeof text === 'string' ? new TextEncoder().encode(text) : text;
    const h = async (alg: string) =>
      new Uint8Array(await crypto.subtle.digest(alg, bytes as Uint8Array<ArrayBuffer>));
    return { pcr, type, data: bytes, digests: { sha1: await h('SHA-1'), sha256: await h('SHA-256') } };
  };

  it('a variable measured twice is refused', async () => {
    const { log } = await syntheticBoot();
    await invalidPcr7(factsOf([log.events[0]!, ...log.events]), 'variable-duplicate');
  });

  it('a variable after the PCR 7 separator is refused', async () => {
    const { log } = await syntheticBoot();
    await invalidPcr7(
      factsOf([...log.events, await variable('Extra', Uint8Array.of(1))]),
      'variable-after-separator',
    );
  });

  it('a second separator in PCR 7 is refused', async () => {
    const { log } = await syntheticBoot();
    await invalidPcr7(
      factsOf([...log.events, await action(7, EV.EV_SEPARATOR, new Uint8Array(4))]),
      'separator-duplicate',
    );
  });

  it('an error separator (FFFFFFFF) is refused', async () => {
    const { log } = await syntheticBoot();
    const events = log.events.filter((e) => !(e.pcr === 7 && e.type === EV.EV_SEPARATOR));
    await invalidPcr7(
      factsOf([...events, await action(7, EV.EV_SEPARATOR, new Uint8Array(4).fill(0xff))]),
      'separator-invalid',
    );
  });

  it('"UEFI Debug Mode" in PCR 7 is refused', async () => {
    const { log } = await syntheticBoot();
    await invalidPcr7(
      factsOf([await action(7, EV.EV_EFI_ACTION, 'UEFI Debug Mode'), ...log.events]),
      'debug-mode',
    );
  });

  it('"DMA Protection Disabled" sets the flag; any other EFI action in PCR 7 is refused', async () => {
    const { log } = await syntheticBoot();
    const f = await factsOf([await action(7, EV.EV_EFI_ACTION, 'DMA Protection Disabled'), ...log.events]);
    expect(f.secureBoot?.dmaProtectionDisabled).toBe(true);
    await invalidPcr7(
      factsOf([await action(7, EV.EV_EFI_ACTION, 'Something'), ...log.events]),
      'action-unexpected',
    );
  });

  it('an EFI action whose data does not hash to its digest is refused', async () => {
    const { log } = await syntheticBoot();
    const forged = await action(7, EV.EV_EFI_ACTION, 'DMA Protection Disabled');
    forged.data = new TextEncoder().encode('DMA Protection Enabled!');
    await invalidPcr7(factsOf([forged, ...log.events]), 'action-digest');
  });

  it('an event type not expected in PCR 7 is refused', async () => {
    const { log } = await syntheticBoot();
    await invalidPcr7(factsOf([await action(7, EV.EV_IPL, 'x'), ...log.events]), 'unexpected-event-type');
  });

  it('a SecureBoot variable of more than one byte is refused', async () => {
    const { log } = await syntheticBoot();
    await invalidPcr7(
      factsOf([await variable('SecureBoot', Uint8Array.of(1, 0)), ...log.events.slice(1)]),
      'secureboot-size',
    );
  });

  it('Secure Boot on with an empty db is refused', async () => {
    const { log } = await syntheticBoot();
    // Events 0-4 are SecureBoot, PK, KEK, db, dbx: replace db with an empty one.
    const noDb = [...log.events];
    noDb[3] = await variable('db', new Uint8Array(), EFI_GUID.IMAGE_SECURITY_DATABASE);
    await invalidPcr7(factsOf(noDb), 'secureboot-keys');
  });

  it('Secure Boot on without any authority event is refused', async () => {
    const { log } = await syntheticBoot();
    await invalidPcr7(
      factsOf(log.events.filter((e) => e.type !== EV.EV_EFI_VARIABLE_AUTHORITY)),
      'secureboot-authority',
    );
  });

  it('an authority whose data does not hash to its digest (even minus one byte) is refused', async () => {
    const { log } = await syntheticBoot();
    const a = log.events.find((e) => e.type === EV.EV_EFI_VARIABLE_AUTHORITY)!;
    a.data = a.data.slice();
    a.data[a.data.length - 10]! ^= 1;
    await invalidPcr7(factsOf(log.events), 'authority-digest');
  });

  it('without an explained PCR 7 there are no Secure Boot facts', async () => {
    const { log } = await syntheticBoot();
    const f = await factsOf(log.events.filter((e) => e.pcr !== 7));
    expect(f.secureBoot).toBeUndefined();
  });

  it('a kernel digest is reported only for the banks that authenticated it', async () => {
    const { log } = await syntheticBoot();
    const parsed = parseEventLog(log.bytes);
    const sha1Only = {} as Record<string, Record<string, Uint8Array>>;
    sha1Only.sha1 = (await replayEventLog(parsed)).replayed.sha1!;
    const f = await extractFacts(await replayEventLog(parsed, sha1Only));
    expect(f.grub.kernels.map((k) => Object.keys(k.digests))).toEqual([['sha1']]);
    expect(toHex(parsed.events[0]!.digests.sha1!)).toHaveLength(40);
  });
});
