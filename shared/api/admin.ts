import { z } from 'zod';
import { NodeId, NodeOs, NodeStatus, PcrBank, PcrSelection, Tier, Timestamp } from './common.ts';
import { EventLogRules } from './eventlog-policy.ts';

export const IssueInstallTokenRequest = z
  .strictObject({
    applicationId: z.string().uuid(),
    tier: Tier,
    os: NodeOs,
    expiresInDays: z.number().int().min(1).max(7).default(7),
  })
  .meta({ id: 'IssueInstallTokenRequest' });

export const IssueInstallTokenResponse = z
  .object({ id: z.string().uuid(), token: z.string(), tier: Tier, os: NodeOs, expiresAt: Timestamp })
  .meta({ id: 'IssueInstallTokenResponse' });

export const InstallTokenStatus = z.enum(['active', 'used', 'revoked', 'expired']);

export const InstallTokenItem = z
  .object({
    id: z.string().uuid(),
    applicationId: z.string().uuid(),
    tier: Tier,
    os: NodeOs,
    status: InstallTokenStatus,
    createdAt: Timestamp,
    expiresAt: Timestamp,
    usedAt: Timestamp.nullable(),
    usedByNode: NodeId.nullable(),
    revokedAt: Timestamp.nullable(),
  })
  .meta({ id: 'InstallToken' });

export const InstallTokenList = z
  .object({ items: z.array(InstallTokenItem) })
  .meta({ id: 'InstallTokenList' });
export const InstallTokenListQuery = z.object({ status: InstallTokenStatus.optional() });

export const NodeItem = z
  .object({
    nodeId: NodeId,
    tier: Tier,
    os: NodeOs,
    status: NodeStatus,
    lastSeen: Timestamp.nullable(),
    lastAttestedAt: Timestamp.nullable(),
    attestationDueAt: Timestamp.nullable(),
    createdAt: Timestamp,
    ekFingerprint: z.string(),
  })
  .meta({ id: 'Node' });

export const NodeList = z.object({ items: z.array(NodeItem) }).meta({ id: 'NodeList' });
export const NodeListQuery = z.object({ status: NodeStatus.optional() });

export const SetNodeStatusRequest = z
  .strictObject({ status: NodeStatus, reason: z.string().min(1).max(500) })
  .meta({ id: 'SetNodeStatusRequest' });

export const PcrMode = z.enum(['baseline', 'allowlist', 'none']);

export const AttestationPolicy = z
  .strictObject({
    requireEkCertificate: z.boolean(),
    pcrSelection: PcrSelection,
    pcrMode: PcrMode,
    allowedPcrValues: z
      .partialRecord(
        PcrBank,
        z.record(z.string().regex(/^(?:[0-9]|1[0-9]|2[0-3])$/), z.array(z.string().regex(/^[0-9a-f]+$/))),
      )
      .default({}),
    reattestationIntervalSeconds: z
      .number()
      .int()
      .min(60)
      .max(30 * 24 * 3600),
    sessionTtlSeconds: z.number().int().min(60).max(3600),
    eventLogRules: EventLogRules.nullable().optional().meta({
      description:
        'Measured-boot rules (extension of API.md): when set, registration and re-attestation must send eventLog, which must replay to the quoted PCRs and satisfy every rule (PCR_POLICY_VIOLATION names the failing rule in details.rule). Omitted or null: none.',
    }),
  })
  .meta({ id: 'AttestationPolicy' });

export const EkAnchorItem = z
  .object({
    id: z.string().uuid(),
    label: z.string(),
    subject: z.string(),
    fingerprint: z.string(),
    createdAt: Timestamp,
  })
  .meta({ id: 'EkAnchor' });
export const EkAnchorList = z.object({ items: z.array(EkAnchorItem) }).meta({ id: 'EkAnchorList' });
export const AddEkAnchorRequest = z
  .strictObject({
    label: z.string().min(1).max(200),
    pem: z
      .string()
      .max(16_384)
      .regex(/-----BEGIN CERTIFICATE-----/, 'must be a PEM certificate'),
  })
  .meta({ id: 'AddEkAnchorRequest' });

/**
 * A tier's policy as `GET|PUT /admin/policies/{tier}` return it: the stored policy plus its tier, grace
 * period, version and update time. Not strict (unlike the request), so a field the API adds later does
 * not break older clients. No registry id: the Worker's route registers its own for OpenAPI.
 */
export const AttestationPolicyView = z.object({
  ...AttestationPolicy.shape,
  tier: Tier,
  reattestationGraceSeconds: z.number().int(),
  version: z.number().int(),
  updatedAt: Timestamp,
});
