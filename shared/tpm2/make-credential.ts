import { concatBytes } from '../encoding/bytes.ts';
import { aesCfbEncrypt } from './aes-cfb.ts';
import { TPM_ALG, TPMA_OBJECT } from './constants.ts';
import { ByteWriter } from './cursor.ts';
import { TpmError } from './errors.ts';
import { kdfa } from './kdf.ts';
import type { RandomSource } from './secret-sharing.ts';
import { shareSecret, systemRandom } from './secret-sharing.ts';
import type { TpmtPublic, TpmtSymDefObject } from './structures/public.ts';
import { hashAlgorithm } from './structures/public.ts';
import { marshalDigest, marshalEncryptedSecret, marshalIdObject } from './structures/tpm2b.ts';

export type { RandomSource } from './secret-sharing.ts';

/**
 * TPM2_MakeCredential in software (TPM 2.0 Part 1 §24 "Credential Protection", Part 3 §12.6).
 *
 * The verifier encrypts a secret so that a TPM can only recover it with TPM2_ActivateCredential if it
 * holds BOTH the EK (which decrypts the seed) and a loaded object whose Name is `objectName` (the AK:
 * the Name feeds the KDF and the outer HMAC). Recovering the secret therefore proves that the AK lives
 * in the same TPM as the EK, which is what makes an AK trustworthy once the EK is.
 *
 * All keys derive from the EK's nameAlg and symmetric definition, never the AK's: that is what the TPM
 * uses when it unwraps. (Legacy go-tpm used the AK nameAlg, which only worked because both were SHA-256.)
 */

export interface MakeCredentialInput {
  /** The EK public area (a restricted decryption key: RSA-2048+ with OAEP, or ECC P-256/384/521). */
  ekPublic: TpmtPublic;
  /** Name of the object the credential is bound to (nameAlg ‖ H(TPMT_PUBLIC) of the AK). */
  objectName: Uint8Array;
  /** The credential; at most the EK nameAlg digest size (TPM2B_DIGEST inside a TPM2B_ID_OBJECT). */
  secret: Uint8Array;
  /** Randomness for the seed / ephemeral key; injectable for deterministic tests. */
  random?: RandomSource;
}

export interface MakeCredentialOutput {
  /** TPM2B_ID_OBJECT: u16 size ‖ TPM2B_DIGEST(integrityHMAC) ‖ encIdentity. */
  credentialBlob: Uint8Array;
  /** TPM2B_ENCRYPTED_SECRET: u16 size ‖ (RSA-OAEP ciphertext | TPMS_ECC_POINT). */
  encryptedSecret: Uint8Array;
}

export interface WrapCredentialInput {
  /** The EK nameAlg: hash of both KDFa calls and of the outer HMAC. */
  nameAlg: number;
  /** The EK symmetric definition (AES-128-CFB for the default templates). */
  symmetric: TpmtSymDefObject;
  seed: Uint8Array;
  objectName: Uint8Array;
  secret: Uint8Array;
}

/** TPM2_MakeCredential labels (Part 1 §24.4: secret sharing "IDENTITY", then "STORAGE" and "INTEGRITY"). */
const IDENTITY = 'IDENTITY';
const STORAGE = 'STORAGE';
const INTEGRITY = 'INTEGRITY';

/**
 * The "outer wrap" of a credential under a seed (Part 1 §24.4-24.5), separated from the secret sharing
 * so it can be checked against vectors that fix the seed:
 * symKey = KDFa(nameAlg, seed, "STORAGE", name, ∅, keyBits); encIdentity = AES-CFB(symKey, IV = 0,
 * TPM2B_DIGEST(secret)); hmacKey = KDFa(nameAlg, seed, "INTEGRITY", ∅, ∅, digestBits);
 * integrity = HMAC(hmacKey, encIdentity ‖ name). The IV is zero because the key is single-use (it is
 * derived from a fresh seed and the Name), so no IV is transmitted.
 */
