import { utf16le } from './efi-variable.ts';
import { LeReader } from './le-reader.ts';

/**
 * `UEFI_IMAGE_LOAD_EVENT` (PC Client PFP §10.4.5.4), the data of EV_EFI_BOOT_SERVICES_APPLICATION and
 * _DRIVER events. Their digest is the image's Authenticode hash, NOT a hash of this data: the load
 * address and device path are merely what the firmware reported, so they are only ever shown as hints.
 */
export interface EfiImageLoad {
  imageLocationInMemory: bigint;
  imageLengthInMemory: bigint;
  /** The file-path nodes of the device path, joined (e.g. `\EFI\BOOT\BOOTX64.EFI`); undefined if none. */
  path: string | undefined;
}

/** Media device path (type 4), file path node (subtype 4) — UEFI spec §10.3.5.4. */
const MEDIA = 4;
const FILE_PATH = 4;
const END = 0x7f;

/** Best effort: a malformed load event yields undefined rather than an error, as nothing relies on it. */
export function parseEfiImageLoad(data: Uint8Array): EfiImageLoad | undefined {
  try {
    const r = new LeReader(data, 'UEFI_IMAGE_LOAD_EVENT');
    const dv = new DataView(data.buffer, data.byteOffset, data.byteLength);
    if (data.length < 32) return undefined;
    const imageLocationInMemory = dv.getBigUint64(0, true);
    const imageLengthInMemory = dv.getBigUint64(8, true);
    r.bytesN(24, 'header');
    const length = r.u64Length('LengthOfDevicePath');
    const path = r.bytesN(length, 'DevicePath');
    const parts: string[] = [];
    let o = 0;
    // Each node is ≥ 4 bytes, so the loop advances on every iteration and ends within the path.
    while (o + 4 <= path.length) {
      const type = path[o]!;
      const subtype = path[o + 1]!;
      const nodeLength = path[o + 2]! | (path[o + 3]! << 8);
      if (nodeLength < 4 || o + nodeLength > path.length || type === END) break;
      if (type === MEDIA && subtype === FILE_PATH) {
        parts.push(utf16le(path.subarray(o + 4, o + nodeLength)).replace(/\0+$/, ''));
      }
      o += nodeLength;
    }
    return {
      imageLocationInMemory,
      imageLengthInMemory,
      path: parts.length > 0 ? parts.join('') : undefined,
    };
  } catch {
    return undefined;
  }
}
