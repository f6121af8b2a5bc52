import { ProvaraError } from '../../../../../shared/provara/errors.ts';

/**
 * CTAPHID (CTAP 2.1 §11.2): messages cut into 64-byte HID reports. An initialization packet carries
 * CID(4) ‖ CMD(1, high bit set) ‖ BCNT(2, big-endian) ‖ 57 data bytes; continuation packets carry
 * CID(4) ‖ SEQ(1, 0…127) ‖ 59 data bytes. A channel is allocated with CTAPHID_INIT on the broadcast CID.
 */
export const REPORT_SIZE = 64;
export const BROADCAST_CID = 0xffffffff;
export const CTAPHID_PING = 0x81;
export const CTAPHID_MSG = 0x83;
export const CTAPHID_INIT = 0x86;
export const CTAPHID_CBOR = 0x90;
export const CTAPHID_CANCEL = 0x91;
export const CTAPHID_KEEPALIVE = 0xbb;
export const CTAPHID_ERROR = 0xbf;
const INIT_DATA = REPORT_SIZE - 7;
const CONT_DATA = REPORT_SIZE - 5;
/** 57 + 128 × 59 bytes: the largest message the framing can carry. */
export const MAX_MESSAGE = INIT_DATA + 128 * CONT_DATA;

/** A HID device that speaks 64-byte reports: a hidraw node, or the software authenticator in tests. */
export interface HidDevice {
  write(report: Uint8Array): Promise<void>;
  /** The next input report; rejects after `timeoutMs`. */
  read(timeoutMs: number): Promise<Uint8Array>;
  close(): Promise<void>;
}

export function frame(cid: number, cmd: number, data: Uint8Array): Uint8Array[] {
  if (data.length > MAX_MESSAGE)
    throw new ProvaraError('CTAPHID_FRAMING', `message of ${data.length} bytes exceeds ${MAX_MESSAGE}`);
  const packets: Uint8Array[] = [];
  const first = new Uint8Array(REPORT_SIZE);
  const dv = new DataView(first.buffer);
  dv.setUint32(0, cid);
  first[4] = cmd | 0x80;
  dv.setUint16(5, data.length);
  first.set(data.subarray(0, INIT_DATA), 7);
  packets.push(first);
  for (let off = INIT_DATA, seq = 0; off < data.length; off += CONT_DATA, seq++) {
    const p = new Uint8Array(REPORT_SIZE);
    new DataView(p.buffer).setUint32(0, cid);
    p[4] = seq;
    p.set(data.subarray(off, off + CONT_DATA), 5);
    packets.push(p);
  }
  return packets;
}

/** Reassembles one message; keep-alives are reported to `onKeepalive` (status 2 = waiting for a touch). */
export async function receive(
  dev: HidDevice,
  cid: number,
  timeoutMs: number,
  onKeepalive?: (status: number) => void,
): Promise<{ cmd: number; data: Uint8Array }> {
  for (;;) {
    const p = await dev.read(timeoutMs);
    if (p.length !== REPORT_SIZE) throw new ProvaraError('CTAPHID_FRAMING', `report of ${p.length} bytes`);
    const dv = new DataView(p.buffer, p.byteOffset, p.byteLength);
    if (dv.getUint32(0) !== cid) continue; // another channel's traffic
    const cmd = p[4] as number;
    if ((cmd & 0x80) === 0)
      throw new ProvaraError('CTAPHID_FRAMING', 'continuation packet without an initialization packet');
    if (cmd === CTAPHID_KEEPALIVE) {
      onKeepalive?.(p[7] as number);
      continue;
    }
    const total = dv.getUint16(5);
    if (total > MAX_MESSAGE)
      throw new ProvaraError('CTAPHID_FRAMING', `announced length ${total} exceeds ${MAX_MESSAGE}`);
    const data = new Uint8Array(total);
    data.set(p.subarray(7, 7 + Math.min(total, INIT_DATA)));
    let got = Math.min(total, INIT_DATA);
    for (let seq = 0; got < total; seq++) {
      const c = await dev.read(timeoutMs);
      const cdv = new DataView(c.buffer, c.byteOffset, c.byteLength);
      if (cdv.getUint32(0) !== cid) continue;
      if (c[4] !== seq)
        throw new ProvaraError('CTAPHID_FRAMING', `continuation sequence ${c[4]}, expected ${seq}`);
      const n = Math.min(total - got, CONT_DATA);
      data.set(c.subarray(5, 5 + n), got);
      got += n;
    }
    if (cmd === CTAPHID_ERROR)
      throw new ProvaraError('CTAP_ERROR', `CTAPHID error 0x${(data[0] ?? 0).toString(16)}`, {
        ctaphid: data[0],
      });
    return { cmd, data };
  }
}

/** A CTAPHID channel: allocates a CID with INIT, then exchanges messages on it. */
export class CtapHidChannel {
  private constructor(
    readonly dev: HidDevice,
    readonly cid: number,
    readonly capabilities: number,
  ) {}

  static async open(dev: HidDevice, timeoutMs = 2000): Promise<CtapHidChannel> {
    const nonce = crypto.getRandomValues(new Uint8Array(8));
    for (const p of frame(BROADCAST_CID, CTAPHID_INIT, nonce)) await dev.write(p);
    for (;;) {
      const r = await receive(dev, BROADCAST_CID, timeoutMs);
      if (r.cmd !== CTAPHID_INIT || r.data.length < 17)
        throw new ProvaraError('CTAPHID_FRAMING', 'bad INIT response');
      if (!r.data.subarray(0, 8).every((b, i) => b === nonce[i])) continue; // another client's INIT
      const cid = new DataView(r.data.buffer, r.data.byteOffset).getUint32(8);
      return new CtapHidChannel(dev, cid, r.data[16] as number);
    }
  }

  /** CAPABILITY_CBOR: the device speaks CTAP2. */
  get supportsCbor(): boolean {
    return (this.capabilities & 0x04) !== 0;
  }

  async transact(
    cmd: number,
    data: Uint8Array,
    timeoutMs: number,
    onKeepalive?: (status: number) => void,
  ): Promise<Uint8Array> {
    for (const p of frame(this.cid, cmd, data)) await this.dev.write(p);
    const r = await receive(this.dev, this.cid, timeoutMs, onKeepalive);
    if (r.cmd !== cmd)
      throw new ProvaraError(
        'CTAPHID_FRAMING',
        `response command 0x${r.cmd.toString(16)} to 0x${cmd.toString(16)}`,
      );
    return r.data;
  }
}
