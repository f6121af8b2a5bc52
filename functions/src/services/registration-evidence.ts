import type { z } from 'zod';
import type { RegistrationAttestation } from '../../../shared/api/registration.ts';
import { fromBase64, toHex } from '../../../shared/encoding/bytes.ts';
import { TPM_ALG, TPM_ECC } from '../../../shared/tpm2/constants.ts';
import {
  type EkCertificateInfo,
  type TrustStore,
  verifyEkCertificate,
} from '../../../shared/tpm2/ek-certificate.ts';
import { TpmError } from '../../../shared/tpm2/errors.ts';
import { requireNodeKeyAttributes } from '../../../shared/tpm2/node-key.ts';
import { publicKeyToSpki, spkiFromPem } from '../../../shared/tpm2/public-key-spki.ts';
import type { TpmsClockInfo } from '../../../shared/tpm2/structures/attest.ts';
import { computeName, parsePublicAny, type TpmtPublic } from '../../../shared/tpm2/structures/public.ts';
import { verifyCertify } from '../../../shared/tpm2/verify-certify.ts';
import { verifyQuote } from '../../../shared/tpm2/verify-quote.ts';
import type { AttestationPolicy, PcrValues } from '../storage/types.ts';
import { judgeEventLog } from './measured-boot.ts';
import { judgePcrs, requirePolicySelection, selectedValues } from './pcr-policy.ts';
import { sha256Hex } from './secrets.ts';

/**
 * Everything a registration must prove, checked in the order of design/ARCHITECTURE.md: the EK
 * certificate chain (required or optional by tier), EK public = certificate key, AK attributes, the
 * quote (signature, nonce, PCR digest), the tier's PCR policy, the node key certified by the AK with
 * fixedTPM / non-restricted signing, and `publicKey` = the certified key. Pure: the caller supplies the
 * policy, the trust store and the expected nonce; the result is what the database needs.
 */
export interface VerifiedRegistration {
  nodeId: string;
  ekPublic: TpmtPublic;
  ekFingerprint: string;
  ekCertificate: EkCertificateInfo | null;
  akPublicBase64: string;
  akName: Uint8Array;
  pcrBaseline: PcrValues;
  clockInfo: TpmsClockInfo;
  firmwareVersion: bigint;
}

function bytes(b64: string, field: string): Uint8Array {
  const b = fromBase64(b64);
  if (!b) throw new TpmError('MALFORMED_STRUCTURE', `${field} is not standard base64`);
  return b;
}

export async function verifyRegistrationEvidence(input: {
  attestation: z.infer<typeof RegistrationAttestation>;
  publicKeyPem: string;
  nonce: Uint8Array;
  policy: AttestationPolicy;
  trustStore: TrustStore;
  now?: Date;
}): Promise<VerifiedRegistration> {
  const a = input.attestation;
  const ekPublic = parsePublicAny(bytes(a.ekPublic, 'ekPublic'));
  const akBytes = bytes(a.akPublic, 'akPublic');
  const akPublic = parsePublicAny(akBytes);

  let ekCertificate: EkCertificateInfo | null = null;
  if (a.ekCertificate) {
    ekCertificate = await verifyEkCertificate({
      certificate: bytes(a.ekCertificate, 'ekCertificate'),
      ekPublic,
      trustAnchors: input.trustStore,
      ...(input.now ? { now: input.now } : {}),
    });
  } else if (input.policy.requireEkCertificate) {
    throw new TpmError(
      'EK_CERT_REQUIRED',
      "this tier requires the TPM's EK certificate; read it from NV (0x01c00002 RSA, 0x01c0000a ECC) and send it as ekCertificate",
    );
  }

  const quote = await verifyQuote({
    akPublic,
    quote: bytes(a.quote, 'quote'),
    signature: bytes(a.signature, 'signature'),
    pcrValues: a.pcrValues,
    nonce: input.nonce,
  });
  requirePolicySelection(input.policy.pcrSelection, quote.pcrSelection);
  const pcrBaseline = selectedValues(input.policy.pcrSelection, quote.pcrs);
  judgePcrs(input.policy, pcrBaseline, null);
  await judgeEventLog(input.policy, a.eventLog, quote.pcrs);

  const cert = a.nodeKeyCertification;
  const certified = await verifyCertify({
    akPublic,
    certifyInfo: bytes(cert.certifyInfo, 'nodeKeyCertification.certifyInfo'),
    signature: bytes(cert.signature, 'nodeKeyCertification.signature'),
    certifiedPublic: bytes(cert.publicArea, 'nodeKeyCertification.publicArea'),
  });
  const nodeKey = certified.certifiedPublic;
  requireNodeKeyAttributes(nodeKey);
  if (nodeKey.type !== TPM_ALG.ECC || nodeKey.curveId !== TPM_ECC.NIST_P256) {
    throw new TpmError('NODE_KEY_ATTRIBUTES_INVALID', 'the node key must be an ECC P-256 signing key');
  }
  const certifiedSpki = await publicKeyToSpki(nodeKey);
  let claimedSpki: Uint8Array;
  try {
    claimedSpki = spkiFromPem(input.publicKeyPem);
  } catch {
    throw new TpmError('NODE_KEY_MISMATCH', 'publicKey is not a readable SPKI PEM');
  }
  if (toHex(certifiedSpki) !== toHex(claimedSpki)) {
    throw new TpmError(
      'NODE_KEY_MISMATCH',
      'publicKey is not the key the TPM certified; send the certified node key',
    );
  }

  return {
    nodeId: `0x${await sha256Hex(certifiedSpki)}`,
    ekPublic,
    // The EK is identified by its public key (SPKI), so the same TPM matches however its public area
    // was marshalled (TPM2B or not, unique padding) and the fingerprint equals the certificate key's.
    ekFingerprint: await sha256Hex(await publicKeyToSpki(ekPublic)),
    ekCertificate,
    akPublicBase64: a.akPublic,
    akName: await computeName(akPublic),
    pcrBaseline,
    clockInfo: quote.clockInfo,
    firmwareVersion: quote.firmwareVersion,
  };
}
