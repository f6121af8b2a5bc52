import type { z } from 'zod';
import type {
  AddEkAnchorRequest,
  AttestationPolicy,
  AttestationPolicyView,
  EkAnchorItem,
  InstallTokenItem,
  InstallTokenStatus,
  IssueInstallTokenRequest,
  IssueInstallTokenResponse,
  NodeItem,
  PcrMode,
  SetNodeStatusRequest,
} from '../../../shared/api/admin.ts';
import type { PendingActionView, SecurityKey } from '../../../shared/api/approvals.ts';
import type { NodeOs, NodeStatus, Tier } from '../../../shared/api/common.ts';
import type { SessionKeyView } from '../../../shared/api/session-keys.ts';

/*
 * The SDK's request and response types, inferred from the zod schemas the Worker validates with
 * (shared/api), so the two cannot drift. Inputs use the schemas' input side (defaults optional).
 */

export type TierName = z.output<typeof Tier>;
export type NodeOsName = z.output<typeof NodeOs>;
export type NodeStatusName = z.output<typeof NodeStatus>;
export type InstallTokenStatusName = z.output<typeof InstallTokenStatus>;
export type PcrModeName = z.output<typeof PcrMode>;

/** `installTokens.issue` input; `expiresInDays` defaults to 7. */
export type IssueInstallTokenInput = z.input<typeof IssueInstallTokenRequest>;
/** `installTokens.issue` result: the only time the token value is ever shown. */
export type IssuedInstallToken = z.output<typeof IssueInstallTokenResponse>;
/** An install token as listed (never its value). */
export type InstallToken = z.output<typeof InstallTokenItem>;

/** A registered node as listed. */
export type FleetNode = z.output<typeof NodeItem>;
export type SetNodeStatusInput = z.input<typeof SetNodeStatusRequest>;

/** `policies.put` input; `allowedPcrValues` defaults to `{}`. */
export type AttestationPolicyInput = z.input<typeof AttestationPolicy>;
/** A tier's policy as stored: the input fields plus tier, grace period, version and update time. */
export type TierPolicy = z.output<typeof AttestationPolicyView>;

export type EkAnchor = z.output<typeof EkAnchorItem>;
export type AddEkAnchorInput = z.input<typeof AddEkAnchorRequest>;

/**
 * A weakening action (reactivation, policy relaxation, new EK anchor, further admin key) waiting for
 * approvals from `threshold` distinct administrators' security keys. Returned instead of the result
 * when the approval quorum is in force.
 */
export type PendingAction = z.output<typeof PendingActionView>;
/** An administrator's enrolled FIDO2 security key. */
export type AdminSecurityKey = z.output<typeof SecurityKey>;

/** A node-session signing key and its approval (`sessionKeys.list`, `sessionKeys.activate`). */
export type SessionKey = z.output<typeof SessionKeyView>;
