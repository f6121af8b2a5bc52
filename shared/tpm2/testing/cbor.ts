/**
 * A minimal CBOR (RFC 8949) decoder for test fixtures only: WebAuthn attestationObjects. Definite lengths,
 * major types 0-5 and the simple values false/true/null. Not used by production code.
 */
export type Cbor = number | bigint | string | boolean | null | Uint8Array | Cbor[] | Map<Cbor, Cbor>;

export function decodeCbor(bytes: Uint8Array): Cbor {
  let o = 0;
  const take = (n: number): Uint8Array => {
    const out = bytes.subarray(o, o + n);
    o += n;
    return out;
  };
  const arg = (info: number): number => {
    if (info < 24) return info;
    const width = info === 24 ? 1 : info === 25 ? 2 : info === 26 ? 4 : info === 27 ? 8 : 0;
    if (width === 0) throw new Error(`CBOR: unsupported additional info ${info}`);
    let v = 0;
    for (const x of take(width)) v = v * 256 + x;
    return v;
  };
  const item = (): Cbor => {
    const head = take(1)[0] ?? 0;
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
        return take(n).slice();
      case 3:
        return new TextDecoder().decode(take(n));
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
