import { randomBytes } from 'node:crypto';

/**
 * ECDSA P-256 over a caller-supplied 32-byte digest. The ATECC signs and verifies a 32-byte *message* as
 * an already-computed digest (MASTR.md §3.1); Node's crypto always hashes first, so this one case is done
 * here with affine arithmetic on bigints. Slow (tens of ms) and not constant-time: it only serves the
 * emulator's faithfulness to that firmware quirk, which no current flow uses.
 */

const P = 0xffffffff00000001000000000000000000000000ffffffffffffffffffffffffn;
const N = 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n;
const A = P - 3n;
const G: Point = {
  x: 0x6b17d1f2e12c4247f8bce6e563a440f277037d812deb33a0f4a13945d898c296n,
  y: 0x4fe342e2fe1a7f9b8ee7eb4a7c0f9e162bce33576b315ececbb6406837bf51f5n,
};

interface Point {
  x: bigint;
  y: bigint;
}

const mod = (a: bigint, m: bigint) => ((a % m) + m) % m;

function inv(a: bigint, m: bigint): bigint {
  let [r0, r1] = [mod(a, m), m];
  let [s0, s1] = [1n, 0n];
  while (r1 !== 0n) {
    const q = r0 / r1;
    [r0, r1] = [r1, r0 - q * r1];
    [s0, s1] = [s1, s0 - q * s1];
  }
  return mod(s0, m);
}

function add(p: Point | null, q: Point | null): Point | null {
  if (!p) return q;
  if (!q) return p;
  if (p.x === q.x) {
    if (mod(p.y + q.y, P) === 0n) return null;
    const l = mod((3n * p.x * p.x + A) * inv(2n * p.y, P), P);
    const x = mod(l * l - 2n * p.x, P);
    return { x, y: mod(l * (p.x - x) - p.y, P) };
  }
  const l = mod((q.y - p.y) * inv(q.x - p.x, P), P);
  const x = mod(l * l - p.x - q.x, P);
  return { x, y: mod(l * (p.x - x) - p.y, P) };
}

function mul(k: bigint, p: Point): Point | null {
  let r: Point | null = null;
  let q: Point | null = p;
  for (let e = k; e > 0n; e >>= 1n) {
    if (e & 1n) r = add(r, q);
    q = add(q, q);
  }
  return r;
}

const toBig = (b: Uint8Array) => BigInt(`0x${Buffer.from(b).toString('hex') || '0'}`);
const to32 = (v: bigint) => Uint8Array.from(Buffer.from(v.toString(16).padStart(64, '0'), 'hex'));

/** r ‖ s over `digest` (32 bytes) with the private scalar `d` (32 bytes). */
export function signPrehashed(d: Uint8Array, digest: Uint8Array): Uint8Array {
  const e = toBig(digest);
  const priv = toBig(d);
  for (;;) {
    const k = mod(toBig(randomBytes(40)), N - 1n) + 1n;
    const R = mul(k, G);
    if (!R) continue;
    const r = mod(R.x, N);
    if (r === 0n) continue;
    const s = mod(inv(k, N) * (e + r * priv), N);
    if (s === 0n) continue;
    const out = new Uint8Array(64);
    out.set(to32(r), 0);
    out.set(to32(s), 32);
    return out;
  }
}

/** Verifies r ‖ s over `digest` with the public key `X ‖ Y` (64 bytes). */
export function verifyPrehashed(pub: Uint8Array, digest: Uint8Array, sig: Uint8Array): boolean {
  if (pub.length !== 64 || sig.length !== 64 || digest.length !== 32) return false;
  const r = toBig(sig.subarray(0, 32));
  const s = toBig(sig.subarray(32));
  if (r <= 0n || r >= N || s <= 0n || s >= N) return false;
  const Q = { x: toBig(pub.subarray(0, 32)), y: toBig(pub.subarray(32)) };
  const w = inv(s, N);
  const X = add(mul(mod(toBig(digest) * w, N), G), mul(mod(r * w, N), Q));
  return X !== null && mod(X.x, N) === r;
}
