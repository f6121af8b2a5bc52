import { z } from 'zod';
import { ApiKey, Base64, NodeId, Timestamp } from './common.ts';

export const NodeChallengeRequest = z.strictObject({ nodeId: NodeId }).meta({ id: 'NodeChallengeRequest' });
export const NodeChallengeResponse = z
  .object({ nonce: Base64, expiresAt: Timestamp })
  .meta({ id: 'NodeChallengeResponse' });

/** The bytes a node signs to open a session: "noderr-verify-v1:" ‖ nodeId ‖ ":" ‖ nonce. */
export const VERIFY_SIGNATURE_PREFIX = 'noderr-verify-v1:';

export const VerifyRequest = z
  .strictObject({
    nodeId: NodeId,
    apiKey: ApiKey,
    challenge: Base64.meta({ description: 'the nonce from auth/challenge' }),
    signature: Base64.meta({
      description:
        'ECDSA P-256/SHA-256 over "noderr-verify-v1:" ‖ nodeId ‖ ":" ‖ nonce bytes, as TPMT_SIGNATURE or DER ECDSA-Sig-Value',
    }),
  })
  .meta({ id: 'VerifyRequest' });

export const VerifyResponse = z
  .object({ jwtToken: z.string(), expiresAt: Timestamp, status: z.literal('verified') })
  .meta({ id: 'VerifyResponse' });
