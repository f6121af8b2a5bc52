import { ed25519Sign, generateEd25519, importEd25519Seed } from './ed25519.ts';
import { keyIdFromPublicKey } from './key-id.ts';
import type { Signer } from './signature-proof.ts';

/** A software Ed25519 key as a Signer: what `provara init` without `--hardware-sign` uses, and session keys. */
export async function softwareSigner(privateKey: CryptoKey, publicKey: Uint8Array): Promise<Signer> {
  const keyId = await keyIdFromPublicKey(publicKey);
  return {
    keyId,
    publicKey,
    algorithm: 'Ed25519',
    format: 'ed25519',
    sign: async (message) => ({ format: 'ed25519', signature: await ed25519Sign(privateKey, message) }),
  };
}

export async function softwareSignerFromSeed(seed: Uint8Array): Promise<Signer> {
  const kp = await importEd25519Seed(seed);
  return softwareSigner(kp.privateKey, kp.publicKey);
}

/** A fresh, non-extractable software key: its private half can never be written anywhere. */
export async function ephemeralSigner(): Promise<Signer> {
  const kp = await generateEd25519(false);
  return softwareSigner(kp.privateKey, kp.publicKey);
}
