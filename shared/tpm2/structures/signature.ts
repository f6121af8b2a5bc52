import { HASH_ALGS, TPM_ALG } from '../constants.ts';
import { ByteReader, ByteWriter } from '../cursor.ts';
import { TpmError } from '../errors.ts';

/**
 * `TPMT_SIGNATURE` (Part 2 §11.3.4): sigAlg, then `TPMU_SIGNATURE` selected by it. All members are parsed
 * so the codec is complete; verify-signature.ts decides which ones it accepts.
 */

export interface TpmsSignatureRsa {
  sigAlg: typeof TPM_ALG.RSASSA | typeof TPM_ALG.RSAPSS;
  hash: number;
  sig: Uint8Array;
}
export interface TpmsSignatureEcc {
  sigAlg: typeof TPM_ALG.ECDSA | typeof TPM_ALG.ECDAA | typeof TPM_ALG.SM2 | typeof TPM_ALG.ECSCHNORR;
  hash: number;
  r: Uint8Array;
  s: Uint8Array;
}
/** `TPMT_HA`: an HMAC signature is a digest of the hash's size, without a size prefix. */
export interface TpmsSignatureHmac {
  sigAlg: typeof TPM_ALG.HMAC;
  hash: number;
  digest: Uint8Array;
}
export interface TpmsSignatureNull {
  sigAlg: typeof TPM_ALG.NULL;
}

export type TpmtSignature = TpmsSignatureRsa | TpmsSignatureEcc | TpmsSignatureHmac | TpmsSignatureNull;

/** `MAX_RSA_KEY_BYTES` for RSA-4096. */
const MAX_RSA_SIG_BYTES = 512;
/** A generous `MAX_ECC_KEY_BYTES`. */
const MAX_ECC_SIG_BYTES = 128;

export function readSignature(r: ByteReader): TpmtSignature {
  const sigAlg = r.u16('sigAlg');
  switch (sigAlg) {
    case TPM_ALG.RSASSA:
    case TPM_ALG.RSAPSS:
      return { sigAlg, hash: r.u16('hash'), sig: r.tpm2b('sig', MAX_RSA_SIG_BYTES) };
    case TPM_ALG.ECDSA:
    case TPM_ALG.ECDAA:
    case TPM_ALG.SM2:
    case TPM_ALG.ECSCHNORR:
      return {
        sigAlg,
        hash: r.u16('hash'),
        r: r.tpm2b('signatureR', MAX_ECC_SIG_BYTES),
        s: r.tpm2b('signatureS', MAX_ECC_SIG_BYTES),
      };
    case TPM_ALG.HMAC: {
      const hash = r.u16('hash');
      const h = HASH_ALGS[hash];
      if (!h)
        throw new TpmError(
          'UNSUPPORTED_ALGORITHM',
          `TPMT_SIGNATURE: HMAC hash 0x${hash.toString(16)} is not supported`,
        );
      return { sigAlg, hash, digest: r.bytesN(h.size, 'digest') };
    }
    case TPM_ALG.NULL:
      return { sigAlg };
    default:
      throw new TpmError(
        'UNSUPPORTED_ALGORITHM',
        `TPMT_SIGNATURE: sigAlg 0x${sigAlg.toString(16)} is not a signature scheme`,
      );
  }
}

export function writeSignature(w: ByteWriter, sig: TpmtSignature): void {
  w.u16(sig.sigAlg);
  switch (sig.sigAlg) {
    case TPM_ALG.RSASSA:
    case TPM_ALG.RSAPSS:
      w.u16(sig.hash).tpm2b(sig.sig);
      return;
    case TPM_ALG.ECDSA:
    case TPM_ALG.ECDAA:
    case TPM_ALG.SM2:
    case TPM_ALG.ECSCHNORR:
      w.u16(sig.hash).tpm2b(sig.r).tpm2b(sig.s);
      return;
    case TPM_ALG.HMAC:
      w.u16(sig.hash).bytes(sig.digest);
      return;
    case TPM_ALG.NULL:
      return;
  }
}

/** Parses a TPMT_SIGNATURE (what `tpm2_quote -s` writes); trailing bytes are rejected. */
export function parseSignature(bytes: Uint8Array): TpmtSignature {
  const r = new ByteReader(bytes, 'TPMT_SIGNATURE');
  const sig = readSignature(r);
  r.end();
  return sig;
}

export function marshalSignature(sig: TpmtSignature): Uint8Array {
  const w = new ByteWriter();
  writeSignature(w, sig);
  return w.finish();
}
