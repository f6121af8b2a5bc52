/**
 * Inputs and outputs of the storage port (port.ts), in the API's domain terms. Secrets never appear
 * here in clear: the Worker hashes tokens, API keys, nonces and activation secrets (SHA-256, lowercase
 * hex) before they reach storage. Times are RFC 3339 UTC strings (`Date.prototype.toISOString`).
 */

import type { EventLogRulesBody as EventLogRules } from '../../../shared/api/eventlog-policy.ts';

export type Tier = 'ALL' | 'ORACLE' | 'GUARDIAN';
export type NodeOs = 'linux' | 'windows';
export type NodeStatus = 'active' | 'suspended' | 'revoked';
export type InstallTokenStatus = 'active' | 'used' | 'revoked' | 'expired';
export type ChallengePurpose = 'install' | 'session' | 'reattestation';
export type PcrMode = 'baseline' | 'allowlist' | 'none';
export type PcrBank = 'sha1' | 'sha256' | 'sha384' | 'sha512';

/** SHA-256 digest as 64 lowercase hex digits. */
export type Sha256Hex = string;
/** RFC 3339 UTC timestamp. */
export type Timestamp = string;

/** Bank → PCR indexes, e.g. `{ sha256: [0, 1, 2] }`. */
export type PcrSelection = Partial<Record<PcrBank, number[]>>;
/** Bank → PCR index (decimal string) → digest hex. */
export type PcrValues = Partial<Record<PcrBank, Record<string, string>>>;
/** Bank → PCR index → allowed digests (pcrMode `allowlist`). */
export type AllowedPcrValues = Partial<Record<PcrBank, Record<string, string[]>>>;

/** TPMS_CLOCK_INFO of a quote; `clock` is milliseconds (fits a JS number for 285,000 years). */
export interface ClockInfo {
  clock: number;
  resetCount: number;
  restartCount: number;
  safe: boolean;
}

export interface InstallTokenRecord {
  id: string;
  applicationId: string;
  tier: Tier;
  os: NodeOs;
  status: InstallTokenStatus;
  usedAt: Timestamp | null;
  usedByNode: string | null;
  revokedAt: Timestamp | null;
  createdBy: string | null;
  createdAt: Timestamp;
  expiresAt: Timestamp;
}

export interface IssueInstallTokenInput {
  tokenHash: Sha256Hex;
  applicationId: string;
  tier: Tier;
  os: NodeOs;
  /** 1..7. */
  expiresInDays: number;
  /** Admin user id or email, for the audit trail. */
  actor: string;
}

export interface BeginInstallInput {
  tokenHash: Sha256Hex;
  nonceHash: Sha256Hex;
}

/** The token is valid (not consumed); a fresh 10-minute challenge is bound to it. */
export interface InstallSession {
  installTokenId: string;
  applicationId: string;
  tier: Tier;
  os: NodeOs;
  tokenExpiresAt: Timestamp;
  challengeExpiresAt: Timestamp;
  requireEkCertificate: boolean;
  pcrSelection: PcrSelection;
  policyVersion: number;
}

export type ConsumeChallengeInput =
  | { purpose: 'install'; nonceHash: Sha256Hex; installTokenHash: Sha256Hex }
  | { purpose: 'session' | 'reattestation'; nonceHash: Sha256Hex; nodeId: string };

export interface ConsumedChallenge {
  challengeId: string;
  purpose: ChallengePurpose;
  installTokenId: string | null;
  nodeId: string | null;
  /** Tier of the bound token or node: the policy to verify the answer against. */
  tier: Tier;
  expiresAt: Timestamp;
}

export interface PendingActivationInput {
  installTokenHash: Sha256Hex;
  nodeId: string;
  /** Node key, SPKI PEM. */
  publicKey: string;
  ekFingerprint: Sha256Hex;
  /** TPM2B_PUBLIC of the AK, standard base64. */
  akPublic: string;
  /** TPM Name of the AK, lowercase hex. */
  akName: string;
  pcrBaseline: PcrValues;
  /** Operator-facing facts (systemInfo, EK certificate subject, …). Never secrets. */
  attestationData: Record<string, unknown>;
  policyVersion: number;
  clockInfo: ClockInfo;
  /** SHA-256 of the MakeCredential secret. */
  secretHash: Sha256Hex;
}

export interface PendingActivation {
  activationId: string;
  expiresAt: Timestamp;
}

export interface CompleteRegistrationInput {
  activationId: string;
  secretHash: Sha256Hex;
  apiKeyHash: Sha256Hex;
}

export interface RegisteredNode {
  nodeId: string;
  tier: Tier;
  os: NodeOs;
  status: NodeStatus;
  publicKey: string;
  createdAt: Timestamp;
  credentialExpiresAt: Timestamp;
  sessionTtlSeconds: number;
}

export interface NodeChallenge {
  expiresAt: Timestamp;
}

export interface BeginNodeSessionInput {
  nodeId: string;
  apiKeyHash: Sha256Hex;
  nonceHash: Sha256Hex;
}

