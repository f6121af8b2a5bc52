import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { fromBase64, toBase64 } from '../../../../shared/encoding/bytes.ts';
import { exportEd25519Seed, generateEd25519 } from '../../../../shared/provara/ed25519.ts';
import { ProvaraError } from '../../../../shared/provara/errors.ts';
import { keyIdFromPublicKey } from '../../../../shared/provara/key-id.ts';
import type { Signer } from '../../../../shared/provara/signature-proof.ts';
import { softwareSignerFromSeed } from '../../../../shared/provara/software-signer.ts';

/**
 * Software identities live OUTSIDE the vault, in a 0700 directory of 0600 files
 * (`$NODERR_PROVARA_KEY_DIR`, else `~/.config/noderr/provara/keys`). Provara's `init` writes
 * `identity/private_keys.json` into the vault by default, so whoever copies or syncs the vault gets the
 * signing key with it (PROVARA.md §7 item 8); we never do.
 */
export function keyDir(env: Readonly<Record<string, string | undefined>>): string {
  return (
    env.NODERR_PROVARA_KEY_DIR ??
    join(env.XDG_CONFIG_HOME ?? join(homedir(), '.config'), 'noderr', 'provara', 'keys')
  );
}

export async function createSoftwareIdentity(dir: string): Promise<Signer> {
  const kp = await generateEd25519(true);
  const seed = await exportEd25519Seed(kp.privateKey);
  const keyId = await keyIdFromPublicKey(kp.publicKey);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const file = join(dir, `${keyId}.json`);
  const doc = {
    key_id: keyId,
    algorithm: 'Ed25519',
    public_key_b64: toBase64(kp.publicKey),
    private_key_b64: toBase64(seed),
  };
  await writeFile(file, `${JSON.stringify(doc, null, 2)}\n`, { mode: 0o600, flag: 'wx' });
  await chmod(file, 0o600);
  seed.fill(0);
  return softwareSignerFromSeed(fromBase64(doc.private_key_b64) as Uint8Array);
}

export async function loadSoftwareIdentity(dir: string, keyId: string): Promise<Signer> {
  let text: string;
  try {
    text = await readFile(join(dir, `${keyId}.json`), 'utf8');
  } catch {
    throw new ProvaraError(
      'KEY_INVALID',
      `no software key ${keyId} in ${dir} (is it a hardware key? use --hardware-sign)`,
    );
  }
  // Not signed data, and our own file: plain JSON.parse is fine here.
  const seed = fromBase64((JSON.parse(text) as { private_key_b64?: string }).private_key_b64 ?? '');
  if (seed?.length !== 32) throw new ProvaraError('KEY_INVALID', `${keyId}.json holds no 32-byte seed`);
  const signer = await softwareSignerFromSeed(seed);
  if (signer.keyId !== keyId)
    throw new ProvaraError('KEY_INVALID', `${keyId}.json holds the key ${signer.keyId}`);
  return signer;
}
