import { describe, expect, it } from 'vitest';
import { MAX_FRAME_BYTES } from '../../src/mastr/constants.ts';
import { MastrError } from '../../src/mastr/errors.ts';
import {
  checksum,
  decodeInnerFrame,
  encodeInnerFrame,
  FrameReceiver,
  type ReceiverEvent,
  stuff,
  wrapFrame,
} from '../../src/mastr/framing.ts';

/** Known answers derived by hand from MASTR.md §1.2 (no vectors exist upstream, §6.1). */

const hex = (s: string) => new Uint8Array(Buffer.from(s.replace(/\s+/g, ''), 'hex'));
const toHex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const frames = (evs: ReceiverEvent[]) => evs.filter((e) => e.kind === 'frame').map((e) => toHex(e.body));
const errors = (evs: ReceiverEvent[]) => evs.flatMap((e) => (e.kind === 'error' ? [e.error] : []));

function expectMastr(fn: () => unknown, code: string, message: RegExp): void {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(MastrError);
    expect((e as MastrError).code).toBe(code);
    expect((e as MastrError).message).toMatch(message);
    return;
  }
  throw new Error(`expected ${code}`);
}

describe('checksum (8-bit sum of every preceding byte)', () => {
  it('is the plain sum mod 256, not a CRC and not inverted', () => {
    expect(checksum(hex('22 00 04 70 69 6e 67'))).toBe(0xd4); // 0x1d4 mod 256
    expect(checksum(hex('ff 01'))).toBe(0x00);
    expect(checksum(new Uint8Array(0))).toBe(0);
  });
});

describe('inner frame: type ‖ len (big-endian) ‖ payload ‖ checksum', () => {
  it('encodes the ping request byte for byte', () => {
    expect(toHex(encodeInnerFrame(0x22, hex('70696e67')))).toBe('22000470696e67d4');
  });
  it('encodes an empty payload as 4 bytes (T2H_BOOT_OK = 32 00 00 32)', () => {
    expect(toHex(encodeInnerFrame(0x32))).toBe('32000032');
  });
  it('puts the length big-endian (256 bytes → 01 00)', () => {
    const f = encodeInnerFrame(0x31, new Uint8Array(256).fill(1));
    expect(toHex(f.subarray(0, 3))).toBe('310100');
    expect(f.length).toBe(260);
  });
  it('rejects a payload over 256 bytes', () => {
    expectMastr(
      () => encodeInnerFrame(0x31, new Uint8Array(257)),
      'FRAME_PAYLOAD_TOO_LARGE',
      /257 bytes exceeds the 256-byte/,
    );
  });
  it('decodes what it encodes', () => {
    expect(decodeInnerFrame(hex('22000470696e67d4'))).toEqual({ type: 0x22, payload: hex('70696e67') });
  });
  it('validates in the firmware order: length ≥ 4 first', () => {
    expectMastr(
      () => decodeInnerFrame(hex('32 00 00')),
      'FRAME_TOO_SHORT',
      /3 bytes is shorter than the 4-byte minimum/,
    );
  });
  it('then the length field against the bytes carried', () => {
    // also a bad checksum: the length check must win
    expectMastr(
      () => decodeInnerFrame(hex('32 00 01 00')),
      'FRAME_LENGTH_MISMATCH',
      /says 1 payload bytes, the frame carries 0/,
    );
  });
  it('then the checksum', () => {
    expectMastr(
      () => decodeInnerFrame(hex('22000470696e67d5')),
      'FRAME_CHECKSUM',
      /checksum 0xd5 does not match 0xd4/,
    );
  });
});

describe('byte stuffing', () => {
  it('escapes 0x7F as 7D 5F', () => expect(toHex(stuff(hex('7f')))).toBe('7d5f'));
  it('escapes 0x7E as 7D 5E', () => expect(toHex(stuff(hex('7e')))).toBe('7d5e'));
  it('escapes 0x7D as 7D 5D', () => expect(toHex(stuff(hex('7d')))).toBe('7d5d'));
  it('leaves every other byte alone (0x5F, 0x5E, 0x5D, 0x20, 0x00, 0xFF, 0x80)', () =>
    expect(toHex(stuff(hex('5f5e5d2000ff80')))).toBe('5f5e5d2000ff80'));
  it('escapes runs and mixtures in place', () =>
    expect(toHex(stuff(hex('01 7f 7e 7d 7d 02')))).toBe('017d5f7d5e7d5d7d5d02'));
  it('wraps with unstuffed SOF and EOF', () =>
    expect(toHex(wrapFrame(hex('32 00 00 32')))).toBe('7f320000327e'));
  it('wraps a frame whose checksum is a special byte (type 0x7E, empty → checksum 0x7E)', () =>
    expect(toHex(wrapFrame(encodeInnerFrame(0x7e)))).toBe('7f7d5e00007d5e7e'));
});