/** API key and status are good and the challenge is consumed; the Worker checks the signature next. */
export interface NodeSession {
  nodeId: string;
  publicKey: string;
  tier: Tier;
  status: NodeStatus;
  sessionTtlSeconds: number;
  credentialExpiresAt: Timestamp;
}

export interface HeartbeatInput {
  nodeId: string;
  metrics: Record<string, unknown> | null;
  /** `last_seen` is written only when older than this (write coalescing). */
  minWriteIntervalSeconds: number;
  /** When given and re-attestation is due, this nonce becomes the node's re-attestation challenge. */
  reattestationNonceHash?: Sha256Hex | null;
}

export interface HeartbeatResult {
  status: NodeStatus;
  lastSeen: Timestamp | null;
  lastSeenWritten: boolean;
  reattestationRequired: boolean;
  /** Due + grace; past it without a passed re-attestation the node is suspended. */
  reattestationDeadline: Timestamp | null;
  /** True when `reattestationNonceHash` was stored as the node's outstanding challenge. */
  reattestationNonceIssued: boolean;
}

export interface ReattestationChallenge {
  deadline: Timestamp;
}

export interface RecordAttestationInput {
  nodeId: string;
  result: 'passed' | 'failed';
  /** Verifier reason code when failed (e.g. `PCR_POLICY_VIOLATION`), null when passed. */
  reason: string | null;
  pcrValues: PcrValues | null;
  clockInfo: ClockInfo | null;
  policyVersion: number | null;
  details?: Record<string, unknown>;
}

export interface AttestationOutcome {
  status: NodeStatus;
  statusReason: string | null;
  lastAttestedAt: Timestamp;
  attestationDueAt: Timestamp;
}

export interface NodeSummary {
  nodeId: string;
  tier: Tier;
  os: NodeOs;
  status: NodeStatus;
  statusReason: string | null;
  installTokenId: string;
  ekFingerprint: Sha256Hex;
  lastSeen: Timestamp | null;
  lastAttestedAt: Timestamp;
  attestationDueAt: Timestamp;
  createdAt: Timestamp;
  updatedAt: Timestamp;
}

export interface NodeRecord extends NodeSummary {
  publicKey: string;
  akPublic: string;
  akName: string;
  pcrBaseline: PcrValues;
  attestationData: Record<string, unknown>;
  policyVersion: number;
  lastMetrics: Record<string, unknown> | null;
  /** Clock info of the last accepted quote; null only for rows created outside registration. */
  lastClockInfo: ClockInfo | null;
}

export interface SetNodeStatusInput {
  nodeId: string;
  status: NodeStatus;
  reason: string | null;
  actor: string;
}

export interface ListInput<S> {
  status?: S | null;
  /** 1..1000, default 100. */
  limit?: number;
  offset?: number;
}

export interface AttestationPolicy {
  tier: Tier;
  requireEkCertificate: boolean;
  pcrSelection: PcrSelection;
  pcrMode: PcrMode;
  allowedPcrValues: AllowedPcrValues;
  reattestationIntervalSeconds: number;
  reattestationGraceSeconds: number;
  sessionTtlSeconds: number;
  version: number;
  updatedAt: Timestamp;
  updatedBy: string | null;
  /** Measured-boot rules (shared/api/eventlog-policy.ts); null = no event-log policy. */
  eventLogRules: EventLogRules | null;
}

export interface PutPolicyInput {
  tier: Tier;
  requireEkCertificate: boolean;
  pcrSelection: PcrSelection;
  pcrMode: PcrMode;
  allowedPcrValues: AllowedPcrValues;
  reattestationIntervalSeconds: number;
  sessionTtlSeconds: number;
  /** Kept as is when omitted (API.md's PUT body has no such field). */
  reattestationGraceSeconds?: number | null;
  /** Replaced on every PUT: null or omitted removes the event-log policy. */
  eventLogRules?: EventLogRules | null;
  actor: string;
}

export interface EkAnchor {
  id: string;
  label: string;
  pem: string;
  subject: string;
  fingerprint: Sha256Hex;
  createdBy: string | null;
  createdAt: Timestamp;
}

export interface AddEkAnchorInput {
  label: string;
  pem: string;
  subject: string;
  /** SHA-256 of the certificate DER. */
  fingerprint: Sha256Hex;
  actor: string;
}

export interface PurgeResult {
  challengesDeleted: number;
  activationsDeleted: number;
}

// Signed audit log (issue 12) -------------------------------------------------------------------------

/** One audit_events row as the fold pass reads it (snake_case columns, as stored). */
export interface AuditEventRow {
  id: number;
  occurred_at: string;
  source: string;
  action: string;
  actor: string | null;
  db_role: string;
  auth_uid: string | null;
  node_id: string | null;
  install_token_id: string | null;
  old_status: string | null;
  new_status: string | null;
  reason: string | null;
  details: Record<string, unknown>;
}