export async function wrapCredential(input: WrapCredentialInput): Promise<Uint8Array> {
  const { nameAlg, symmetric, seed, objectName, secret } = input;
  const digest = hashAlgorithm(nameAlg, 'EK nameAlg');
  if (symmetric.algorithm !== TPM_ALG.AES || symmetric.mode !== TPM_ALG.CFB) {
    throw new TpmError(
      'UNSUPPORTED_ALGORITHM',
      `EK symmetric definition 0x${symmetric.algorithm.toString(16)}/0x${symmetric.mode.toString(16)} is not AES-CFB`,
    );
  }
  if (symmetric.keyBits !== 128 && symmetric.keyBits !== 192 && symmetric.keyBits !== 256) {
    throw new TpmError(
      'UNSUPPORTED_ALGORITHM',
      `EK symmetric key size ${symmetric.keyBits} bits is not an AES size`,
    );
  }
  // The TPM unwraps the credential into a TPM2B_DIGEST of the EK nameAlg: a longer secret would be
  // refused at activation (TPM_RC_SIZE), so refuse it here rather than issue an unusable challenge.
  if (secret.length === 0 || secret.length > digest.size) {
    throw new TpmError(
      'MALFORMED_STRUCTURE',
      `credential of ${secret.length} bytes (1..${digest.size} allowed)`,
    );
  }
  if (objectName.length < 2 || objectName.length > 2 + 64) {
    throw new TpmError('MALFORMED_STRUCTURE', `object Name of ${objectName.length} bytes`);
  }
  const empty = new Uint8Array();
  const symKey = await kdfa(nameAlg, seed, STORAGE, objectName, empty, symmetric.keyBits);
  const encIdentity = await aesCfbEncrypt(symKey, new Uint8Array(16), marshalDigest(secret));
  const hmacKey = await kdfa(nameAlg, seed, INTEGRITY, empty, empty, digest.size * 8);
  const key = await crypto.subtle.importKey(
    'raw',
    hmacKey as Uint8Array<ArrayBuffer>,
    { name: 'HMAC', hash: digest.webcrypto },
    false,
    ['sign'],
  );
  const integrity = new Uint8Array(
    await crypto.subtle.sign('HMAC', key, concatBytes(encIdentity, objectName) as Uint8Array<ArrayBuffer>),
  );
  // encIdentity carries no size of its own: its length is inside the ciphertext (Part 1 §24.5).
  return marshalIdObject(concatBytes(marshalDigest(integrity), encIdentity));
}

/**
 * TPM2_MakeCredential for an RSA or ECC EK. The EK must be a restricted decryption key, as the TPM
 * requires for the keyHandle of TPM2_ActivateCredential (else the TPM answers TPM_RC_ATTRIBUTES).
 *
 * @example
 * const challenge = crypto.getRandomValues(new Uint8Array(32));
 * const { credentialBlob, encryptedSecret } = await makeCredential({ ekPublic, objectName: akName, secret: challenge });
 */
export async function makeCredential(input: MakeCredentialInput): Promise<MakeCredentialOutput> {
  const { ekPublic, objectName, secret, random = systemRandom } = input;
  const restrictedDecrypt = TPMA_OBJECT.restricted | TPMA_OBJECT.decrypt;
  if ((ekPublic.objectAttributes & restrictedDecrypt) !== restrictedDecrypt) {
    // Not a usable kind of key (the TPM itself answers TPM_RC_TYPE), hence UNSUPPORTED_ALGORITHM.
    throw new TpmError('UNSUPPORTED_ALGORITHM', 'the EK must be a restricted decryption key');
  }
  const shared = await shareSecret(ekPublic, IDENTITY, random);
  const credentialBlob = await wrapCredential({
    nameAlg: ekPublic.nameAlg,
    symmetric: ekPublic.symmetric,
    seed: shared.seed,
    objectName,
    secret,
  });
  return { credentialBlob, encryptedSecret: marshalEncryptedSecret(shared.encryptedSecret) };
}

/** tpm2-tools' credential file header: magic and version (`tpm2_makecredential -o`, read by `-i`). */
const TPM2_TOOLS_CREDENTIAL_MAGIC = 0xbadcc0de;
const TPM2_TOOLS_CREDENTIAL_VERSION = 1;

/**
 * The file `tpm2_activatecredential -i` reads (tpm2-tools 5.x `files_save_credential`):
 * u32be 0xBADCC0DE ‖ u32be 1 ‖ TPM2B_ID_OBJECT ‖ TPM2B_ENCRYPTED_SECRET (both with their size prefixes).
 */
export function marshalTpm2ToolsCredential(
  credentialBlob: Uint8Array,
  encryptedSecret: Uint8Array,
): Uint8Array {
  return new ByteWriter()
    .u32(TPM2_TOOLS_CREDENTIAL_MAGIC)
    .u32(TPM2_TOOLS_CREDENTIAL_VERSION)
    .bytes(credentialBlob)
    .bytes(encryptedSecret)
    .finish();
}
