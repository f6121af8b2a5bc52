import type {
  ActivateSessionKeyInput,
  AddAdminCredentialInput,
  AddEkAnchorInput,
  AdminCredential,
  AdminCredentialKey,
  ApproveActionInput,
  AttestationOutcome,
  AttestationPolicy,
  AuditLogEntry,
  AuditLogInitInput,
  AuditLogState,
  BeginInstallInput,
  BeginNodeSessionInput,
  CompleteRegistrationInput,
  ConsumeChallengeInput,
  ConsumedChallenge,
  CreatePendingActionInput,
  EkAnchor,
  HeartbeatInput,
  HeartbeatResult,
  InstallSession,
  InstallTokenRecord,
  InstallTokenStatus,
  IssueInstallTokenInput,
  ListInput,
  NodeChallenge,
  NodeRecord,
  NodeSession,
  NodeStatus,
  NodeSummary,
  PendingAction,
  PendingActivation,
  PendingActivationInput,
  PurgeResult,
  PutPolicyInput,
  ReattestationChallenge,
  RecordAttestationInput,
  RegisteredNode,
  SessionSigningKey,
  SetNodeStatusInput,
  Sha256Hex,
  SyncSessionKeysInput,
  Tier,
} from './types.ts';

/**
 * The storage port: everything the API needs from the database, as calls to the SQL functions in
 * supabase/migrations (one call = one round trip = one transaction). Two thin adapters implement it
 * (postgres.js and supabase-js `rpc`). A rejection is a `StorageError` (errors.ts) carrying the API
 * error code; an unreachable database is `StorageUnavailable`.
 */
export interface Storage {
  /** Round trip to the database; throws StorageUnavailable when it cannot be reached. */
  ping(): Promise<void>;

  // Install tokens (admin) ------------------------------------------------------------------------
  /** `issue_install_token`. VALIDATION_FAILED, CONFLICT (hash exists). */
  issueInstallToken(input: IssueInstallTokenInput): Promise<InstallTokenRecord>;
  /** `revoke_install_token`. NOT_FOUND, CONFLICT (used). Revoking twice is a no-op. */
  revokeInstallToken(tokenId: string, actor: string): Promise<InstallTokenRecord>;
  /** `list_install_tokens`, newest first. VALIDATION_FAILED. */
  listInstallTokens(input?: ListInput<InstallTokenStatus>): Promise<InstallTokenRecord[]>;

  // Registration ------------------------------------------------------------------------------------
  /** `begin_install` (install/config): checks the token, binds a 10-minute challenge. INSTALL_TOKEN_*. */
  beginInstall(input: BeginInstallInput): Promise<InstallSession>;
  /**
   * `consume_challenge`: single use. CHALLENGE_INVALID, CHALLENGE_EXPIRED; for install nonces the
   * INSTALL_TOKEN_* codes, for node nonces NODE_NOT_FOUND / NODE_SUSPENDED / NODE_REVOKED.
   */
  consumeChallenge(input: ConsumeChallengeInput): Promise<ConsumedChallenge>;
  /** `check_ek_available`. EK_ALREADY_REGISTERED. */
  checkEkAvailable(ekFingerprint: Sha256Hex): Promise<void>;
  /** `store_pending_activation`. INSTALL_TOKEN_*, EK_ALREADY_REGISTERED, CONFLICT (node key), VALIDATION_FAILED. */
  storePendingActivation(input: PendingActivationInput): Promise<PendingActivation>;
  /**
   * `complete_registration`: one transaction. ACTIVATION_NOT_FOUND, ACTIVATION_FAILED (wrong secret;
   * `details.attemptsRemaining`), INSTALL_TOKEN_*, EK_ALREADY_REGISTERED, CONFLICT.
   */
  completeRegistration(input: CompleteRegistrationInput): Promise<RegisteredNode>;
  /** `record_registration_failure`: history of a rejected registration; false when the token is unknown. */
  recordRegistrationFailure(
    installTokenHash: Sha256Hex,
    reason: string,
    details?: Record<string, unknown>,
  ): Promise<boolean>;

  // Node sessions -----------------------------------------------------------------------------------
  /** `issue_node_challenge` (auth/challenge, 5 minutes). NODE_NOT_FOUND, NODE_SUSPENDED, NODE_REVOKED. */
  issueNodeChallenge(nodeId: string, nonceHash: Sha256Hex): Promise<NodeChallenge>;
  /**
   * `begin_node_session` (auth/verify, one round trip). CREDENTIALS_INVALID, NODE_SUSPENDED,
   * NODE_REVOKED, CHALLENGE_INVALID, CHALLENGE_EXPIRED.
   */
  beginNodeSession(input: BeginNodeSessionInput): Promise<NodeSession>;

  // Heartbeats and re-attestation -------------------------------------------------------------------
  /**
   * `record_heartbeat` (one round trip). NODE_NOT_FOUND, NODE_SUSPENDED (also when this very call
   * suspended it for a missed deadline: `details.reason` `reattestation_missed`), NODE_REVOKED.
   */
  recordHeartbeat(input: HeartbeatInput): Promise<HeartbeatResult>;
  /** `issue_reattestation_challenge`. NODE_* as for heartbeats. */
  issueReattestationChallenge(nodeId: string, nonceHash: Sha256Hex): Promise<ReattestationChallenge>;
  /** `record_attestation`: history + consequence (PCR_POLICY_VIOLATION suspends). NODE_*, VALIDATION_FAILED. */
  recordAttestation(input: RecordAttestationInput): Promise<AttestationOutcome>;

