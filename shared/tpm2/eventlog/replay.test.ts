import { readFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { toHex } from '../../encoding/bytes.ts';
import { TpmError } from '../errors.ts';
import { loadVectors, type Vectors } from '../testing/vectors.ts';
import { verifyQuote } from '../verify-quote.ts';
import { EV } from './event-types.ts';
import { parseEventLog } from './parse.ts';
import { type QuotedPcrs, replayEventLog } from './replay.ts';
import { encodeEventLog, type SyntheticEvent } from './testing/build-log.ts';
import { loadEventLogVectors } from './testing/vector-logs.ts';

const read = (p: string) =>
  new Uint8Array(readFileSync(new URL(`../../../../shared/vectors/${p}`, import.meta.url)));
const logs = loadEventLogVectors(read);
let v: Vectors;
beforeAll(async () => {
  v = await loadVectors(read);
});

const hexOf = (pcrs: Record<string, Record<string, Uint8Array>>) =>
  Object.fromEntries(
    Object.entries(pcrs).map(([b, m]) => [
      b,
      Object.fromEntries(Object.entries(m).map(([k, x]) => [k, toHex(x)])),
    ]),
  );

async function mismatch(p: Promise<unknown>, details: Record<string, unknown>): Promise<TpmError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err, 'expected a TpmError EVENT_LOG_MISMATCH').toBeInstanceOf(TpmError);
  expect((err as TpmError).reason).toBe('EVENT_LOG_MISMATCH');
  expect((err as TpmError).details).toEqual(details);
  return err as TpmError;
}

/** The verified PCRs of all three GCE quotes, merged by bank. */
async function gceQuotedPcrs(): Promise<Record<string, Record<string, Uint8Array>>> {
  const pcrs: Record<string, Record<string, Uint8Array>> = {};
  for (const q of v.gce) Object.assign(pcrs, (await verifyQuote(q)).pcrs);
  return pcrs;
}

describe('replayEventLog on the tpm2-tools logs', () => {
  for (const name of [
    'event-arch-linux.bin',
    'event-gce-ubuntu-2104-log.bin',
    'event-sd-boot-fedora37.bin',
    'event-uefi-sha1-log.bin',
  ]) {
    it(`${name} replays to exactly the PCRs of its YAML, in every bank`, async () => {
      const l = logs.tpm2Tools.find((x) => x.name === name)!;
      const r = await replayEventLog(parseEventLog(l.bytes), l.expected);
      // Every replayed PCR of every bank, and nothing else, is what tpm2_eventlog computed.
      expect(hexOf(r.replayed)).toEqual(hexOf(l.expected));
      for (const [bank, values] of Object.entries(l.expected)) {
        expect(r.explained[bank]).toEqual(Object.keys(values).map(Number));
        expect(r.unexplained[bank]).toEqual([]);
      }
      expect(r.anchored).toBe(true);
      expect(r.workarounds).toEqual([]);
    });
  }
});

describe('replayEventLog against verified quotes', () => {
  it('the GCE log replays to the PCRs of the three verified GCE quotes (sha1, sha256, sha384)', async () => {
    const quoted = await gceQuotedPcrs();
    const r = await replayEventLog(parseEventLog(logs.gceLog), quoted);
    const all = Array.from({ length: 24 }, (_, i) => i);
    for (const bank of ['sha1', 'sha256', 'sha384']) {
      // PCR 10 (IMA) was extended after boot and is not in the firmware log: quoted, but unexplained.
      expect(r.explained[bank]).toEqual(all.filter((i) => i !== 10));
      expect(r.unexplained[bank]).toEqual([10]);
      for (const i of [0, 1, 2, 3, 4, 5, 6, 7, 8, 9])
        expect(toHex(r.replayed[bank]![String(i)]!)).toBe(toHex(quoted[bank]![String(i)]!));
    }
    expect(r.events.every((e) => e.authenticatedBanks.join() === 'sha1,sha256,sha384')).toBe(true);
    expect(r.events).toHaveLength(44);
  });

  it('the Windows SHA-1 log replays to the PCRs of its verified RSASSA-SHA1 quote', async () => {
    const q = await verifyQuote(v.windows);
    const r = await replayEventLog(parseEventLog(logs.windowsLog), q.pcrs);
    expect(
      Object.keys(r.replayed.sha1!)
        .map(Number)
        .sort((a, b) => a - b),
    ).toEqual([0, 4, 5, 7, 11, 12, 13, 14]);
    for (const k of Object.keys(r.replayed.sha1!))
      expect(toHex(r.replayed.sha1![k]!)).toBe(toHex(q.pcrs.sha1![k]!));
    expect(r.explained.sha1).toHaveLength(24);
    expect(r.unexplained.sha1).toEqual([]);
  });

  it('the EBS-missing log replays PCR 5 only with the injected Exit Boot Services events', async () => {
    const log = parseEventLog(logs.ebsMissing);
    const plain = await replayEventLog(log);
    expect(toHex(plain.replayed.sha1!['5']!)).not.toBe(toHex(logs.ebsPcr5.sha1));
    const r = await replayEventLog(log, {
      sha1: { '5': logs.ebsPcr5.sha1 },
      sha256: { '5': logs.ebsPcr5.sha256 },
    });
    expect(r.workarounds).toEqual(['EBS Invocation + Success']);
    expect(r.explained).toEqual({ sha1: [5] });
    expect(toHex(r.replayed.sha1!['5']!)).toBe(toHex(logs.ebsPcr5.sha1));
    // The sha256 value cannot be checked against a SHA-1 log: that bank is simply not explained.
    expect(r.explained.sha256).toBeUndefined();
  });

  it('without quoted PCRs the replay is unanchored and explains every PCR the log extends', async () => {
    const r = await replayEventLog(parseEventLog(logs.gceLog));
    expect(r.anchored).toBe(false);
    expect(r.explained.sha256).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  });

  it('options.pcrs limits the check: a wrong PCR outside it is neither checked nor explained', async () => {
    const quoted = await gceQuotedPcrs();
    const wrong = { ...quoted, sha256: { ...quoted.sha256, '9': new Uint8Array(32) } };
    const r = await replayEventLog(parseEventLog(logs.gceLog), wrong, { pcrs: [0, 7] });
    expect(r.explained.sha256).toEqual([0, 7]);
    expect(r.events.every((e) => e.pcr === 0 || e.pcr === 7)).toBe(true);
  });
});

