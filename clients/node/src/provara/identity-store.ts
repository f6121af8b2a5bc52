import { chmod, mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { fromBase64, toBase64 } from '../../../../shared/encoding/bytes.ts';
import { exportEd25519Seed, generateEd25519 } from '../../../../shared/provara/ed25519.ts';
import { ProvaraError } from '../../../../shared/provara/errors.ts';
import { keyIdFromPublicKey } from '../../../../shared/provara/key-id.ts';
import type { CoseAlgorithm, Signer } from '../../../../shared/provara/signature-proof.ts';
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
  const doc = JSON.parse(text) as { private_key_b64?: string; kind?: string };
  if (doc.kind === 'fido2')
    throw new ProvaraError(
      'KEY_INVALID',
      `${keyId} is a FIDO2 credential: sign with --hardware-sign --fido2 DEVICE (or NODERR_FIDO2_DEVICE)`,
    );
  const seed = fromBase64(doc.private_key_b64 ?? '');
  if (seed?.length !== 32) throw new ProvaraError('KEY_INVALID', `${keyId}.json holds no 32-byte seed`);
  const signer = await softwareSignerFromSeed(seed);
  if (signer.keyId !== keyId)
    throw new ProvaraError('KEY_INVALID', `${keyId}.json holds the key ${signer.keyId}`);
  return signer;
}

/**
 * A FIDO2 credential made for a vault key: public data only (the private key never leaves the
 * authenticator), but kept beside the software keys — outside the vault, 0600 — keyed by its `bp1_` id,
 * because a non-resident credential cannot be found on the device again without its credential id.
 */
export interface Fido2Identity {
  keyId: string;
  rpId: string;
  alg: CoseAlgorithm;
  credentialId: Uint8Array;
  publicKey: Uint8Array;
}

interface Fido2Doc {
  key_id: string;
  kind: 'fido2';
  algorithm: 'Ed25519' | 'ES256';
  cose_alg: CoseAlgorithm;
  rp_id: string;
  credential_id_b64: string;
  public_key_b64: string;
}

export async function saveFido2Identity(
  dir: string,
  cred: { rpId: string; alg: CoseAlgorithm; credentialId: Uint8Array; publicKey: Uint8Array },
): Promise<Fido2Identity> {
  const keyId = await keyIdFromPublicKey(cred.publicKey);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const file = join(dir, `${keyId}.json`);
  const doc: Fido2Doc = {
    key_id: keyId,
    kind: 'fido2',
    algorithm: cred.alg === -8 ? 'Ed25519' : 'ES256',
    cose_alg: cred.alg,
    rp_id: cred.rpId,
    credential_id_b64: toBase64(cred.credentialId),
    public_key_b64: toBase64(cred.publicKey),
  };
  await writeFile(file, `${JSON.stringify(doc, null, 2)}\n`, { mode: 0o600, flag: 'wx' });
  await chmod(file, 0o600);
  return { keyId, ...cred };
}

function fido2From(text: string, file: string): Fido2Identity | undefined {
  let doc: Partial<Fido2Doc>;
  try {
    doc = JSON.parse(text) as Partial<Fido2Doc>;
  } catch {
    throw new ProvaraError('KEY_INVALID', `${file} is not JSON`);
  }
  if (doc.kind !== 'fido2') return undefined;
  const credentialId = fromBase64(doc.credential_id_b64 ?? '');
  const publicKey = fromBase64(doc.public_key_b64 ?? '');
  const alg = doc.cose_alg;
  if (
    !doc.key_id ||
    !doc.rp_id ||
    (alg !== -8 && alg !== -7) ||
    !credentialId?.length ||
    publicKey?.length !== (alg === -8 ? 32 : 65)
  )
    throw new ProvaraError('KEY_INVALID', `${file} is not a valid FIDO2 credential record`);
  return { keyId: doc.key_id, rpId: doc.rp_id, alg, credentialId, publicKey };
}

export async function loadFido2Identity(dir: string, keyId: string): Promise<Fido2Identity> {
  const file = join(dir, `${keyId}.json`);
  const text = await readFile(file, 'utf8').catch(() => undefined);
  const id = text === undefined ? undefined : fido2From(text, file);
  if (!id)
    throw new ProvaraError(
      'KEY_INVALID',
      `no FIDO2 credential ${keyId} in ${dir} (make one with init --hardware-sign --fido2 DEVICE)`,
    );
  if ((await keyIdFromPublicKey(id.publicKey)) !== keyId)
    throw new ProvaraError('KEY_INVALID', `${keyId}.json holds the key of another id`);
  return id;
}

export async function listFido2Identities(dir: string): Promise<Fido2Identity[]> {
  const names = await readdir(dir).catch(() => [] as string[]);
  const out: Fido2Identity[] = [];
  for (const n of names.filter((x) => /^bp1_[0-9a-f]{16}\.json$/.test(x)).sort()) {
    const id = fido2From(await readFile(join(dir, n), 'utf8'), join(dir, n));
    if (id) out.push(id);
  }
  return out;
}
