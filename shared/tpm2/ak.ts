import { TPM_ALG, TPMA_OBJECT } from './constants.ts';
import { TpmError } from './errors.ts';
import { requireAttributes } from './object-attributes.ts';
import { eccCurve, hashAlgorithm, rsaModulusBits, type TpmtPublic } from './structures/public.ts';

/**
 * What makes a key an Attestation Key (ATTESTATION.md §3.8, go-attestation `CheckAKParameters`):
 * `restricted` + `sign` is what makes quotes unforgeable — a restricted signing key refuses to sign data
 * that starts with TPM_GENERATED_VALUE unless the TPM produced it itself (TPM2_Sign of a forged TPMS_ATTEST
 * is refused; go-attestation PR #112). fixedTPM/fixedParent/sensitiveDataOrigin say the private key was
 * generated in, and can never leave, this TPM.
 */
export const AK_REQUIRED_ATTRIBUTES =
  TPMA_OBJECT.fixedTPM |
  TPMA_OBJECT.fixedParent |
  TPMA_OBJECT.sensitiveDataOrigin |
  TPMA_OBJECT.restricted |
  TPMA_OBJECT.sign;

/** A restricted decryption key is a storage key, not a signer. */
export const AK_FORBIDDEN_ATTRIBUTES = TPMA_OBJECT.decrypt;

/**
 * Throws AK_ATTRIBUTES_INVALID unless `ak` is a restricted signing key bound to its TPM, and
 * UNSUPPORTED_ALGORITHM unless it is RSA ≥ 2048 or ECC P-256/384/521 with a non-anonymous scheme
 * (ECDAA empties qualifiedSigner and extraData, ATTESTATION.md §3.3), with a nameAlg we can hash: the AK is
 * known by its Name (credential activation binds it), so a Name we cannot compute is an AK we cannot pin.
 */
export function checkAkAttributes(ak: TpmtPublic): void {
  requireAttributes(ak.objectAttributes, {
    required: AK_REQUIRED_ATTRIBUTES,
    forbidden: AK_FORBIDDEN_ATTRIBUTES,
    reason: 'AK_ATTRIBUTES_INVALID',
    what: 'AK',
  });
  hashAlgorithm(ak.nameAlg, 'AK nameAlg');
  if (ak.type === TPM_ALG.RSA) {
    rsaModulusBits(ak);
    if (
      ak.scheme.scheme !== TPM_ALG.RSASSA &&
      ak.scheme.scheme !== TPM_ALG.RSAPSS &&
      ak.scheme.scheme !== TPM_ALG.NULL
    ) {
      throw new TpmError(
        'UNSUPPORTED_ALGORITHM',
        `AK scheme 0x${ak.scheme.scheme.toString(16)} is not RSASSA or RSAPSS`,
      );
    }
  } else {
    eccCurve(ak);
    if (ak.scheme.scheme !== TPM_ALG.ECDSA && ak.scheme.scheme !== TPM_ALG.NULL) {
      throw new TpmError(
        'UNSUPPORTED_ALGORITHM',
        `AK scheme 0x${ak.scheme.scheme.toString(16)} is not ECDSA`,
      );
    }
  }
}
