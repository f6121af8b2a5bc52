import { z } from 'zod';
import { ApiKey, Base64, InstallToken, NodeId, PcrValues, SpkiPem, Timestamp } from './common.ts';

/** The TPM evidence of a registration; structures travel as the TPM marshals them, base64-encoded. */
export const RegistrationAttestation = z.strictObject({
  nonce: Base64.meta({ description: 'the challenge nonce from install/config' }),
  ekPublic: Base64.meta({ description: 'TPM2B_PUBLIC of the endorsement key' }),
  ekCertificate: Base64.meta({
    description: 'EK certificate, DER (optional unless the tier requires it)',
  }).optional(),
  akPublic: Base64.meta({ description: 'TPM2B_PUBLIC of the attestation key (restricted signing)' }),
  quote: Base64.meta({ description: 'TPMS_ATTEST (or TPM2B_ATTEST) of TPM2_Quote over the nonce' }),
  signature: Base64.meta({ description: 'TPMT_SIGNATURE of the quote by the AK' }),
  pcrValues: PcrValues,
  nodeKeyCertification: z.strictObject({
    publicArea: Base64.meta({ description: 'TPM2B_PUBLIC of the node key' }),
    certifyInfo: Base64.meta({ description: 'TPMS_ATTEST of TPM2_Certify(node key, AK)' }),
    signature: Base64.meta({ description: 'TPMT_SIGNATURE of certifyInfo by the AK' }),
  }),
  eventLog: Base64.meta({ description: 'TCG event log (optional)' }).optional(),
});

export const SystemInfo = z
  .looseObject({
    hostname: z.string().max(255).optional(),
    cpuCores: z.number().int().min(0).max(100_000).optional(),
    memoryGB: z.number().min(0).max(1_000_000).optional(),
    diskGB: z.number().min(0).max(1_000_000_000).optional(),
    os: z.string().max(255).optional(),
  })
  .meta({ description: 'Informational; stored with the node.' });

export const RegisterRequest = z
  .strictObject({
    installToken: InstallToken,
    publicKey: SpkiPem.meta({
      description: 'the node key (ECC P-256), SPKI PEM; must be the TPM-certified key',
    }),
    attestation: RegistrationAttestation,
    systemInfo: SystemInfo.optional(),
  })
  .meta({ id: 'RegisterRequest' });

export const RegisterResponse = z
  .object({
    status: z.literal('activation_required'),
    activationId: z.string().uuid(),
    credentialBlob: Base64.meta({ description: 'TPM2B_ID_OBJECT for TPM2_ActivateCredential' }),
    encryptedSecret: Base64.meta({ description: 'TPM2B_ENCRYPTED_SECRET for TPM2_ActivateCredential' }),
    expiresAt: Timestamp,
  })
  .meta({ id: 'RegisterResponse' });

export const ActivateRequest = z
  .strictObject({
    activationId: z.string().uuid(),
    secret: Base64.meta({ description: 'the secret TPM2_ActivateCredential recovered' }),
  })
  .meta({ id: 'ActivateRequest' });

export const ActivateResponse = z
  .object({
    nodeId: NodeId,
    apiKey: ApiKey,
    jwtToken: z.string(),
    expiresAt: Timestamp,
    status: z.literal('registered'),
  })
  .meta({ id: 'ActivateResponse' });
