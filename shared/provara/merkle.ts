import { concatBytes, toHex } from '../encoding/bytes.ts';
import { canonicalBytes } from './canonical-json.ts';
import { sha256 } from './digest.ts';
import { toJson } from './json-value.ts';

export interface ManifestEntry {
  path: string;
  sha256: string;
  size: number | bigint;
}

/**
 * Provara's Merkle root over manifest entries (`backpack_integrity.merkle_root_hex`): leaf =
 * SHA-256(canonical {path, sha256, size}); parent = SHA-256(left ‖ right) over raw 32-byte digests; an odd
 * node pairs with itself; no leaves → SHA-256(""). Entry strings are hashed verbatim — the upstream vector
 * `merkle_root_01` has a 63-char hash with an uppercase F and must not be normalized.
 */
export async function merkleRoot(entries: readonly ManifestEntry[]): Promise<string> {
  if (entries.length === 0) return toHex(await sha256(new Uint8Array(0)));
  let level = await Promise.all(
    entries.map((e) =>
      sha256(canonicalBytes(toJson({ path: e.path, sha256: e.sha256, size: BigInt(e.size) }))),
    ),
  );
  while (level.length > 1) {
    const next: Promise<Uint8Array>[] = [];
    for (let i = 0; i < level.length; i += 2) {
      const left = level[i] as Uint8Array;
      const right = level[i + 1] ?? left;
      next.push(sha256(concatBytes(left, right)));
    }
    level = await Promise.all(next);
  }
  return toHex(level[0] as Uint8Array);
}
