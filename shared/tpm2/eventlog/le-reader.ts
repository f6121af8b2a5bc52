import { ByteReader, ByteWriter } from '../cursor.ts';
import { TpmError } from '../errors.ts';

/**
 * `ByteReader` in the byte order of TCG event logs (PC Client Platform Firmware Profile §10: log
 * structures are little-endian, unlike the big-endian TPM structures). Same cursor, same discipline:
 * every read is bounds-checked, truncation and trailing bytes become `EVENT_LOG_INVALID`, and no length
 * field is ever used to allocate before the bytes it claims are known to be present.
 */
export class LeReader extends ByteReader {
  constructor(bytes: Uint8Array, what: string) {
    super(bytes, what, { littleEndian: true, reason: 'EVENT_LOG_INVALID' });
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
      throw new TpmError(this.reason, `${this.what}: ${field} is larger than 2^32`);
    }
    this.offset += 8;
    return lo;
  }
}

/** A test-side writer for synthetic logs (little-endian). */
export class LeWriter extends ByteWriter {
  constructor() {
    super({ littleEndian: true });
  }

  /** A u64 from a number (the log's u64 lengths never exceed 2^32). */
  u64n(v: number): this {
    return this.u64(BigInt(v));
  }
}
