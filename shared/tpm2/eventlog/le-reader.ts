import { TpmError } from '../errors.ts';

/**
 * The little-endian twin of `ByteReader` for TCG event logs (PC Client Platform Firmware Profile §10:
 * log structures are little-endian, unlike the big-endian TPM structures). Same discipline: every read
 * is bounds-checked, truncation and trailing bytes become `EVENT_LOG_INVALID`, and no length field is
 * ever used to allocate before the bytes it claims are known to be present.
 */
export class LeReader {
  private offset = 0;
  private readonly view: DataView;

  constructor(
    private readonly bytes: Uint8Array,
    /** Names the structure being parsed, for error messages. */
    readonly what: string,
  ) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  get position(): number {
    return this.offset;
  }

  get remaining(): number {
    return this.bytes.length - this.offset;
  }

  private need(n: number, field: string): void {
    if (n > this.remaining) {
      throw new TpmError(
        'EVENT_LOG_INVALID',
        `${this.what}: truncated at ${field} (needs ${n} bytes at offset ${this.offset}, ${this.remaining} left)`,
      );
    }
  }

  u8(field: string): number {
    this.need(1, field);
    return this.view.getUint8(this.offset++);
  }

  u16(field: string): number {
    this.need(2, field);
    const v = this.view.getUint16(this.offset, true);
    this.offset += 2;
    return v;
  }

  u32(field: string): number {
    this.need(4, field);
    const v = this.view.getUint32(this.offset, true);
    this.offset += 4;
    return v;
  }

  /**
   * A u64 length as a number. Anything above 2^32 cannot fit any log we accept, so it is rejected here
   * rather than rounded (UEFI_VARIABLE_DATA carries u64 lengths).
   */
  u64Length(field: string): number {
    this.need(8, field);
    const lo = this.view.getUint32(this.offset, true);
    const hi = this.view.getUint32(this.offset + 4, true);
    if (hi !== 0) {
      throw new TpmError('EVENT_LOG_INVALID', `${this.what}: ${field} is larger than 2^32`);
    }
    this.offset += 8;
    return lo;
  }

  /** `n` bytes (a copy: parsed events outlive the caller's buffer). */
  bytesN(n: number, field: string): Uint8Array {
    this.need(n, field);
    const out = this.bytes.slice(this.offset, this.offset + n);
    this.offset += n;
    return out;
  }

  /** Everything not yet read. */
  rest(): Uint8Array {
    return this.bytesN(this.remaining, 'rest');
  }

  end(): void {
    if (this.remaining !== 0) {
      throw new TpmError('EVENT_LOG_INVALID', `${this.what}: ${this.remaining} trailing bytes`);
    }
  }
}

/** A test-side writer for synthetic logs (little-endian). */
export class LeWriter {
  private chunks: Uint8Array[] = [];
  private length = 0;

  private push(b: Uint8Array): this {
    this.chunks.push(b);
    this.length += b.length;
    return this;
  }

  u8(v: number): this {
    return this.push(Uint8Array.of(v & 0xff));
  }

  u16(v: number): this {
    return this.push(Uint8Array.of(v & 0xff, (v >>> 8) & 0xff));
  }

  u32(v: number): this {
    const b = new Uint8Array(4);
    new DataView(b.buffer).setUint32(0, v >>> 0, true);
    return this.push(b);
  }

  u64(v: number): this {
    const b = new Uint8Array(8);
    new DataView(b.buffer).setBigUint64(0, BigInt(v), true);
    return this.push(b);
  }

  bytes(b: Uint8Array): this {
    return this.push(b.slice());
  }

  finish(): Uint8Array {
    const out = new Uint8Array(this.length);
    let o = 0;
    for (const c of this.chunks) {
      out.set(c, o);
      o += c.length;
    }
    return out;
  }
}
