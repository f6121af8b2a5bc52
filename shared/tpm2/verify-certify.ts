import { timingSafeEqual } from '../encoding/bytes.ts';
import { checkAkAttributes } from './ak.ts';
import { TPM_ST } from './constants.ts';
import { TpmError } from './errors.ts';
import { objectAttributeNames } from './object-attributes.ts';
import {
  parseAttest,
  type TpmsAttest,
  type TpmsCertifyInfo,
  type TpmsClockInfo,
} from './structures/attest.ts';
import { computeName, parsePublicAny, type TpmtPublic } from './structures/public.ts';
import { parseSignature, type TpmtSignature } from './structures/signature.ts';
import { type AttestSigner, type VerifiedSignature, verifyAttestSignature } from './verify-signature.ts';
import type { WebCryptoKey } from './webcrypto-types.ts';

/**
 * TPM2_Certify verification (ATTESTATION.md §3.8): a key certified by the AK. The attested Name commits to
 * the whole public area — attributes included — so once it matches `certifiedPublic`, the attributes
 * reported here are the TPM's word. Callers then apply their policy (requireNodeKeyAttributes).
 */

export interface VerifyCertifyInput {
  /**
   * The signer. A TPM public area (TPM2B_PUBLIC/TPMT_PUBLIC bytes or parsed) must be a restricted AK and binds
   * the signature scheme; a WebCrypto key (e.g. a WebAuthn AIK certificate's key) is trusted as given.
   */
  akPublic: TpmtPublic | Uint8Array | WebCryptoKey;
  /** The TPMS_ATTEST bytes exactly as signed. */
  certifyInfo: Uint8Array;
  signature: TpmtSignature | Uint8Array;
  /** The certified key's public area (TPM2B_PUBLIC/TPMT_PUBLIC bytes or parsed). */
  certifiedPublic: TpmtPublic | Uint8Array;
  /**
   * Expected qualifying data. Optional because tpm2-tools ≤ 5.4 cannot set it (API.md); without it the
   * certification is not fresh by itself, so callers must take freshness from a quote.
   */
  nonce?: Uint8Array;
}

export interface VerifiedCertify {
  attest: TpmsAttest<TpmsCertifyInfo>;
  certifiedPublic: TpmtPublic;
  certifiedName: Uint8Array;
  objectAttributes: number;
  /** TPMA_OBJECT names of the set bits, e.g. ['fixedTPM', 'fixedParent', …]. */
  attributes: string[];
  extraData: Uint8Array;
  clockInfo: TpmsClockInfo;
  firmwareVersion: bigint;
  signature: VerifiedSignature;
}

function asSigner(k: TpmtPublic | Uint8Array | WebCryptoKey): AttestSigner {
  if (k instanceof Uint8Array) return parsePublicAny(k);
  return k;
}

/**
 * Verifies a TPM2_Certify attestation. Throws TpmError with: MALFORMED_STRUCTURE, AK_ATTRIBUTES_INVALID,
 * UNSUPPORTED_ALGORITHM, SIGNATURE_SCHEME_MISMATCH, SIGNATURE_INVALID, BAD_MAGIC, WRONG_ATTEST_TYPE,
 * NONCE_MISMATCH (only when `nonce` is given) or NODE_KEY_NOT_CERTIFIED.
 *
 * @example
 * const c = await verifyCertify({ akPublic, certifyInfo, signature, certifiedPublic: publicArea });
 * requireNodeKeyAttributes(c.certifiedPublic);
 */
export async function verifyCertify(input: VerifyCertifyInput): Promise<VerifiedCertify> {
  const signer = asSigner(input.akPublic);
  const certifiedPublic =
    input.certifiedPublic instanceof Uint8Array
      ? parsePublicAny(input.certifiedPublic)
      : input.certifiedPublic;
  const signature = input.signature instanceof Uint8Array ? parseSignature(input.signature) : input.signature;
  if ('objectAttributes' in signer) checkAkAttributes(signer);
  const verified = await verifyAttestSignature(signer, input.certifyInfo, signature);

  const attest = parseAttest(input.certifyInfo);
  const info = attest.attested;
  if (info.type !== TPM_ST.ATTEST_CERTIFY) {
    throw new TpmError(
      'WRONG_ATTEST_TYPE',
      `TPMS_ATTEST type 0x${attest.type.toString(16)} is not TPM_ST_ATTEST_CERTIFY`,
    );
  }
  if (input.nonce !== undefined && !timingSafeEqual(attest.extraData, input.nonce)) {
    throw new TpmError('NONCE_MISMATCH', 'the certification extraData is not the expected nonce');
  }
  const certifiedName = await computeName(certifiedPublic);
  if (!timingSafeEqual(certifiedName, info.name)) {
    throw new TpmError(
      'NODE_KEY_NOT_CERTIFIED',
      'the certified Name is not the Name of the given public area',
    );
  }
  return {
    attest: attest as TpmsAttest<TpmsCertifyInfo>,
    certifiedPublic,
    certifiedName,
    objectAttributes: certifiedPublic.objectAttributes,
    attributes: objectAttributeNames(certifiedPublic.objectAttributes),
    extraData: attest.extraData,
    clockInfo: attest.clockInfo,
    firmwareVersion: attest.firmwareVersion,
    signature: verified,
  };
}
