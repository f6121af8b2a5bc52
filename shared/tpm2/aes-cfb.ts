import { TpmError } from './errors.ts';
import type { WebCryptoKey } from './webcrypto-types.ts';

/**
 * AES in CFB mode with a full 128-bit feedback (CFB-128, NIST SP 800-38A §6.3), the symmetric mode of
 * the default EK templates and of every TPM "outer wrap" (credential blobs, duplication, parameter
 * encryption). TPM 2.0 Part 1 uses it without padding: the ciphertext is exactly as long as the text.
 *
 * WebCrypto has no CFB, and a Worker has nothing else. The building block CFB needs is the raw block
 * cipher E_K on one block; AES-CTR supplies it: encrypting a block P under AES-CTR with a 128-bit counter
 * field whose initial value is C gives P XOR E_K(C) (a single block never increments the counter). That
 * is exactly one CFB step, C_i = P_i XOR E_K(C_{i-1}) with C_0 = IV, and a short final block just
 * truncates the keystream as CFB does. Checked against the NIST SP 800-38A CFB128-AES128 example, go-tpm's
 * MakeCredential output, and TPM2_ActivateCredential on swtpm (make-credential*.test.ts).
 */

const BLOCK = 16;

async function importAesKey(key: Uint8Array): Promise<WebCryptoKey> {
  if (key.length !== 16 && key.length !== 24 && key.length !== 32) {
    throw new TpmError('UNSUPPORTED_ALGORITHM', `AES key of ${key.length * 8} bits (need 128, 192 or 256)`);
  }
  return crypto.subtle.importKey('raw', key as Uint8Array<ArrayBuffer>, 'AES-CTR', false, ['encrypt']);
}

function checkIv(iv: Uint8Array): void {
  if (iv.length !== BLOCK)
    throw new TpmError('MALFORMED_STRUCTURE', `AES-CFB IV of ${iv.length} bytes (need 16)`);
}

/** P XOR E_K(feedback), for up to one block of P. */
async function cfbStep(key: WebCryptoKey, feedback: Uint8Array, text: Uint8Array): Promise<Uint8Array> {
  const counter = feedback.slice() as Uint8Array<ArrayBuffer>;
  const out = await crypto.subtle.encrypt({ name: 'AES-CTR', counter, length: 128 }, key, text.slice());
  return new Uint8Array(out);
}

/** AES-CFB-128 encryption; output length = input length. */
export async function aesCfbEncrypt(
  key: Uint8Array,
  iv: Uint8Array,
  plaintext: Uint8Array,
): Promise<Uint8Array> {
  checkIv(iv);
  const k = await importAesKey(key);
  const out = new Uint8Array(plaintext.length);
  let feedback = iv;
  for (let o = 0; o < plaintext.length; o += BLOCK) {
    const c = await cfbStep(k, feedback, plaintext.subarray(o, o + BLOCK));
    out.set(c, o);
    feedback = c;
  }
  return out;
}

/**
 * AES-CFB-128 decryption. Each block's keystream depends only on the previous *ciphertext* block, so
 * all blocks are independent and run in parallel.
 */
export async function aesCfbDecrypt(
  key: Uint8Array,
  iv: Uint8Array,
  ciphertext: Uint8Array,
): Promise<Uint8Array> {
  checkIv(iv);
  const k = await importAesKey(key);
  const steps: Promise<Uint8Array>[] = [];
  for (let o = 0; o < ciphertext.length; o += BLOCK) {
    const feedback = o === 0 ? iv : ciphertext.subarray(o - BLOCK, o);
    steps.push(cfbStep(k, feedback, ciphertext.subarray(o, o + BLOCK)));
  }
  const out = new Uint8Array(ciphertext.length);
  (await Promise.all(steps)).forEach((p, i) => {
    out.set(p, i * BLOCK);
  });
  return out;
}
