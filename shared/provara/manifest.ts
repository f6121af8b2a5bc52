import { canonicalize, compareCodePoints } from './canonical-json.ts';
import { sha256Hex } from './digest.ts';
import { ProvaraError } from './errors.ts';
import { parseJsonBytes } from './json-parse.ts';
import { type JsonObject, stringField, toJson } from './json-value.ts';
import { type ManifestEntry, merkleRoot } from './merkle.ts';
import { pythonJsonIndent } from './python-json-indent.ts';
import type { Signer } from './signature-proof.ts';
import { prepareForSigner, signObject } from './signed-object.ts';
import type { VaultFiles } from './vault-files.ts';

/** Files the manifest never lists (`manifest_generator.py`): itself, its signature, the root, private keys. */
export const MANIFEST_EXCLUDED = new Set([
  'manifest.json',
  'manifest.sig',
  'merkle_root.txt',
  'identity/private_keys.json',
]);

export interface Manifest {
  entries: ManifestEntry[];
  doc: JsonObject;
}

/** Hashes every file of the vault, sorted by path in code-point order, as `manifest_generator.py` does. */
export async function scanManifestEntries(files: VaultFiles): Promise<ManifestEntry[]> {
  const paths = (await files.listFiles()).filter((p) => !MANIFEST_EXCLUDED.has(p)).sort(compareCodePoints);
  const out: ManifestEntry[] = [];
  for (const path of paths) {
    const data = (await files.read(path)) as Uint8Array;
    out.push({ path, sha256: await sha256Hex(data), size: data.length });
  }
  return out;
}

/**
 * Rewrites manifest.json (canonical JSON, no trailing newline) and merkle_root.txt (hex + "\n"). Like
 * Provara's `append`, it does not re-sign manifest.sig: that needs the root key, which may be a token.
 */
export async function writeManifest(files: VaultFiles, createdAt: string): Promise<string> {
  const entries = await scanManifestEntries(files);
  const doc = toJson({
    backpack_spec_version: '1.0',
    manifest_version: 'manifest.v0',
    created_at_utc: createdAt,
    file_count: entries.length,
    files: entries.map((e) => ({ path: e.path, sha256: e.sha256, size: BigInt(e.size) })),
  });
  const enc = new TextEncoder();
  await files.write('manifest.json', enc.encode(canonicalize(doc)));
  const root = await merkleRoot(entries);
  await files.write('merkle_root.txt', enc.encode(`${root}\n`));
  return root;
}

export function parseManifest(bytes: Uint8Array): Manifest {
  const doc = parseJsonBytes(bytes);
  const list = doc instanceof Map ? doc.get('files') : undefined;
  if (!(doc instanceof Map) || !Array.isArray(list)) {
    throw new ProvaraError('VAULT_FILE_INVALID', 'manifest.json has no files array');
  }
  const entries: ManifestEntry[] = [];
  for (const f of list) {
    const path = f instanceof Map ? stringField(f, 'path') : undefined;
    const sha = f instanceof Map ? stringField(f, 'sha256') : undefined;
    const size = f instanceof Map ? f.get('size') : undefined;
    if (path === undefined || sha === undefined || typeof size !== 'bigint') {
      throw new ProvaraError('VAULT_FILE_INVALID', 'a manifest entry lacks path, sha256 or an integer size');
    }
    entries.push({ path, sha256: sha, size });
  }
  return { entries, doc };
}

/**
 * Rewrites manifest.json and merkle_root.txt and signs the root into manifest.sig (`merkle_root`,
 * `key_id`, `spec_version`, `signed_at_utc`, then `sig`), as Provara's bootstrap does. Returns the root.
 */
export async function writeSignedManifest(
  files: VaultFiles,
  signer: Signer,
  signedAtUtc: string,
): Promise<string> {
  const root = await writeManifest(files, signedAtUtc);
  const sig = toJson({
    merkle_root: root,
    key_id: signer.keyId,
    spec_version: '1.0',
    signed_at_utc: signedAtUtc,
  }) as JsonObject;
  prepareForSigner(sig, signer);
  await signObject(sig, signer);
  await files.write('manifest.sig', new TextEncoder().encode(pythonJsonIndent(sig)));
  return root;
}
