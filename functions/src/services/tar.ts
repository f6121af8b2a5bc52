/**
 * A minimal POSIX ustar writer and reader: the audit export is a tar of the vault directory, which any
 * `tar -xf` unpacks. Only what the export needs: regular files and directories, paths under 100 bytes,
 * mtime fixed by the caller.
 */
export interface TarEntry {
  path: string;
  /** Undefined for a directory. */
  data?: Uint8Array;
}

const enc = new TextEncoder();
const BLOCK = 512;

function field(h: Uint8Array, offset: number, length: number, value: string): void {
  const b = enc.encode(value);
  if (b.length > length) throw new RangeError(`tar field too long: ${value}`);
  h.set(b, offset);
}

function octal(n: number, width: number): string {
  return `${n.toString(8).padStart(width - 1, '0')}\0`;
}

export function writeTar(entries: readonly TarEntry[], mtimeSeconds: number): Uint8Array {
  const parts: Uint8Array[] = [];
  for (const e of entries) {
    const isDir = e.data === undefined;
    const name = isDir && !e.path.endsWith('/') ? `${e.path}/` : e.path;
    if (enc.encode(name).length > 99) throw new RangeError(`tar path too long: ${name}`);
    const size = e.data?.length ?? 0;
    const h = new Uint8Array(BLOCK);
    field(h, 0, 100, name);
    field(h, 100, 8, octal(isDir ? 0o755 : 0o644, 8));
    field(h, 108, 8, octal(0, 8));
    field(h, 116, 8, octal(0, 8));
    field(h, 124, 12, octal(size, 12));
    field(h, 136, 12, octal(mtimeSeconds, 12));
    field(h, 148, 8, '        ');
    field(h, 156, 1, isDir ? '5' : '0');
    field(h, 257, 6, 'ustar\0');
    field(h, 263, 2, '00');
    let sum = 0;
    for (const x of h) sum += x;
    field(h, 148, 8, `${sum.toString(8).padStart(6, '0')}\0 `);
    parts.push(h);
    if (e.data) {
      parts.push(e.data);
      const pad = (BLOCK - (size % BLOCK)) % BLOCK;
      if (pad) parts.push(new Uint8Array(pad));
    }
  }
  parts.push(new Uint8Array(BLOCK * 2));
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** Reads what writeTar writes (regular files and directories; checksums verified). */
export function readTar(tar: Uint8Array): TarEntry[] {
  const dec = new TextDecoder();
  const text = (b: Uint8Array) => dec.decode(b.subarray(0, b.indexOf(0) < 0 ? b.length : b.indexOf(0)));
  const out: TarEntry[] = [];
  let at = 0;
  while (at + BLOCK <= tar.length) {
    const h = tar.subarray(at, at + BLOCK);
    if (h.every((x) => x === 0)) break;
    let sum = 0;
    for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 32 : (h[i] ?? 0);
    if (Number.parseInt(text(h.subarray(148, 156)).trim(), 8) !== sum)
      throw new Error(`bad tar checksum at ${at}`);
    const name = text(h.subarray(0, 100));
    const size = Number.parseInt(text(h.subarray(124, 136)).trim() || '0', 8);
    const type = String.fromCharCode(h[156] ?? 0);
    at += BLOCK;
    if (type === '5') out.push({ path: name.replace(/\/$/, '') });
    else out.push({ path: name, data: tar.slice(at, at + size) });
    at += Math.ceil(size / BLOCK) * BLOCK;
  }
  return out;
}
