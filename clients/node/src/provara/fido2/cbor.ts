import { ProvaraError } from '../../../../../shared/provara/errors.ts';

/**
 * The CBOR subset CTAP2 uses (CTAP 2.1 §8 "CTAP2 canonical CBOR encoding"): unsigned and negative ints,
 * byte and text strings, arrays, maps, booleans, null. Definite lengths only, shortest heads, map keys
 * sorted bytewise by their encoding. The decoder is strict — indefinite lengths, non-shortest heads,
 * floats, tags and trailing bytes are refused — because authenticator data is parsed from untrusted devices.
 */
export type CborValue = number | bigint | Uint8Array | string | boolean | null | CborValue[] | CborMap;
export type CborMap = Map<number | string, CborValue>;

function head(major: number, n: number | bigint): number[] {
  const v = BigInt(n);
  const m = major << 5;
  if (v < 24n) return [m | Number(v)];
  if (v < 0x100n) return [m | 24, Number(v)];
  if (v < 0x10000n) return [m | 25, Number(v >> 8n), Number(v & 0xffn)];
  if (v < 0x100000000n) return [m | 26, ...[24n, 16n, 8n, 0n].map((s) => Number((v >> s) & 0xffn))];
  return [m | 27, ...[56n, 48n, 40n, 32n, 24n, 16n, 8n, 0n].map((s) => Number((v >> s) & 0xffn))];
}

export function cborEncode(v: CborValue): Uint8Array {
  const out: number[] = [];
  const enc = (x: CborValue): void => {
    if (x === null) out.push(0xf6);
    else if (x === true) out.push(0xf5);
    else if (x === false) out.push(0xf4);
    else if (typeof x === 'number' || typeof x === 'bigint') {
      if (typeof x === 'number' && !Number.isSafeInteger(x))
        throw new ProvaraError('CBOR_INVALID', 'only integers are encoded');
      const b = BigInt(x);
      out.push(...(b >= 0n ? head(0, b) : head(1, -1n - b)));
    } else if (x instanceof Uint8Array) {
      out.push(...head(2, x.length), ...x);
    } else if (typeof x === 'string') {
      const b = new TextEncoder().encode(x);
      out.push(...head(3, b.length), ...b);
    } else if (Array.isArray(x)) {
      out.push(...head(4, x.length));
      for (const e of x) enc(e);
    } else {
      const entries = [...x].map(([k, val]) => [cborEncode(k), cborEncode(val)] as const);
      entries.sort(([a], [b]) => compareBytes(a, b));
      out.push(...head(5, entries.length));
      for (const [k, val] of entries) out.push(...k, ...val);
    }
  };
  enc(v);
  return Uint8Array.from(out);
}

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  if (a.length !== b.length) return a.length - b.length;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return (a[i] as number) - (b[i] as number);
  return 0;
}

/** Decodes one item; with `allowTrailing` returns where it ended (COSE keys inside authenticator data). */
export function cborDecode(bytes: Uint8Array, allowTrailing = false): { value: CborValue; end: number } {
  let i = 0;
  const fail = (m: string): never => {
    throw new ProvaraError('CBOR_INVALID', `${m} at byte ${i}`);
  };
  const byte = () => (i < bytes.length ? (bytes[i++] as number) : fail('truncated'));
  const arg = (info: number): bigint => {
    if (info < 24) return BigInt(info);
    const n =
      info === 24
        ? 1
        : info === 25
          ? 2
          : info === 26
            ? 4
            : info === 27
              ? 8
              : fail('indefinite or reserved length');
    let v = 0n;
    for (let k = 0; k < (n as number); k++) v = (v << 8n) | BigInt(byte());
    const min = info === 24 ? 24n : info === 25 ? 0x100n : info === 26 ? 0x10000n : 0x100000000n;
    if (v < min) fail('non-shortest integer encoding');
    return v;
  };
  const len = (info: number): number => {
    const v = arg(info);
    if (v > BigInt(bytes.length - i)) fail('length beyond the data');
    return Number(v);
  };
  const item = (depth: number): CborValue => {
    if (depth > 16) fail('nesting too deep');
    const b = byte();
    const major = b >> 5;
    const info = b & 0x1f;
    switch (major) {
      case 0: {
        const v = arg(info);
        return v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
      }
      case 1: {
        const v = -1n - arg(info);
        return v >= BigInt(Number.MIN_SAFE_INTEGER) ? Number(v) : v;
      }
      case 2: {
        const n = len(info);
        i += n;
        return bytes.slice(i - n, i);
      }
      case 3: {
        const n = len(info);
        i += n;
        try {
          return new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(i - n, i));
        } catch {
          return fail('invalid UTF-8 text');
        }
      }
      case 4: {
        const n = len(info);
        return Array.from({ length: n }, () => item(depth + 1));
      }
      case 5: {
        const n = len(info);
        const m: CborMap = new Map();
        for (let k = 0; k < n; k++) {
          const key = item(depth + 1);
          if (typeof key !== 'number' && typeof key !== 'string') fail('map key is not an int or text');
          if (m.has(key as number | string)) fail('duplicate map key');
          m.set(key as number | string, item(depth + 1));
        }
        return m;
      }
      case 7:
        if (b === 0xf4) return false;
        if (b === 0xf5) return true;
        if (b === 0xf6) return null;
        return fail('floats and simple values are not used by CTAP2');
      default:
        return fail('tags are not used by CTAP2');
    }
  };
  const value = item(0);
  if (!allowTrailing && i !== bytes.length) fail('trailing bytes');
  return { value, end: i };
}