  // Nodes (admin) -----------------------------------------------------------------------------------
  /** `get_node`, whatever its status. NODE_NOT_FOUND. */
  getNode(nodeId: string): Promise<NodeRecord>;
  /** `list_nodes`, newest first. VALIDATION_FAILED. */
  listNodes(input?: ListInput<NodeStatus>): Promise<NodeSummary[]>;
  /** `set_node_status`. NODE_NOT_FOUND, CONFLICT (revoked is final), VALIDATION_FAILED. */
  setNodeStatus(input: SetNodeStatusInput): Promise<NodeSummary>;

  // Policies and EK anchors ---------------------------------------------------------------------------
  /** `get_policy`. VALIDATION_FAILED (unknown tier). */
  getPolicy(tier: Tier): Promise<AttestationPolicy>;
  /** `put_policy` (version + 1, audited). VALIDATION_FAILED. */
  putPolicy(input: PutPolicyInput): Promise<AttestationPolicy>;
  /** `list_ek_anchors`, oldest first. */
  listEkAnchors(): Promise<EkAnchor[]>;
  /** `add_ek_anchor`. CONFLICT (same certificate), VALIDATION_FAILED. */
  addEkAnchor(input: AddEkAnchorInput): Promise<EkAnchor>;
  /** `delete_ek_anchor`. NOT_FOUND. */
  deleteEkAnchor(id: string, actor: string): Promise<void>;

  /** `purge_expired_records`: housekeeping for a scheduler. */
  purgeExpiredRecords(retentionSeconds?: number): Promise<PurgeResult>;

  // Signed audit log (issue 12) ----------------------------------------------------------------------
  /** `audit_log_state`: identity, head lines, up to `limit` queued audit rows. */
  auditLogState(limit?: number): Promise<AuditLogState>;
  /** `audit_log_init`: creates the vault unless it exists; returns the root key id in force. */
  auditLogInit(input: AuditLogInitInput): Promise<{ uid: string; rootKeyId: string; created: boolean }>;
  /** `audit_log_append`. CONFLICT when the log grew since `expectedCount` (another fold won). */
  auditLogAppend(expectedCount: number, entries: AuditLogEntry[]): Promise<number>;
  /** `audit_log_lines`: signed lines after `afterSeq`, in order. */
  auditLogLines(afterSeq?: number, limit?: number): Promise<{ seq: number; line: string }[]>;

  // Admin security keys and approvals (issue 12) -----------------------------------------------------
  /** `approval_quorum_status`: administrators with an active key. */
  approvalQuorumStatus(): Promise<{ enrolledAdmins: number; activeCredentials: number }>;
  /** `begin_webauthn_registration`: a single-use 5-minute challenge. */
  beginWebauthnRegistration(adminUserId: string, challengeHash: string): Promise<{ expiresAt: string }>;
  /** `add_admin_credential`. CHALLENGE_INVALID, CHALLENGE_EXPIRED, CONFLICT. */
  addAdminCredential(input: AddAdminCredentialInput): Promise<AdminCredential>;
  /** `list_admin_credentials` (one, by credential id, when given). */
  listAdminCredentials(credentialId?: string): Promise<AdminCredentialKey[]>;
  /** `create_pending_action`. */
  createPendingAction(input: CreatePendingActionInput): Promise<PendingAction>;
  /** `get_pending_action`. ACTION_NOT_FOUND. */
  getPendingAction(id: string): Promise<PendingAction>;
  /** `list_pending_actions`. */
  listPendingActions(status?: 'pending' | 'expired' | 'executed' | null): Promise<PendingAction[]>;
  /** `approve_pending_action`. ACTION_NOT_FOUND, ACTION_NOT_PENDING, ACTION_EXPIRED, APPROVAL_INVALID, + the action's own. */
  approvePendingAction(input: ApproveActionInput): Promise<{ action: PendingAction; counted: boolean }>;

  // Node-session signing keys under the quorum --------------------------------------------------------
  /**
   * `sync_session_keys`: registers the secret's unseen keys as pending (audited), activates the first
   * on first use while the quorum is not in force, returns every key newest first. VALIDATION_FAILED.
   */
  syncSessionKeys(input: SyncSessionKeysInput): Promise<SessionSigningKey[]>;
  /**
   * `activate_session_key`: one admin, bootstrap only. VALIDATION_FAILED, NOT_FOUND, CONFLICT (quorum in
   * force, thumbprint differs, key not pending). Under the quorum: a `session_key.activate` action.
   */
  activateSessionKey(input: ActivateSessionKeyInput): Promise<SessionSigningKey>;
}

/** The database could not be reached (connection refused, timeout, pool exhausted). */
export class StorageUnavailable extends Error {
  constructor(cause: unknown) {
    super('database unavailable', { cause });
    this.name = 'StorageUnavailable';
  }
}
