import { HASH_ALGS, TPM_ALG } from '../constants.ts';
import { TpmError } from '../errors.ts';

/**
 * The digest algorithms an event log may carry, by TPM_ALG_ID. Banks are named as the rest of tpm2-ts
 * names them (`sha1`, `sha256`, …). Only the WebCrypto hashes can be replayed; a log may still declare
 * others (SM3, SHA-3) and parse, because the Spec ID event gives every digest's size.
 */
const OTHER_BANKS: Readonly<Record<number, { name: string; size: number }>> = {
  [TPM_ALG.SM3_256]: { name: 'sm3_256', size: 32 },
  [TPM_ALG.SHA3_256]: { name: 'sha3_256', size: 32 },
  [TPM_ALG.SHA3_384]: { name: 'sha3_384', size: 48 },
  [TPM_ALG.SHA3_512]: { name: 'sha3_512', size: 64 },
};

/** No TPM hash is longer than 64 bytes; a bigger declared size is a malformed Spec ID event. */
export const MAX_DIGEST_SIZE = 64;

/** The bank name of an algorithm id declared with `digestSize` in a Spec ID event. */
export function logBankName(algorithmId: number, digestSize: number): string {
  const known = HASH_ALGS[algorithmId] ?? OTHER_BANKS[algorithmId];
  if (known) {
    if (known.size !== digestSize) {
      throw new TpmError(
        'EVENT_LOG_INVALID',
        `Spec ID event: ${known.name} declared with digest size ${digestSize}, not ${known.size}`,
      );
    }
    return known.name;
  }
  if (digestSize < 1 || digestSize > MAX_DIGEST_SIZE) {
    throw new TpmError(
      'EVENT_LOG_INVALID',
      `Spec ID event: algorithm 0x${algorithmId.toString(16)} declared with digest size ${digestSize}`,
    );
  }
  return `alg_0x${algorithmId.toString(16).padStart(4, '0')}`;
}

/** The WebCrypto hash of a replayable bank, or undefined. */
export function bankHash(bank: string): 'SHA-1' | 'SHA-256' | 'SHA-384' | 'SHA-512' | undefined {
  for (const h of Object.values(HASH_ALGS)) if (h.name === bank) return h.webcrypto;
  return undefined;
}

/** The digest size of a replayable bank, or undefined. */
export function bankSize(bank: string): number | undefined {
  for (const h of Object.values(HASH_ALGS)) if (h.name === bank) return h.size;
  return undefined;
}

export async function digestOf(bank: string, data: Uint8Array): Promise<Uint8Array> {
  const hash = bankHash(bank);
  if (!hash) throw new TpmError('UNSUPPORTED_ALGORITHM', `bank ${bank} cannot be hashed with WebCrypto`);
  return new Uint8Array(await crypto.subtle.digest(hash, data as Uint8Array<ArrayBuffer>));
}
