import { z } from 'zod';
import { ActionApprovalView } from './approvals.ts';
import { Timestamp } from './common.ts';

/**
 * Node-session signing keys under the approval quorum: the keys of the Worker secret NODE_JWT_KEYS as
 * the database records their approval. Only the active key signs; JWKS publishes the active and the
 * previously active key.
 */
export const SessionKeyView = z
  .object({
    kid: z.string(),
    thumbprint: z.string().meta({ description: 'RFC 7638 SHA-256 thumbprint of the public key, base64url' }),
    publicJwk: z.record(z.string(), z.unknown()).meta({ description: 'The public JWK (ES256)' }),
    status: z.enum(['pending', 'active', 'retired']).meta({
      description:
        'pending: in NODE_JWT_KEYS, not approved, never signs; active: signs (at most one); retired: replaced (the newest retired key stays published as the previous key)',
    }),
    inSecret: z.boolean().meta({
      description:
        'NODE_JWT_KEYS holds this kid with this very key (a kid whose key differs from the approved thumbprint counts as absent and is never used)',
    }),
    signing: z.boolean().meta({ description: 'This Worker signs new sessions with it' }),
    published: z.boolean().meta({ description: 'In /.well-known/jwks.json and accepted on heartbeats' }),
    firstSeenAt: Timestamp,
    approvedAt: Timestamp.nullable().meta({ description: 'When it was activated' }),
    retiredAt: Timestamp.nullable(),
    activationMode: z.enum(['auto', 'single_admin', 'quorum']).nullable().meta({
      description:
        'auto: first key on first use while the quorum was not in force; single_admin: bootstrap; quorum: a session_key.activate action',
    }),
    activatedBy: z.string().nullable(),
    actionId: z.string().uuid().nullable(),
    approvals: z.array(ActionApprovalView),
  })
  .meta({ id: 'SessionKey' });

export const SessionKeyList = z
  .object({
    items: z.array(SessionKeyView).meta({ description: 'Newest first' }),
    cacheSeconds: z
      .number()
      .int()
      .meta({ description: 'How long each Worker isolate may keep using the key state it read (seconds)' }),
  })
  .meta({ id: 'SessionKeyList' });
