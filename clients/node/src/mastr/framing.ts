import { EOF, ESC, ESC_XOR, MAX_FRAME_BYTES, MAX_PAYLOAD, SOF } from './constants.ts';
import { MastrError } from './errors.ts';

/**
 * MASTR framing (MASTR.md §1.2), pure: the inner frame `type ‖ len (BE u16) ‖ payload ‖ checksum`, byte
 * stuffing between SOF 0x7F and EOF 0x7E, and the receiver that the token and the Python host share —
 * SOF restarts a frame anywhere, an ESC consumes the next byte even if it is a SOF, and unstuffed bytes
 * past 260 are dropped without a word (the length or GCM check then fails).
 */

/** 8-bit sum mod 256 of every byte (not a CRC, not inverted). */
export function checksum(bytes: Uint8Array): number {
  let sum = 0;
  for (const b of bytes) sum = (sum + b) & 0xff;
  return sum;
}

/** The inner frame: `type ‖ len_hi ‖ len_lo ‖ payload ‖ checksum(all preceding)`. */
export function encodeInnerFrame(type: number, payload: Uint8Array = new Uint8Array(0)): Uint8Array {
  if (!Number.isInteger(type) || type < 0 || type > 0xff) {
    throw new MastrError('MESSAGE_MALFORMED', `message type ${type} is not a byte`);
  }
  if (payload.length > MAX_PAYLOAD) {
    throw new MastrError(
      'FRAME_PAYLOAD_TOO_LARGE',
      `payload of ${payload.length} bytes exceeds the ${MAX_PAYLOAD}-byte frame limit`,
    );
  }
  const out = new Uint8Array(payload.length + 4);
  out[0] = type;
  out[1] = payload.length >> 8;
  out[2] = payload.length & 0xff;
  out.set(payload, 3);
  out[payload.length + 3] = checksum(out.subarray(0, payload.length + 3));
  return out;
}

export interface InnerFrame {
  type: number;
  payload: Uint8Array;
}

/** Validates in the firmware's order: total ≥ 4, then `len == total − 4`, then the checksum. */
export function decodeInnerFrame(bytes: Uint8Array): InnerFrame {
  if (bytes.length < 4) {
    throw new MastrError(
      'FRAME_TOO_SHORT',
      `frame of ${bytes.length} bytes is shorter than the 4-byte minimum`,
    );
  }
  const len = (bytes[1]! << 8) | bytes[2]!;
  if (len !== bytes.length - 4) {
    throw new MastrError(
      'FRAME_LENGTH_MISMATCH',
      `length field says ${len} payload bytes, the frame carries ${bytes.length - 4}`,
    );
  }
  const want = checksum(bytes.subarray(0, bytes.length - 1));
  const got = bytes[bytes.length - 1]!;
  if (want !== got) {
    throw new MastrError(
      'FRAME_CHECKSUM',
      `checksum 0x${got.toString(16).padStart(2, '0')} does not match 0x${want.toString(16).padStart(2, '0')}`,
    );
  }
  return { type: bytes[0]!, payload: bytes.slice(3, bytes.length - 1) };
}

/** Escapes 0x7F, 0x7E and 0x7D as `7D (b ^ 0x20)`; nothing else. */
export function stuff(body: Uint8Array): Uint8Array {
  let extra = 0;
  for (const b of body) if (b === SOF || b === EOF || b === ESC) extra++;
  const out = new Uint8Array(body.length + extra);
  let i = 0;
  for (const b of body) {
    if (b === SOF || b === EOF || b === ESC) {
      out[i++] = ESC;
      out[i++] = b ^ ESC_XOR;
    } else out[i++] = b;
  }
  return out;
}

/** `SOF ‖ stuff(body) ‖ EOF`: what goes on the wire in one write. */
export function wrapFrame(body: Uint8Array): Uint8Array {
  const s = stuff(body);
  const out = new Uint8Array(s.length + 2);
  out[0] = SOF;
  out.set(s, 1);
  out[s.length + 1] = EOF;
  return out;
}

export type ReceiverEvent =
  | { kind: 'frame'; body: Uint8Array }
  /** An ESC followed by anything but 5F/5E/5D: the frame is dropped (the host parser reports it). */
  | { kind: 'error'; error: MastrError };

/**
 * The byte-at-a-time unstuffing receiver. Feed it whatever the link delivers; it returns complete frame
 * bodies (still encrypted if the session is) and bad-escape errors, in order.
 */
export class FrameReceiver {
  private buf = new Uint8Array(MAX_FRAME_BYTES);
  private len = 0;
  private inFrame = false;
  private escaped = false;
  /** Bytes dropped past the 260-byte cap in the current frame (for diagnostics). */
  overflowed = 0;

  push(chunk: Uint8Array): ReceiverEvent[] {
    const events: ReceiverEvent[] = [];
    for (const b of chunk) {
      if (this.escaped) {
        // The byte after an ESC is consumed whatever it is — a SOF here is lost (§1.2).
        this.escaped = false;
        if (b === (SOF ^ ESC_XOR) || b === (EOF ^ ESC_XOR) || b === (ESC ^ ESC_XOR)) this.append(b ^ ESC_XOR);
        else {
          this.inFrame = false;
          events.push({
            kind: 'error',
            error: new MastrError(
              'FRAME_BAD_ESCAPE',
              `invalid escape 7d ${b.toString(16).padStart(2, '0')}: frame dropped`,
            ),
          });
        }
        continue;
      }
      if (b === SOF) {
        this.len = 0;
        this.overflowed = 0;
        this.inFrame = true;
        continue;
      }
      if (!this.inFrame) continue; // noise between frames, or an EOF outside a frame
      if (b === EOF) {
        this.inFrame = false;
        events.push({ kind: 'frame', body: this.buf.slice(0, this.len) });
        continue;
      }
      if (b === ESC) {
        this.escaped = true;
        continue;
      }
      this.append(b);
    }
    return events;
  }

  private append(b: number): void {
    if (this.len < MAX_FRAME_BYTES) this.buf[this.len++] = b;
    else this.overflowed++;
  }
}
