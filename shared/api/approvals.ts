import { z } from 'zod';
import { Timestamp } from './common.ts';

/**
 * Administrator security keys (WebAuthn) and the approval quorum for actions that weaken security
 * (issue 12). WebAuthn JSON shapes (options, responses) are the W3C `…JSON` forms browsers produce with
 * `PublicKeyCredential.toJSON()`; the API checks them with @simplewebauthn/server, so they are passed
 * through loosely here.
 */
export const WebAuthnJson = z.looseObject({}).meta({
  id: 'WebAuthnJson',
  description: 'A W3C WebAuthn JSON object (options or a PublicKeyCredential.toJSON()).',
});

export const SecurityKey = z
  .object({
    id: z.string().uuid(),
    adminUserId: z.string().uuid(),
    adminLabel: z.string(),
    credentialId: z.string(),
    keyId: z.string().meta({ description: 'Provara bp1_ id of the raw public key' }),
    algorithm: z.number().int().meta({ description: 'COSE algorithm: -8 EdDSA, -7 ES256' }),
    label: z.string(),
    status: z.enum(['active', 'pending', 'revoked']),
    createdAt: Timestamp,
    lastUsedAt: Timestamp.nullable(),
  })
  .meta({ id: 'SecurityKey' });

export const SecurityKeyList = z.object({ items: z.array(SecurityKey) }).meta({ id: 'SecurityKeyList' });

export const RegistrationOptionsResponse = z
  .object({ options: WebAuthnJson, expiresAt: Timestamp })
  .meta({ id: 'SecurityKeyRegistrationOptions' });

export const EnrolSecurityKeyRequest = z
  .strictObject({ label: z.string().min(1).max(200), response: WebAuthnJson })
  .meta({ id: 'EnrolSecurityKeyRequest' });

export const PendingActionKind = z.enum([
  'node.reactivate',
  'policy.relax',
  'ek_anchor.add',
  'admin_credential.activate',
  'session_key.activate',
]);

export const ActionApprovalView = z
  .object({
    adminUserId: z.string(),
    adminLabel: z.string().nullable(),
    credentialId: z.string(),
    approvedAt: Timestamp,
  })
  .meta({ id: 'ActionApproval' });

export const PendingActionView = z
  .object({
    id: z.string().uuid(),
    kind: PendingActionKind,
    params: z.record(z.string(), z.unknown()),
    statement: z.string().meta({ description: 'Canonical JSON statement of the action' }),
    digest: z.string().meta({ description: 'SHA-256 hex of statement' }),
    challenge: z
      .string()
      .meta({ description: 'The WebAuthn challenge approvers sign: base64url of the 32 digest bytes' }),
    threshold: z.number().int(),
    requestedBy: z.string(),
    status: z.enum(['pending', 'executed', 'expired']),
    result: z.record(z.string(), z.unknown()).nullable(),
    createdAt: Timestamp,
    expiresAt: Timestamp,
    executedAt: Timestamp.nullable(),
    approvals: z.array(ActionApprovalView),
  })
  .meta({
    id: 'PendingAction',
    description:
      'A weakening action waiting for `threshold` approvals from distinct administrators’ security keys. Each approval is a WebAuthn assertion whose challenge is `challenge` (= the digest of `statement`).',
  });

export const PendingActionList = z
  .object({ items: z.array(PendingActionView) })
  .meta({ id: 'PendingActionList' });

export const ActionWithOptions = z
  .object({ action: PendingActionView, assertionOptions: WebAuthnJson })
  .meta({ id: 'PendingActionWithAssertionOptions' });

export const ApproveActionRequest = z
  .strictObject({ response: WebAuthnJson })
  .meta({ id: 'ApproveActionRequest' });

export const ApproveActionResponse = z
  .object({
    action: PendingActionView,
    counted: z
      .boolean()
      .meta({ description: 'false when this administrator had already approved (one admin counts once)' }),
  })
  .meta({ id: 'ApproveActionResponse' });

export const EnrolSecurityKeyResponse = z
  .object({ key: SecurityKey, action: PendingActionView.nullable() })
  .meta({ id: 'EnrolSecurityKeyResponse' });
