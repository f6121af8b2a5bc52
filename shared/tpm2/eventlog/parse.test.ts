import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { TPM_ALG } from '../constants.ts';
import { TpmError } from '../errors.ts';
import { EV } from './event-types.ts';
import { LeWriter } from './le-reader.ts';
import { parseEventLog } from './parse.ts';
import { parseSpecIdEvent } from './spec-id-event.ts';
import { encodeEventLog } from './testing/build-log.ts';
import { loadEventLogVectors } from './testing/vector-logs.ts';

const read = (p: string) =>
  new Uint8Array(readFileSync(new URL(`../../../../shared/vectors/${p}`, import.meta.url)));
const v = loadEventLogVectors(read);

function invalid(f: () => unknown, message: RegExp): void {
  let err: unknown;
  try {
    f();
  } catch (e) {
    err = e;
  }
  expect(err, 'expected a TpmError EVENT_LOG_INVALID').toBeInstanceOf(TpmError);
  expect((err as TpmError).reason).toBe('EVENT_LOG_INVALID');
  expect((err as TpmError).message).toMatch(message);
}

const enc = new TextEncoder();

/** A Spec ID Event03 body: header fields, then the algorithm table and vendor info. */
function specId(algs: [number, number][], opts: { major?: number; count?: number; trailing?: number } = {}) {
  const w = new LeWriter()
    .bytes(enc.encode('Spec ID Event03\0'))
    .u32(0)
    .u8(0)
    .u8(opts.major ?? 2)
    .u8(0)
    .u8(2)
    .u32(opts.count ?? algs.length);
  for (const [id, size] of algs) w.u16(id).u16(size);
  w.u8(0);
  if (opts.trailing) w.bytes(new Uint8Array(opts.trailing));
  return w.finish();
}

function legacy(pcr: number, type: number, data: Uint8Array, digest = new Uint8Array(20)): Uint8Array {
  return new LeWriter().u32(pcr).u32(type).bytes(digest).u32(data.length).bytes(data).finish();
}

const SHA256_HEADER = legacy(0, EV.EV_NO_ACTION, specId([[TPM_ALG.SHA256, 32]]));

describe('parseEventLog on every real log', () => {
  it('parses the four tpm2-tools logs with the banks and event counts tpm2_eventlog reports', () => {
    const shape = v.tpm2Tools.map((l) => {
      const log = parseEventLog(l.bytes);
      return [l.name, log.format, log.banks, log.events.length];
    });
    expect(shape).toEqual([
      ['event-arch-linux.bin', 'crypto-agile', ['sha1', 'sha256'], 25],
      ['event-gce-ubuntu-2104-log.bin', 'crypto-agile', ['sha1', 'sha256', 'sha384'], 112],
      ['event-sd-boot-fedora37.bin', 'crypto-agile', ['sha256'], 28],
      ['event-uefi-sha1-log.bin', 'sha1', ['sha1'], 17],
    ]);
  });

  it('parses the GCE COS 85 log (3 banks) and names its event types as the TCG spec does', () => {
    const log = parseEventLog(v.gceLog);
    expect(log.format).toBe('crypto-agile');
    expect(log.banks).toEqual(['sha1', 'sha256', 'sha384']);
    expect(log.events).toHaveLength(45);
    expect(log.specId?.algorithms.map((a) => [a.algorithmId, a.digestSize])).toEqual([
      [TPM_ALG.SHA1, 20],
      [TPM_ALG.SHA256, 32],
      [TPM_ALG.SHA384, 48],
    ]);
    expect(log.events.slice(0, 4).map((e) => e.typeName)).toEqual([
      'EV_NO_ACTION',
      'EV_S_CRTM_VERSION',
      'EV_NONHOST_INFO',
      'EV_EFI_VARIABLE_DRIVER_CONFIG',
    ]);
    for (const e of log.events.slice(1)) {
      expect(Object.keys(e.digests)).toEqual(['sha1', 'sha256', 'sha384']);
      expect(e.digests.sha384).toHaveLength(48);
    }
  });

  it('parses the Windows SHA-1 log including its WBCL EV_EVENT_TAG events', () => {
    const log = parseEventLog(v.windowsLog);
    expect(log.format).toBe('sha1');
    expect(log.events).toHaveLength(21);
    expect(log.events.filter((e) => e.typeName === 'EV_EVENT_TAG').map((e) => e.pcr)).toEqual([
      12, 13, 14, 12, 13, 14,
    ]);
  });

  it('parses go-attestation crypto_agile_eventlog and ebs_event_missing_eventlog', () => {
    const agile = parseEventLog(v.cryptoAgile);
    expect([agile.format, agile.banks, agile.events.length]).toEqual(['crypto-agile', ['sha256'], 27]);
    const ebs = parseEventLog(v.ebsMissing);
    expect([ebs.format, ebs.banks, ebs.events.length]).toEqual(['sha1', ['sha1'], 38]);
    const actions = ebs.events
      .filter((e) => e.typeName === 'EV_EFI_ACTION')
      .map((e) => new TextDecoder().decode(e.data));
    expect(actions.some((a) => a.startsWith('Exit Boot Services'))).toBe(false);
  });

  it('keeps an undefined type name for a type the spec does not define', () => {
    const log = parseEventLog(legacy(0, 0x12345, new Uint8Array(1)));
    expect(log.events[0]?.typeName).toBeUndefined();
  });
});

