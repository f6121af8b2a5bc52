import { z } from 'zod';
import { Base64, NodeId, PcrValues, Timestamp } from './common.ts';

export const HeartbeatAttestation = z.strictObject({
  nonce: Base64.meta({ description: 'the re-attestation nonce the previous heartbeat response carried' }),
  quote: Base64,
  signature: Base64,
  pcrValues: PcrValues,
  eventLog: Base64.optional(),
});

export const HeartbeatRequest = z
  .strictObject({
    nodeId: NodeId,
    jwtToken: z.string().optional().meta({ description: 'seed compatibility; prefer Authorization: Bearer' }),
    metrics: z
      .looseObject({
        uptime: z.number().min(0).optional(),
        cpu: z.number().min(0).max(100_000).optional(),
        memory: z.number().min(0).max(100_000).optional(),
        version: z.string().max(64).optional(),
      })
      .optional(),
    attestation: HeartbeatAttestation.optional(),
  })
  .meta({ id: 'HeartbeatRequest' });

export const HeartbeatResponse = z
  .object({
    acknowledged: z.literal(true),
    shouldUpdate: z.boolean(),
    targetVersion: z.string(),
    attestation: z.object({
      required: z.boolean(),
      nonce: Base64.optional(),
      deadline: Timestamp.optional(),
    }),
  })
  .meta({ id: 'HeartbeatResponse' });
