import { TpmError, type TpmReason } from './errors.ts';

/** TPM structures are big-endian; TCG event logs are little-endian and reject with their own reason. */
export interface ByteOrderOptions {
  littleEndian?: boolean;
  /** The reason truncation and trailing bytes are reported with (default MALFORMED_STRUCTURE). */
  reason?: TpmReason;
}

/**
 * The one cursor every TPM parser reads through. Truncated input, sizes that run past the end and
 * trailing bytes are rejected here, in one place, as `MALFORMED_STRUCTURE` — never as a RangeError
 * from a DataView and never by allocating what an untrusted length field asks for.
 * TPM structures are big-endian (Part 1, "Marshaling").
 */
export class ByteReader {
  protected offset = 0;
  protected readonly view: DataView;
  private readonly le: boolean;
  protected readonly reason: TpmReason;

  constructor(
    private readonly bytes: Uint8Array,
    /** Names the structure being parsed, for error messages. */
    readonly what = 'TPM structure',
    options: ByteOrderOptions = {},
  ) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.le = options.littleEndian ?? false;
    this.reason = options.reason ?? 'MALFORMED_STRUCTURE';
  }

  get position(): number {
    return this.offset;
  }

  get remaining(): number {
    return this.bytes.length - this.offset;
  }

  protected need(n: number, field: string): void {
    if (n > this.remaining) {
      throw new TpmError(
        this.reason,
        `${this.what}: truncated at ${field} (needs ${n} bytes at offset ${this.offset}, ${this.remaining} left)`,
      );
    }
  }

  u8(field = 'u8'): number {
    this.need(1, field);
    return this.view.getUint8(this.offset++);
  }

  u16(field = 'u16'): number {
    this.need(2, field);
    const v = this.view.getUint16(this.offset, this.le);
    this.offset += 2;
    return v;
  }

  u32(field = 'u32'): number {
    this.need(4, field);
    const v = this.view.getUint32(this.offset, this.le);
    this.offset += 4;
    return v;
  }

  u64(field = 'u64'): bigint {
    this.need(8, field);
    const v = this.view.getBigUint64(this.offset, this.le);
    this.offset += 8;
    return v;
  }

  /** `n` raw bytes (a copy, so callers may keep it after the input is reused). */
  bytesN(n: number, field = 'bytes'): Uint8Array {
    this.need(n, field);
    const out = this.bytes.slice(this.offset, this.offset + n);
    this.offset += n;
    return out;
  }

  /** A `TPM2B_*`: u16 size then that many bytes; `max` caps the size the structure allows. */
  tpm2b(field = 'TPM2B', max = 0xffff): Uint8Array {
    const size = this.u16(`${field}.size`);
    if (size > max) {
      throw new TpmError(this.reason, `${this.what}: ${field} size ${size} exceeds its maximum ${max}`);
    }
    return this.bytesN(size, field);
  }

  /** A sub-reader over a `TPM2B` whose content is itself a structure (e.g. TPM2B_PUBLIC). */
  sub(field: string, what: string): ByteReader {
    return new ByteReader(this.tpm2b(field), what, { littleEndian: this.le, reason: this.reason });
  }

  /** Everything not yet read. */
  rest(): Uint8Array {
    return this.bytesN(this.remaining, 'rest');
  }

  /** The structure must end exactly here: padding after a signed structure is an attack surface. */
  end(): void {
    if (this.remaining !== 0) {
      throw new TpmError(this.reason, `${this.what}: ${this.remaining} trailing bytes after the structure`);
    }
  }
}

/** The marshalling counterpart of ByteReader (the agent builds commands with it; tests forge structures). */
export class ByteWriter {
  private chunks: Uint8Array[] = [];
  private length = 0;
  private readonly le: boolean;

  constructor(options: Pick<ByteOrderOptions, 'littleEndian'> = {}) {
    this.le = options.littleEndian ?? false;
  }

  private push(b: Uint8Array): this {
    this.chunks.push(b);
    this.length += b.length;
    return this;
  }

  u8(v: number): this {
    return this.push(Uint8Array.of(v & 0xff));
  }

  u16(v: number): this {
    const b = new Uint8Array(2);
    new DataView(b.buffer).setUint16(0, v & 0xffff, this.le);
    return this.push(b);
  }

  u32(v: number): this {
    const b = new Uint8Array(4);
    new DataView(b.buffer).setUint32(0, v >>> 0, this.le);
    return this.push(b);
  }

  u64(v: bigint): this {
    const b = new Uint8Array(8);
    new DataView(b.buffer).setBigUint64(0, v, this.le);
    return this.push(b);
  }

  bytes(b: Uint8Array): this {
    return this.push(b.slice());
  }

  tpm2b(b: Uint8Array): this {
    if (b.length > 0xffff) throw new RangeError(`TPM2B content of ${b.length} bytes does not fit a u16 size`);
    return this.u16(b.length).bytes(b);
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