describe('replayEventLog rejects a log that does not explain the quote', () => {
  it('a tampered digest fails with EVENT_LOG_MISMATCH naming the bank and PCR', async () => {
    const quoted = await gceQuotedPcrs();
    const bytes = logs.gceLog.slice();
    const log = parseEventLog(bytes);
    const kernel = log.events.find((e) => e.pcr === 9)!;
    kernel.digests.sha256![0]! ^= 1;
    const err = await mismatch(replayEventLog(log, quoted), { bank: 'sha256', pcr: 9 });
    expect(err.message).toMatch(/^sha256 PCR 9: the event log replays to [0-9a-f]{64}, the quote has/);
  });

  it('an event removed from the log fails with the PCR it was extended into', async () => {
    const quoted = await gceQuotedPcrs();
    const log = parseEventLog(logs.gceLog);
    const i = log.events.findIndex((e) => e.pcr === 4 && e.typeName === 'EV_EFI_BOOT_SERVICES_APPLICATION');
    log.events.splice(i, 1);
    await mismatch(replayEventLog(log, quoted), { bank: 'sha1', pcr: 4 });
  });

  it('a PCR 5 that no EBS workaround explains fails naming sha1 PCR 5', async () => {
    await mismatch(replayEventLog(parseEventLog(logs.ebsMissing), { sha1: { '5': new Uint8Array(20) } }), {
      bank: 'sha1',
      pcr: 5,
    });
  });

  it('a quote none of whose banks is in the log fails', async () => {
    await mismatch(replayEventLog(parseEventLog(logs.ebsMissing), { sha256: { '5': logs.ebsPcr5.sha256 } }), {
      bank: 'sha256',
    });
  });

  it('quoted values of the wrong size or index are MALFORMED_STRUCTURE', async () => {
    const log = parseEventLog(logs.ebsMissing);
    for (const quoted of [
      { sha1: { '5': new Uint8Array(32) } },
      { sha1: { '05': new Uint8Array(20) } },
      { sha1: { '24': new Uint8Array(20) } },
    ] as QuotedPcrs[]) {
      const err = await replayEventLog(log, quoted).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(TpmError);
      expect((err as TpmError).reason).toBe('MALFORMED_STRUCTURE');
    }
  });
});

describe('replay initial values', () => {
  const d = (b: number) => ({ sha256: new Uint8Array(32).fill(b) });
  const sha256 = async (...parts: Uint8Array[]) =>
    new Uint8Array(await crypto.subtle.digest('SHA-256', Uint8Array.from(parts.flatMap((p) => [...p]))));

  it('a StartupLocality event makes PCR 0 start at 0…0‖locality', async () => {
    const events: SyntheticEvent[] = [
      {
        pcr: 0,
        type: EV.EV_NO_ACTION,
        digests: d(0),
        data: new TextEncoder().encode('StartupLocality\0\x03'),
      },
      { pcr: 0, type: EV.EV_S_CRTM_VERSION, digests: d(7), data: new Uint8Array(2) },
    ];
    const start = new Uint8Array(32);
    start[31] = 3;
    const expected = await sha256(start, d(7).sha256);
    const r = await replayEventLog(parseEventLog(encodeEventLog(['sha256'], events)), {
      sha256: { '0': expected },
    });
    expect(r.startupLocality).toBe(3);
    expect(r.explained.sha256).toEqual([0]);
  });

  it('DRTM PCRs 17-22 start all-ones, and an unextended quoted PCR is explained only at its initial value', async () => {
    const events: SyntheticEvent[] = [{ pcr: 17, type: EV.EV_IPL, digests: d(1), data: new Uint8Array() }];
    const expected = await sha256(new Uint8Array(32).fill(0xff), d(1).sha256);
    const r = await replayEventLog(parseEventLog(encodeEventLog(['sha256'], events)), {
      sha256: {
        '17': expected,
        '18': new Uint8Array(32).fill(0xff),
        '10': new Uint8Array(32).fill(1),
        '11': new Uint8Array(32),
      },
    });
    expect(r.explained.sha256).toEqual([11, 17, 18]);
    expect(r.unexplained.sha256).toEqual([10]);
  });

  it('EV_NO_ACTION events are never extended and never authenticated', async () => {
    const events: SyntheticEvent[] = [
      { pcr: 4, type: EV.EV_NO_ACTION, digests: d(9), data: new Uint8Array() },
    ];
    const r = await replayEventLog(parseEventLog(encodeEventLog(['sha256'], events)), {
      sha256: { '4': new Uint8Array(32) },
    });
    expect(r.replayed.sha256).toEqual({});
    expect(r.events).toEqual([]);
  });
});