export interface AuditVaultIdentity {
  uid: string;
  rootKeyId: string;
  genesisJson: string;
  keysJson: string;
}

export interface AuditLogState {
  /** Null before the first fold created the vault. */
  vault: AuditVaultIdentity | null;
  eventCount: number;
  /** The newest line of every actor (canonical JSON), in log order. */
  headLines: string[];
  /** Queued audit rows, oldest first (at most the requested limit). */
  pending: AuditEventRow[];
  pendingTotal: number;
}

export interface AuditLogEntry {
  eventId: string;
  actor: string;
  line: string;
  auditEventId: number | null;
}

export interface AuditLogInitInput {
  uid: string;
  rootKeyId: string;
  publicKeyB64: string;
  genesisJson: string;
  keysJson: string;
  entries: AuditLogEntry[];
}

// Admin security keys and approvals (issue 12) ---------------------------------------------------------

export type AdminCredentialStatus = 'active' | 'pending' | 'revoked';

export interface AdminCredential {
  id: string;
  adminUserId: string;
  adminLabel: string;
  /** base64url. */
  credentialId: string;
  keyId: string;
  algorithm: number;
  label: string;
  status: AdminCredentialStatus;
  createdAt: Timestamp;
  lastUsedAt: Timestamp | null;
}

/** A credential with what assertion verification needs. */
export interface AdminCredentialKey extends AdminCredential {
  /** COSE_Key, base64url. */
  publicKeyCose: string;
  signCount: number;
  transports: string[];
}

export interface AddAdminCredentialInput {
  adminUserId: string;
  adminLabel: string;
  challengeHash: Sha256Hex;
  credentialId: string;
  publicKeyCose: string;
  keyId: string;
  algorithm: number;
  signCount: number;
  transports: string[];
  label: string;
  /** ADMIN_APPROVAL_THRESHOLD: decides active (bootstrap) or pending (quorum in force). */
  threshold: number;
}

export type PendingActionKind =
  | 'node.reactivate'
  | 'policy.relax'
  | 'ek_anchor.add'
  | 'admin_credential.activate'
  | 'session_key.activate';
export type PendingActionStatus = 'pending' | 'executed' | 'expired';

export interface ActionApproval {
  adminUserId: string;
  adminLabel: string | null;
  credentialId: string;
  approvedAt: Timestamp;
}

export interface PendingAction {
  id: string;
  kind: PendingActionKind;
  params: Record<string, unknown>;
  statement: string;
  digest: Sha256Hex;
  threshold: number;
  requestedBy: string;
  status: PendingActionStatus;
  result: Record<string, unknown> | null;
  createdAt: Timestamp;
  expiresAt: Timestamp;
  executedAt: Timestamp | null;
  approvals: ActionApproval[];
}

export interface CreatePendingActionInput {
  id: string;
  kind: PendingActionKind;
  params: Record<string, unknown>;
  statement: string;
  digest: Sha256Hex;
  threshold: number;
  expiresAt: Timestamp;
  actor: string;
}

export interface ApproveActionInput {
  actionId: string;
  /** The digest the assertion's challenge carried. */
  digest: Sha256Hex;
  adminUserId: string;
  credentialId: string;
  signCount: number;
  /** The verified assertion, for the signed log. */
  evidence: Record<string, unknown>;
  actor: string;
}

// Node-session signing keys under the quorum --------------------------------------------------------------

export type SessionKeyStatus = 'pending' | 'active' | 'retired';
export type SessionKeyActivationMode = 'auto' | 'single_admin' | 'quorum';

/** A key of NODE_JWT_KEYS as the database knows it (public parts only). */
export interface SessionSigningKey {
  kid: string;
  /** RFC 7638 SHA-256 thumbprint of the public key, base64url. */
  thumbprint: string;
  publicJwk: Record<string, unknown>;
  status: SessionKeyStatus;
  firstSeenAt: Timestamp;
  approvedAt: Timestamp | null;
  retiredAt: Timestamp | null;
  activationMode: SessionKeyActivationMode | null;
  activatedBy: string | null;
  actionId: string | null;
  approvals: ActionApproval[];
}

/** One key of the Worker secret, as `sync_session_keys` registers it. */
export interface SessionKeyIdentity {
  kid: string;
  thumbprint: string;
  /** Public JWK only: a private `d` member is refused (VALIDATION_FAILED). */
  publicJwk: Record<string, unknown>;
}

export interface SyncSessionKeysInput {
  /** The keys of NODE_JWT_KEYS in secret order (newest first); the first one is auto-activated on first use. */
  keys: SessionKeyIdentity[];
  /** ADMIN_APPROVAL_THRESHOLD: decides whether the quorum is in force (no auto-activation then). */
  threshold: number;
}

export interface ActivateSessionKeyInput {
  kid: string;
  thumbprint: string;
  actor: string;
  /** ADMIN_APPROVAL_THRESHOLD: the single-admin path is refused (CONFLICT) while the quorum is in force. */
  threshold: number;
}