describe('FrameReceiver (token and host rules)', () => {
  it('unstuffs every escape back to the original byte', () => {
    const body = hex('7f7e7d00ff');
    expect(frames(new FrameReceiver().push(wrapFrame(body)))).toEqual(['7f7e7d00ff']);
  });
  it('assembles a frame fed one byte at a time (fragmented reads)', () => {
    const r = new FrameReceiver();
    const out: ReceiverEvent[] = [];
    for (const b of wrapFrame(hex('22000470696e67d4'))) out.push(...r.push(Uint8Array.of(b)));
    expect(frames(out)).toEqual(['22000470696e67d4']);
  });
  it('ignores bytes outside a frame and an EOF outside a frame', () => {
    expect(frames(new FrameReceiver().push(hex('00 41 7e 99 7f 32000032 7e 55')))).toEqual(['32000032']);
  });
  it('restarts on a SOF in the middle of a frame (resync)', () => {
    expect(frames(new FrameReceiver().push(hex('7f 22 00 04 70 7f 32000032 7e')))).toEqual(['32000032']);
  });
  it('returns an empty body for SOF EOF (then the length check fails, as on the token)', () => {
    const evs = new FrameReceiver().push(hex('7f7e'));
    expect(frames(evs)).toEqual(['']);
    expectMastr(() => decodeInnerFrame(new Uint8Array(0)), 'FRAME_TOO_SHORT', /0 bytes/);
  });
  it('drops the frame on an invalid escape (7D FF) and reports it', () => {
    const evs = new FrameReceiver().push(hex('7f 32 7d ff 00 00 32 7e'));
    expect(frames(evs)).toEqual([]);
    const [err] = errors(evs);
    expect(err?.code).toBe('FRAME_BAD_ESCAPE');
    expect(err?.message).toBe('invalid escape 7d ff: frame dropped');
  });
  it('consumes a SOF that follows a dangling escape, so the next frame is lost too', () => {
    const evs = new FrameReceiver().push(hex('7f 01 7d 7f 32000032 7e'));
    expect(frames(evs)).toEqual([]);
    expect(errors(evs).map((e) => e.message)).toEqual(['invalid escape 7d 7f: frame dropped']);
  });
  it('consumes an EOF that follows an escape as the bad escape byte', () => {
    const evs = new FrameReceiver().push(hex('7f 32 00 00 32 7d 7e 7f 41000041 7e'));
    expect(errors(evs).map((e) => e.code)).toEqual(['FRAME_BAD_ESCAPE']);
    expect(frames(evs)).toEqual(['41000041']);
  });
  it('accepts exactly 260 unstuffed bytes (a 256-byte payload)', () => {
    const f = encodeInnerFrame(0x31, new Uint8Array(256).fill(0x7e)); // every payload byte stuffed
    const [body] = frames(new FrameReceiver().push(wrapFrame(f)));
    expect(body?.length).toBe(2 * MAX_FRAME_BYTES);
    expect(decodeInnerFrame(hex(body ?? '')).payload.length).toBe(256);
  });
  it('silently drops unstuffed bytes past 260, so the length check then fails', () => {
    const big = new Uint8Array(300).fill(0x11);
    big.set([0x31, 0x01, 0x28], 0); // claims 296 payload bytes
    const r = new FrameReceiver();
    const [body] = frames(r.push(wrapFrame(big)));
    expect(body?.length).toBe(2 * 260);
    expect(r.overflowed).toBe(40);
    expectMastr(
      () => decodeInnerFrame(hex(body ?? '')),
      'FRAME_LENGTH_MISMATCH',
      /says 296 payload bytes, the frame carries 256/,
    );
  });
  it('keeps working after an error: the next good frame is delivered', () => {
    const r = new FrameReceiver();
    expect(errors(r.push(hex('7f 7d 01')))).toHaveLength(1);
    expect(frames(r.push(hex('7f 32000032 7e')))).toEqual(['32000032']);
  });
});
