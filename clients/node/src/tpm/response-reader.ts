import { AgentError } from '../errors.ts';
import { HEADER_SIZE, MAX_RESPONSE_SIZE } from './constants.ts';

/**
 * Reassembles one TPM response from a byte stream (the swtpm socket delivers it in arbitrary chunks):
 * the header's size field says when it is complete. A size below the header or above MAX_RESPONSE_SIZE is
 * rejected as soon as the header is in, so a corrupt size never makes the reader wait for, or allocate,
 * bytes that will not come.
 */
export class ResponseReader {
  private chunks: Uint8Array[] = [];
  private received = 0;
  private expected = -1;

  /** Adds bytes; returns the complete response once it is in, else undefined. Throws on a bad size. */
  push(chunk: Uint8Array): Uint8Array | undefined {
    this.chunks.push(chunk);
    this.received += chunk.length;
    if (this.expected < 0 && this.received >= HEADER_SIZE) {
      const head = this.concat();
      const size = new DataView(head.buffer, head.byteOffset).getUint32(2);
      if (size < HEADER_SIZE || size > MAX_RESPONSE_SIZE) {
        throw new AgentError(
          'TPM_RESPONSE_SIZE_MISMATCH',
          `response size field ${size} is outside ${HEADER_SIZE}..${MAX_RESPONSE_SIZE}`,
        );
      }
      this.expected = size;
    }
    if (this.expected >= 0 && this.received >= this.expected) {
      if (this.received > this.expected) {
        throw new AgentError(
          'TPM_RESPONSE_SIZE_MISMATCH',
          `response size field says ${this.expected} bytes but ${this.received} arrived`,
        );
      }
      return this.concat();
    }
    return undefined;
  }

  get bytesReceived(): number {
    return this.received;
  }

  private concat(): Uint8Array {
    if (this.chunks.length === 1) return this.chunks[0]!;
    const out = new Uint8Array(this.received);
    let o = 0;
    for (const c of this.chunks) {
      out.set(c, o);
      o += c.length;
    }
    this.chunks = [out];
    return out;
  }
}
