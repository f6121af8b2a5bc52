/**
 * A minimal CBOR (RFC 8949) decoder for test fixtures only: WebAuthn attestationObjects. Definite lengths,
 * major types 0-5 and the simple values false/true/null. Not used by production code.
 */
export type Cbor = number | bigint | string | boolean | null | Uint8Array | Cbor[] | Map<Cbor, Cbor>;

export function decodeCbor(bytes: Uint8Array): Cbor {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let o = 0;
  const arg = (info: number): number => {
    if (info < 24) return info;
    if (info === 24) return view.getUint8(o++);
    if (info === 25) return ((o += 2), view.getUint16(o - 2));
    if (info === 26) return ((o += 4), view.getUint32(o - 4));
    if (info === 27) return ((o += 8), Number(view.getBigUint64(o - 8)));
    throw new Error(`CBOR: unsupported additional info ${info}`);
  };
  const item = (): Cbor => {
    const head = view.getUint8(o++);
    const major = head >> 5;
    const info = head & 0x1f;
    if (major === 7) {
      if (info === 20) return false;
      if (info === 21) return true;
      if (info === 22) return null;
      throw new Error(`CBOR: unsupported simple value ${info}`);
    }
    const n = arg(info);
    switch (major) {
      case 0:
        return n;
      case 1:
        return -1 - n;
      case 2:
        return ((o += n), bytes.slice(o - n, o));
      case 3:
        return ((o += n), new TextDecoder().decode(bytes.subarray(o - n, o)));
      case 4:
        return Array.from({ length: n }, item);
      default: {
        const m = new Map<Cbor, Cbor>();
        for (let i = 0; i < n; i++) {
          const k = item();
          m.set(k, item());
        }
        return m;
      }
    }
  };
  return item();
}