describe('parseEventLog rejects malformed logs as EVENT_LOG_INVALID', () => {
  it('rejects an empty log', () => invalid(() => parseEventLog(new Uint8Array()), /empty/));

  it('rejects a truncated header event', () =>
    invalid(() => parseEventLog(SHA256_HEADER.subarray(0, 30)), /truncated/));

  it('rejects an event size larger than the log (go-attestation TestParseEventLogEventSizeTooLarge)', () => {
    const data = Uint8Array.from([
      0x30, 0x34, 0x39, 0x33, 0x36, 0x30, 0x30, 0x32, 0x31, 0x39, 0x36, 0x33, 0x39, 0x34, 0x34, 0x37, 0x39,
      0x32, 0x31, 0x32, 0x32, 0x37, 0x39, 0x30, 0x34, 0x30, 0x31, 0x6d, 0xbd, 0xbf, 0xef, 0x47, 0, 0, 0, 0,
    ]);
    invalid(() => parseEventLog(data), /PCR index|truncated/);
    // The same sizes with a valid PCR index: the 3 GB size is refused before any allocation.
    data.set([4, 0, 0, 0], 0);
    invalid(() => parseEventLog(data), /truncated at event \(needs 1206894525 bytes/);
  });

  it('rejects a PCR index above 23', () =>
    invalid(() => parseEventLog(legacy(24, EV.EV_IPL, new Uint8Array())), /PCR index 24/));

  it('rejects a Spec ID event of a version other than 2', () =>
    invalid(
      () => parseEventLog(legacy(0, EV.EV_NO_ACTION, specId([[TPM_ALG.SHA1, 20]], { major: 1 }))),
      /version 1/,
    ));

  it('rejects a Spec ID event claiming 0xffffffff algorithms (go-attestation malicious_number_of_algs)', () =>
    invalid(
      () => parseEventLog(legacy(0, EV.EV_NO_ACTION, specId([[TPM_ALG.SHA1, 20]], { count: 0xffffffff }))),
      /4294967295 algorithms/,
    ));

  it('rejects a Spec ID event declaring a known hash with the wrong size', () =>
    invalid(
      () => parseEventLog(legacy(0, EV.EV_NO_ACTION, specId([[TPM_ALG.SHA256, 20]]))),
      /sha256 declared with digest size 20/,
    ));

  it('rejects a Spec ID event listing a bank twice', () =>
    invalid(
      () =>
        parseEventLog(
          legacy(
            0,
            EV.EV_NO_ACTION,
            specId([
              [TPM_ALG.SHA1, 20],
              [TPM_ALG.SHA1, 20],
            ]),
          ),
        ),
      /listed twice/,
    ));

  it('rejects an unknown algorithm with an impossible digest size', () =>
    invalid(
      () => parseEventLog(legacy(0, EV.EV_NO_ACTION, specId([[0x7777, 65]]))),
      /0x7777 declared with digest size 65/,
    ));

  it('parses an unknown algorithm whose size the Spec ID table gives (it is just not replayable)', () => {
    expect(parseSpecIdEvent(specId([[0x7777, 16]])).algorithms[0]?.bank).toBe('alg_0x7777');
  });

  it('rejects trailing bytes after the Spec ID event', () =>
    invalid(
      () => parseEventLog(legacy(0, EV.EV_NO_ACTION, specId([[TPM_ALG.SHA1, 20]], { trailing: 1 }))),
      /trailing/,
    ));

  it('rejects a Spec ID header event with a non-zero digest', () =>
    invalid(
      () =>
        parseEventLog(legacy(0, EV.EV_NO_ACTION, specId([[TPM_ALG.SHA1, 20]]), new Uint8Array(20).fill(1))),
      /non-zero digest/,
    ));

  const event2 = (count: number, digests: [number, Uint8Array][]) => {
    const w = new LeWriter().u32(4).u32(EV.EV_SEPARATOR).u32(count);
    for (const [alg, d] of digests) w.u16(alg).bytes(d);
    return w.u32(4).bytes(new Uint8Array(4)).finish();
  };
  const join = (...parts: Uint8Array[]) => Uint8Array.from(parts.flatMap((p) => [...p]));

  it('rejects an event whose digest count differs from the Spec ID bank count', () =>
    invalid(
      () => parseEventLog(join(SHA256_HEADER, event2(2, [[TPM_ALG.SHA256, new Uint8Array(32)]]))),
      /2 digests/,
    ));

  it('rejects an event digest of an algorithm the Spec ID event does not declare', () =>
    invalid(
      () => parseEventLog(join(SHA256_HEADER, event2(1, [[TPM_ALG.SHA1, new Uint8Array(20)]]))),
      /0x4 is not in the Spec ID/,
    ));

  it('rejects an event with two digests of the same bank', () => {
    const header = legacy(
      0,
      EV.EV_NO_ACTION,
      specId([
        [TPM_ALG.SHA256, 32],
        [TPM_ALG.SHA384, 48],
      ]),
    );
    const z = new Uint8Array(32);
    invalid(
      () =>
        parseEventLog(
          join(
            header,
            event2(2, [
              [TPM_ALG.SHA256, z],
              [TPM_ALG.SHA256, z],
            ]),
          ),
        ),
      /two sha256 digests/,
    );
  });

  it('rejects a crypto-agile log cut inside an event', () => {
    const full = encodeEventLog(
      ['sha256'],
      [{ pcr: 4, type: EV.EV_SEPARATOR, digests: { sha256: new Uint8Array(32) }, data: new Uint8Array(4) }],
    );
    expect(parseEventLog(full).events).toHaveLength(2);
    invalid(() => parseEventLog(full.subarray(0, full.length - 1)), /truncated at event/);
  });
});
