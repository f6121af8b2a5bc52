import { z } from 'zod';
import { Base64, InstallToken, NodeOs, PcrSelection, Tier, Timestamp } from './common.ts';

export const InstallConfigRequest = z
  .strictObject({ installToken: InstallToken })
  .meta({ id: 'InstallConfigRequest' });

export const Challenge = z.object({
  nonce: Base64.meta({ description: '32 random bytes; put them in the quote qualifying data' }),
  expiresAt: Timestamp,
});

export const InstallConfigResponse = z
  .object({
    tier: Tier,
    os: NodeOs,
    config: z.object({
      authApiUrl: z.string(),
      deploymentEngineUrl: z.string(),
      dockerRegistry: z.string(),
      dockerImage: z.string(),
      telemetryEndpoint: z.string(),
    }),
    challenge: Challenge,
    attestation: z.object({
      pcrSelection: PcrSelection,
      requireEkCertificate: z.boolean(),
    }),
  })
  .meta({ id: 'InstallConfigResponse' });
