import { MAX_ENCRYPTED_PAYLOAD } from './constants.ts';
import { MastrError } from './errors.ts';
import { decryptFrameBody, encryptFrameBody } from './frame-crypto.ts';
import { decodeInnerFrame, encodeInnerFrame, FrameReceiver, type InnerFrame, wrapFrame } from './framing.ts';

export type ChannelEvent = { kind: 'message'; message: InnerFrame } | { kind: 'error'; error: MastrError };

/**
 * One end of the link, pure: framing plus the single "current key" (MASTR.md §8). With no key, frames are
 * plaintext; once a key is set every frame in both directions is encrypted with it. Switching keys is the
 * caller's decision — the host state machine follows §3.3's rule exactly.
 */
export class Channel {
  private readonly receiver = new FrameReceiver();
  private key: Uint8Array | null = null;

  get encrypted(): boolean {
    return this.key !== null;
  }

  get currentKey(): Uint8Array | null {
    return this.key;
  }

  setKey(key: Uint8Array): void {
    if (key.length !== 16)
      throw new MastrError('KEY_INVALID', `session key must be 16 bytes, got ${key.length}`);
    this.key = key.slice();
  }

  /** Wire bytes for one message, under the current key if there is one. */
  encode(type: number, payload: Uint8Array = new Uint8Array(0)): Uint8Array {
    if (this.key && payload.length > MAX_ENCRYPTED_PAYLOAD) {
      throw new MastrError(
        'FRAME_PAYLOAD_TOO_LARGE',
        `encrypted payload of ${payload.length} bytes exceeds ${MAX_ENCRYPTED_PAYLOAD}`,
      );
    }
    const inner = encodeInnerFrame(type, payload);
    return wrapFrame(this.key ? encryptFrameBody(this.key, inner) : inner);
  }

  /** Feeds link bytes; returns decoded messages and per-frame errors (a bad frame never stops the stream). */
  receive(chunk: Uint8Array): ChannelEvent[] {
    const out: ChannelEvent[] = [];
    for (const ev of this.receiver.push(chunk)) {
      if (ev.kind === 'error') {
        out.push(ev);
        continue;
      }
      try {
        const inner = this.key ? decryptFrameBody(this.key, ev.body) : ev.body;
        out.push({ kind: 'message', message: decodeInnerFrame(inner) });
      } catch (e) {
        if (e instanceof MastrError) out.push({ kind: 'error', error: e });
        else throw e;
      }
    }
    return out;
  }
}
