import { TpmError } from '../errors.ts';
import { formatGuid } from './efi-guid.ts';
import { LeReader } from './le-reader.ts';

/**
 * `EFI_SIGNATURE_LIST`s (UEFI spec §32.4.1), the value of PK, KEK, db and dbx: concatenated lists,
 * each of one signature type (X.509 certificate, SHA-256 hash, …) holding fixed-size
 * `EFI_SIGNATURE_DATA { owner GUID, data }` entries.
 */
export interface EfiSignature {
  /** SignatureType GUID of the list the entry came from. */
  type: string;
  /** SignatureOwner GUID (the agent that enrolled it). */
  owner: string;
  data: Uint8Array;
}

const LIST_HEADER = 16 + 4 + 4 + 4;

export function parseEfiSignatureLists(bytes: Uint8Array): EfiSignature[] {
  const r = new LeReader(bytes, 'EFI_SIGNATURE_LIST');
  const out: EfiSignature[] = [];
  while (r.remaining > 0) {
    const type = formatGuid(r.bytesN(16, 'SignatureType'));
    const listSize = r.u32('SignatureListSize');
    const headerSize = r.u32('SignatureHeaderSize');
    const signatureSize = r.u32('SignatureSize');
    // Each size is checked against the bytes present before it steers a loop: a list cannot claim more
    // than what follows, and an entry must hold at least its owner GUID plus one byte (no zero-size loop).
    if (listSize < LIST_HEADER || listSize - LIST_HEADER > r.remaining) {
      throw new TpmError(
        'EVENT_LOG_INVALID',
        `EFI_SIGNATURE_LIST: SignatureListSize ${listSize} is out of bounds`,
      );
    }
    const body = listSize - LIST_HEADER;
    if (headerSize > body || signatureSize <= 16 || (body - headerSize) % signatureSize !== 0) {
      throw new TpmError(
        'EVENT_LOG_INVALID',
        `EFI_SIGNATURE_LIST: header ${headerSize} and entry size ${signatureSize} do not divide the list of ${body} bytes`,
      );
    }
    r.bytesN(headerSize, 'SignatureHeader');
    const count = (body - headerSize) / signatureSize;
    for (let i = 0; i < count; i++) {
      const owner = formatGuid(r.bytesN(16, 'SignatureOwner'));
      out.push({ type, owner, data: r.bytesN(signatureSize - 16, 'SignatureData') });
    }
  }
  return out;
}
