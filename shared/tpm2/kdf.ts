import { concatBytes, utf8 } from '../encoding/bytes.ts';
import { HASH_ALGS } from './constants.ts';
import { TpmError } from './errors.ts';
import type { WebCryptoKey } from './webcrypto-types.ts';

/**
 * The two key derivation functions of TPM 2.0 Part 1 ("KDFa" and "KDFe", §11.4.10 in revision 1.59).
 * Every secret the TPM shares with a remote party (credential activation, import, salted sessions,
 * counter obfuscation) is stretched through one of them, so they must match the TPM bit for bit.
 */

type HashInfo = (typeof HASH_ALGS)[number];

function hashInfo(hashAlg: number): HashInfo {
  const info = HASH_ALGS[hashAlg];
  if (!info) {
    throw new TpmError(
      'UNSUPPORTED_ALGORITHM',
      `KDF hash algorithm 0x${hashAlg.toString(16).padStart(4, '0')}`,
    );
  }
  return info;
}

function checkBits(bits: number): void {
  // Zero bits is legal and yields no bytes (one reference vector asks for it). Part 1 bounds the output
  // by what a u32 bit count can name; we cap far lower (a KDF output is a key or a seed, never
  // megabytes) so a hostile length cannot make us loop for minutes.
  if (!Number.isInteger(bits) || bits < 0 || bits > 8 * 8192) {
    throw new TpmError('MALFORMED_STRUCTURE', `KDF output length ${bits} bits is out of range`);
  }
}

function u32(v: number): Uint8Array {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, v >>> 0);
  return b;
}

/** The label is a NUL-terminated string in the KDF input (Part 1: "label … including the terminating zero"). */
function labelBytes(label: string | Uint8Array): Uint8Array {
  const l = typeof label === 'string' ? utf8.encode(label) : label;
  // As the reference implementation (CryptKDFa): add the NUL only if the label does not already end
  // in one, so "IDENTITY" and "IDENTITY\0" derive the same key; an empty label becomes a single 0x00.
  return l.length > 0 && l[l.length - 1] === 0 ? l : concatBytes(l, Uint8Array.of(0));
}

/**
 * Truncates the concatenated blocks to ceil(bits/8) bytes and, for a bit count that is not a multiple
 * of 8, clears the unused HIGH bits of the FIRST byte: the TPM treats the output as a big-endian number
 * of `bits` bits (Part 1, KDFa: "the leftmost bits are masked").
 */
function truncate(blocks: Uint8Array, bits: number): Uint8Array {
  const out = blocks.slice(0, Math.ceil(bits / 8));
  const spare = bits % 8;
  if (spare !== 0 && out.length > 0) out[0] = (out[0] ?? 0) & ((1 << spare) - 1);
  return out;
}

/**
 * HMAC key import that accepts the empty key. WebCrypto refuses a zero-length HMAC key (DataError),
 * but the TPM uses one: KDFa with an empty seed appears in unsalted sessions and in 4 of the reference
 * vectors. HMAC (RFC 2104 / FIPS 198-1) zero-pads every key shorter than the hash block to the block
 * size before XOR-ing it with ipad/opad, so the empty key and the one-byte key 0x00 pad to the same
 * all-zero block and give identical MACs.
 */
async function importHmacKey(key: Uint8Array, hash: HashInfo['webcrypto']): Promise<WebCryptoKey> {
  const raw = key.length === 0 ? new Uint8Array(1) : key;
  return crypto.subtle.importKey('raw', raw as Uint8Array<ArrayBuffer>, { name: 'HMAC', hash }, false, [
    'sign',
  ]);
}

/**
 * KDFa: SP 800-108 KDF in counter mode with HMAC as the PRF (Part 1, "KDFa").
 * block_i = HMAC_hash(key, u32(i) ‖ label ‖ 0x00 ‖ contextU ‖ contextV ‖ u32(bits)), i = 1, 2, …
 *
 * @example
 * const symKey = await kdfa(TPM_ALG.SHA256, seed, 'STORAGE', akName, new Uint8Array(), 128);
 */
export async function kdfa(
  hashAlg: number,
  key: Uint8Array,
  label: string | Uint8Array,
  contextU: Uint8Array,
  contextV: Uint8Array,
  bits: number,
): Promise<Uint8Array> {
  const info = hashInfo(hashAlg);
  checkBits(bits);
  const hmacKey = await importHmacKey(key, info.webcrypto);
  const fixed = concatBytes(labelBytes(label), contextU, contextV, u32(bits));
  const blocks: Uint8Array[] = [];
  const n = Math.ceil(bits / 8 / info.size);
  for (let i = 1; i <= n; i++) {
    blocks.push(
      new Uint8Array(
        await crypto.subtle.sign('HMAC', hmacKey, concatBytes(u32(i), fixed) as Uint8Array<ArrayBuffer>),
      ),
    );
  }
  return truncate(concatBytes(...blocks), bits);
}

/**
 * KDFe: SP 800-56A concatenation KDF with a plain hash (Part 1, "KDFe"), used for ECC secret sharing.
 * block_i = H(u32(i) ‖ Z ‖ label ‖ 0x00 ‖ partyUInfo ‖ partyVInfo). Note the counter comes first and the
 * output length is NOT part of the input, unlike KDFa.
 *
 * @example
 * const seed = await kdfe(TPM_ALG.SHA256, zX, 'IDENTITY', ephemeralX, ekX, 256);
 */
export async function kdfe(
  hashAlg: number,
  z: Uint8Array,
  label: string | Uint8Array,
  partyUInfo: Uint8Array,
  partyVInfo: Uint8Array,
  bits: number,
): Promise<Uint8Array> {
  const info = hashInfo(hashAlg);
  checkBits(bits);
  const other = concatBytes(z, labelBytes(label), partyUInfo, partyVInfo);
  const blocks: Uint8Array[] = [];
  const n = Math.ceil(bits / 8 / info.size);
  for (let i = 1; i <= n; i++) {
    blocks.push(
      new Uint8Array(
        await crypto.subtle.digest(info.webcrypto, concatBytes(u32(i), other) as Uint8Array<ArrayBuffer>),
      ),
    );
  }
  return truncate(concatBytes(...blocks), bits);
}
