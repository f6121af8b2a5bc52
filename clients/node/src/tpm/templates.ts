import { TPM_ALG, TPM_ECC, TPMA_OBJECT } from '../../../../shared/tpm2/constants.ts';
import type { EccPublic, RsaPublic, TpmtPublic } from '../../../../shared/tpm2/structures/public.ts';

/**
 * Key templates (TPMT_PUBLIC with empty or zero `unique`). The EK templates are the TCG EK Credential
 * Profile's defaults (template L-1 RSA-2048, L-2 ECC P-256): a TPM's EK certificate certifies the key those
 * exact templates produce, so a byte of difference gives a different key and a certificate that no longer
 * matches. The agent's own keys follow ATTESTATION.md §3.1 and the API's requirements.
 */

const A = TPMA_OBJECT;

/** PolicySecret(TPM_RH_ENDORSEMENT) under SHA-256: the default EK authPolicy (EK profile §B.3.3). */
export const EK_AUTH_POLICY = Uint8Array.from(
  '837197674484b3f81a90cc8d46a5d724fd52d76e06520b64f2a1da1b331469aa'
    .match(/../g)!
    .map((h) => parseInt(h, 16)),
);

/** fixedTPM|fixedParent|sensitiveDataOrigin|adminWithPolicy|restricted|decrypt = 0x000300b2. */
export const EK_ATTRIBUTES =
  A.fixedTPM | A.fixedParent | A.sensitiveDataOrigin | A.adminWithPolicy | A.restricted | A.decrypt;

const AES_128_CFB = { algorithm: TPM_ALG.AES, keyBits: 128, mode: TPM_ALG.CFB };
const NULL_SYM = { algorithm: TPM_ALG.NULL, keyBits: 0, mode: 0 };
const NULL_SCHEME = { scheme: TPM_ALG.NULL, hashAlg: TPM_ALG.NULL };

/** TCG default EK template L-1: RSA-2048, exponent 0 (65537), unique = 256 zero bytes. */
export function ekRsaTemplate(): RsaPublic {
  return {
    type: TPM_ALG.RSA,
    nameAlg: TPM_ALG.SHA256,
    objectAttributes: EK_ATTRIBUTES,
    authPolicy: EK_AUTH_POLICY,
    symmetric: AES_128_CFB,
    scheme: NULL_SCHEME,
    keyBits: 2048,
    exponent: 0,
    modulus: new Uint8Array(256),
  };
}

/** TCG default EK template L-2: ECC NIST P-256, unique = two 32-byte zero coordinates. */
export function ekEccTemplate(): EccPublic {
  return {
    type: TPM_ALG.ECC,
    nameAlg: TPM_ALG.SHA256,
    objectAttributes: EK_ATTRIBUTES,
    authPolicy: EK_AUTH_POLICY,
    symmetric: AES_128_CFB,
    scheme: NULL_SCHEME,
    curveId: TPM_ECC.NIST_P256,
    kdf: NULL_SCHEME,
    x: new Uint8Array(32),
    y: new Uint8Array(32),
  };
}

/**
 * The storage root key: an ECC P-256 restricted decryption key under the owner hierarchy (TCG TPM v2.0
 * Provisioning Guidance's SRK template: fixedTPM|fixedParent|sensitiveDataOrigin|userWithAuth|noDA|
 * restricted|decrypt, AES-128-CFB). The agent's keys are created under it.
 */
export function srkTemplate(): EccPublic {
  return {
    type: TPM_ALG.ECC,
    nameAlg: TPM_ALG.SHA256,
    objectAttributes:
      A.fixedTPM | A.fixedParent | A.sensitiveDataOrigin | A.userWithAuth | A.noDA | A.restricted | A.decrypt,
    authPolicy: new Uint8Array(0),
    symmetric: AES_128_CFB,
    scheme: NULL_SCHEME,
    curveId: TPM_ECC.NIST_P256,
    kdf: NULL_SCHEME,
    x: new Uint8Array(32),
    y: new Uint8Array(32),
  };
}

function eccSigningKey(objectAttributes: number): EccPublic {
  return {
    type: TPM_ALG.ECC,
    nameAlg: TPM_ALG.SHA256,
    objectAttributes,
    authPolicy: new Uint8Array(0),
    symmetric: NULL_SYM,
    scheme: { scheme: TPM_ALG.ECDSA, hashAlg: TPM_ALG.SHA256 },
    curveId: TPM_ECC.NIST_P256,
    kdf: NULL_SCHEME,
    x: new Uint8Array(0),
    y: new Uint8Array(0),
  };
}

/**
 * The attestation key: ECC P-256 ECDSA-SHA256, restricted signing (0x00050072), the attributes
 * `tpm2_createak` gives and the verifier requires. Restricted: the TPM refuses to sign with it any digest of
 * data that starts with TPM_GENERATED_VALUE unless it made that data itself — which is what makes quotes
 * unforgeable.
 */
export function akTemplate(): EccPublic {
  return eccSigningKey(
    A.fixedTPM | A.fixedParent | A.sensitiveDataOrigin | A.userWithAuth | A.restricted | A.sign,
  );
}

/**
 * The node key: ECC P-256 ECDSA-SHA256, an ordinary (non-restricted) signing key bound to this TPM
 * (0x00040072). It signs the verify challenges; its SPKI hash is the node id.
 */
export function nodeKeyTemplate(): EccPublic {
  return eccSigningKey(A.fixedTPM | A.fixedParent | A.sensitiveDataOrigin | A.userWithAuth | A.sign);
}

export type EkKind = 'rsa' | 'ecc';

export function ekTemplate(kind: EkKind): TpmtPublic {
  return kind === 'rsa' ? ekRsaTemplate() : ekEccTemplate();
}
