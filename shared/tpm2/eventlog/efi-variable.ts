import { TpmError } from '../errors.ts';
import { formatGuid } from './efi-guid.ts';
import { LeReader } from './le-reader.ts';

/**
 * `UEFI_VARIABLE_DATA` (PC Client PFP §10.4.5.2), the data of EV_EFI_VARIABLE_* events. For
 * EV_EFI_VARIABLE_DRIVER_CONFIG and EV_EFI_VARIABLE_AUTHORITY the event digest is the hash of this whole
 * structure, so once that digest is checked against a replayed PCR every field here is authenticated.
 */
export interface EfiVariable {
  /** The vendor GUID, formatted (`8be4df61-…`). */
  guid: string;
  name: string;
  data: Uint8Array;
}

/**
 * Strict by default: bytes after VariableData are rejected. `allowTrailing` exists for one quirk only —
 * old shim measured a few bytes past its authority certificate (go-attestation #157); those bytes are
 * still covered by the digest, they are just not interpreted.
 */
export function parseEfiVariable(bytes: Uint8Array, options: { allowTrailing?: boolean } = {}): EfiVariable {
  const r = new LeReader(bytes, 'UEFI_VARIABLE_DATA');
  const guid = formatGuid(r.bytesN(16, 'VariableName'));
  const nameLength = r.u64Length('UnicodeNameLength');
  const dataLength = r.u64Length('VariableDataLength');
  if (nameLength * 2 > r.remaining) {
    throw new TpmError(
      'EVENT_LOG_INVALID',
      `UEFI_VARIABLE_DATA: name of ${nameLength} characters is truncated`,
    );
  }
  const nameBytes = r.bytesN(nameLength * 2, 'UnicodeName');
  const data = r.bytesN(dataLength, 'VariableData');
  if (!options.allowTrailing) r.end();
  return { guid, name: utf16le(nameBytes), data };
}

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

/** UTF-16LE without a terminator (lone surrogates become U+FFFD: a name is compared, never executed). */
export function utf16le(b: Uint8Array): string {
  let s = '';
  for (let i = 0; i + 1 < b.length; i += 2) s += String.fromCharCode(b[i]! | (b[i + 1]! << 8));
  return s.replace(LONE_SURROGATE, '\uFFFD');
}
