import { throwReportedError } from './errors.ts';
import type { Storage } from './port.ts';
import * as r from './rows.ts';
import type { Rpc, RpcRow } from './rpc.ts';
import type { AuditEventRow, AuditLogEntry, ListInput } from './types.ts';

const entryArg = (e: AuditLogEntry) => ({
  event_id: e.eventId,
  actor: e.actor,
  line: e.line,
  audit_event_id: e.auditEventId,
});

/**
 * The storage port over the SQL functions, given an adapter's `rpc` primitive. Each method is one
 * function call: it names the arguments, maps the row, and nothing else — every decision is in SQL.
 */
export function createSqlFunctionStorage(rpc: Rpc, ping: () => Promise<void>): Storage {
  async function one(fn: string, args: Parameters<Rpc>[1]): Promise<RpcRow> {
    const rows = await rpc(fn, args);
    const row = rows[0];
    if (!row || rows.length !== 1) throw new Error(`${fn} returned ${rows.length} rows, expected 1`);
    return row;
  }

  const list = <S>(input: ListInput<S> | undefined) => ({
    p_status: (input?.status ?? null) as string | null,
    p_limit: input?.limit ?? 100,
    p_offset: input?.offset ?? 0,
  });

  return {
    ping,

    async issueInstallToken(input) {
      const row = await one('issue_install_token', {
        p_token_hash: input.tokenHash,
        p_application_id: input.applicationId,
        p_tier: input.tier,
        p_os: input.os,
        p_expires_in_days: input.expiresInDays,
        p_actor: input.actor,
      });
      return r.installToken(row);
    },

    async revokeInstallToken(tokenId, actor) {
      return r.installToken(await one('revoke_install_token', { p_token_id: tokenId, p_actor: actor }));
    },

    async listInstallTokens(input) {
      return (await rpc('list_install_tokens', list(input))).map(r.installToken);
    },

    async beginInstall(input) {
      const row = await one('begin_install', {
        p_token_hash: input.tokenHash,
        p_nonce_hash: input.nonceHash,
      });
      return {
        installTokenId: r.text(row, 'install_token_id'),
        applicationId: r.text(row, 'application_id'),
        tier: r.tier(row),
        os: r.os(row),
        tokenExpiresAt: r.time(row, 'token_expires_at'),
        challengeExpiresAt: r.time(row, 'challenge_expires_at'),
        requireEkCertificate: r.bool(row, 'require_ek_certificate'),
        pcrSelection: r.object(row, 'pcr_selection'),
        policyVersion: r.int(row, 'policy_version'),
      };
    },

    async consumeChallenge(input) {
      const row = await one('consume_challenge', {
        p_nonce_hash: input.nonceHash,
        p_purpose: input.purpose,
        p_install_token_hash: input.purpose === 'install' ? input.installTokenHash : null,
        p_node_id: input.purpose === 'install' ? null : input.nodeId,
      });
      const purpose = r.text(row, 'purpose');
      return {
        challengeId: r.text(row, 'challenge_id'),
        purpose: purpose === 'install' || purpose === 'session' ? purpose : 'reattestation',
        installTokenId: r.textOrNull(row, 'install_token_id'),
        nodeId: r.textOrNull(row, 'node_id'),
        tier: r.tier(row),
        expiresAt: r.time(row, 'expires_at'),
      };
    },

    async checkEkAvailable(ekFingerprint) {
      await one('check_ek_available', { p_ek_fingerprint: ekFingerprint });
    },

    async storePendingActivation(input) {
      const row = await one('store_pending_activation', {
        p_install_token_hash: input.installTokenHash,
        p_node_id: input.nodeId,
        p_public_key: input.publicKey,
        p_ek_fingerprint: input.ekFingerprint,
        p_ak_public: input.akPublic,
        p_ak_name: input.akName,
        p_pcr_baseline: input.pcrBaseline,
        p_attestation_data: input.attestationData,
        p_policy_version: input.policyVersion,
        p_clock: input.clockInfo.clock,
        p_reset_count: input.clockInfo.resetCount,
        p_restart_count: input.clockInfo.restartCount,
        p_clock_safe: input.clockInfo.safe,
        p_secret_hash: input.secretHash,
      });
      return { activationId: r.text(row, 'activation_id'), expiresAt: r.time(row, 'expires_at') };
    },

    async completeRegistration(input) {
      const row = await one('complete_registration', {
        p_activation_id: input.activationId,
        p_secret_hash: input.secretHash,
        p_api_key_hash: input.apiKeyHash,
      });
      throwReportedError(row.error_code, { attemptsRemaining: r.intOrNull(row, 'attempts_remaining') });
      return {
        nodeId: r.text(row, 'node_id'),
        tier: r.tier(row),
        os: r.os(row),
        status: r.nodeStatus(row),
        publicKey: r.text(row, 'public_key'),
        createdAt: r.time(row, 'created_at'),
        credentialExpiresAt: r.time(row, 'credential_expires_at'),
        sessionTtlSeconds: r.int(row, 'session_ttl_seconds'),
      };
    },

    async recordRegistrationFailure(installTokenHash, reason, details = {}) {
      const row = await one('record_registration_failure', {
        p_install_token_hash: installTokenHash,
        p_reason: reason,
        p_details: details,
      });
      return r.bool(row, 'recorded');
    },

    async issueNodeChallenge(nodeId, nonceHash) {
      const row = await one('issue_node_challenge', { p_node_id: nodeId, p_nonce_hash: nonceHash });
      return { expiresAt: r.time(row, 'expires_at') };
    },

    async beginNodeSession(input) {
      const row = await one('begin_node_session', {
        p_node_id: input.nodeId,
        p_api_key_hash: input.apiKeyHash,
        p_nonce_hash: input.nonceHash,
      });
      return {
        nodeId: r.text(row, 'node_id'),
        publicKey: r.text(row, 'public_key'),
        tier: r.tier(row),
        status: r.nodeStatus(row),
        sessionTtlSeconds: r.int(row, 'session_ttl_seconds'),
        credentialExpiresAt: r.time(row, 'credential_expires_at'),
      };
    },

    async recordHeartbeat(input) {
      const row = await one('record_heartbeat', {
        p_node_id: input.nodeId,
        p_metrics: input.metrics,
        p_min_write_interval_seconds: input.minWriteIntervalSeconds,
        p_reattestation_nonce_hash: input.reattestationNonceHash ?? null,
      });
      throwReportedError(row.error_code, {
        reason: 'reattestation_missed',
        deadline: r.timeOrNull(row, 'reattestation_deadline'),
      });
      return {
        status: r.nodeStatus(row),
        lastSeen: r.timeOrNull(row, 'last_seen'),
        lastSeenWritten: r.bool(row, 'last_seen_written'),
        reattestationRequired: r.bool(row, 'reattestation_required'),
        reattestationDeadline: r.timeOrNull(row, 'reattestation_deadline'),
        reattestationNonceIssued: r.bool(row, 'reattestation_nonce_issued'),
      };
    },

    async issueReattestationChallenge(nodeId, nonceHash) {
      const row = await one('issue_reattestation_challenge', { p_node_id: nodeId, p_nonce_hash: nonceHash });
      throwReportedError(row.error_code, {
        reason: 'reattestation_missed',
        deadline: r.timeOrNull(row, 'deadline'),
      });
      return { deadline: r.time(row, 'deadline') };
    },

    async recordAttestation(input) {
      const row = await one('record_attestation', {
        p_node_id: input.nodeId,
        p_result: input.result,
        p_reason: input.reason,
        p_pcr_values: input.pcrValues,
        p_clock: input.clockInfo?.clock ?? null,
        p_reset_count: input.clockInfo?.resetCount ?? null,
        p_restart_count: input.clockInfo?.restartCount ?? null,
        p_clock_safe: input.clockInfo?.safe ?? null,
        p_policy_version: input.policyVersion,
        p_details: input.details ?? {},
      });
      return {
        status: r.nodeStatus(row),
        statusReason: r.textOrNull(row, 'status_reason'),
        lastAttestedAt: r.time(row, 'last_attested_at'),
        attestationDueAt: r.time(row, 'attestation_due_at'),
      };
    },

    async getNode(nodeId) {
      return r.nodeRecord(await one('get_node', { p_node_id: nodeId }));
    },

    async listNodes(input) {
      return (await rpc('list_nodes', list(input))).map(r.nodeSummary);
    },

    async setNodeStatus(input) {
      const row = await one('set_node_status', {
        p_node_id: input.nodeId,
        p_status: input.status,
        p_reason: input.reason,
        p_actor: input.actor,
      });
      return r.nodeSummary(row);
    },

    async getPolicy(tier) {
      return r.policy(await one('get_policy', { p_tier: tier }));
    },

    async putPolicy(input) {
      const row = await one('put_policy', {
        p_tier: input.tier,
        p_require_ek_certificate: input.requireEkCertificate,
        p_pcr_selection: input.pcrSelection,
        p_pcr_mode: input.pcrMode,
        p_allowed_pcr_values: input.allowedPcrValues,
        p_reattestation_interval_seconds: input.reattestationIntervalSeconds,
        p_session_ttl_seconds: input.sessionTtlSeconds,
        p_actor: input.actor,
        p_reattestation_grace_seconds: input.reattestationGraceSeconds ?? null,
        p_event_log_rules: input.eventLogRules ?? null,
      });
      return r.policy(row);
    },

    async listEkAnchors() {
      return (await rpc('list_ek_anchors', {})).map(r.ekAnchor);
    },

    async addEkAnchor(input) {
      const row = await one('add_ek_anchor', {
        p_label: input.label,
        p_pem: input.pem,
        p_subject: input.subject,
        p_fingerprint: input.fingerprint,
        p_actor: input.actor,
      });
      return r.ekAnchor(row);
    },

    async deleteEkAnchor(id, actor) {
      await one('delete_ek_anchor', { p_id: id, p_actor: actor });
    },

    async purgeExpiredRecords(retentionSeconds = 86_400) {
      const row = await one('purge_expired_records', { p_retention_seconds: retentionSeconds });
      return {
        challengesDeleted: r.int(row, 'challenges_deleted'),
        activationsDeleted: r.int(row, 'activations_deleted'),
      };
    },

    async auditLogState(limit = 500) {
      const row = await one('audit_log_state', { p_limit: limit });
      const uid = r.textOrNull(row, 'uid');
      return {
        vault: uid
          ? {
              uid,
              rootKeyId: r.text(row, 'root_key_id'),
              genesisJson: r.text(row, 'genesis_json'),
              keysJson: r.text(row, 'keys_json'),
            }
          : null,
        eventCount: r.intOrNull(row, 'event_count') ?? 0,
        headLines: r.array<string>(row, 'head_lines'),
        pending: r.array<AuditEventRow>(row, 'pending'),
        pendingTotal: r.int(row, 'pending_total'),
      };
    },

    async auditLogInit(input) {
      const row = await one('audit_log_init', {
        p_uid: input.uid,
        p_root_key_id: input.rootKeyId,
        p_public_key_b64: input.publicKeyB64,
        p_genesis_json: input.genesisJson,
        p_keys_json: input.keysJson,
        p_entries: input.entries.map(entryArg),
      });
      return {
        uid: r.text(row, 'uid'),
        rootKeyId: r.text(row, 'root_key_id'),
        created: r.bool(row, 'created'),
      };
    },

    async auditLogAppend(expectedCount, entries) {
      const row = await one('audit_log_append', {
        p_expected_count: expectedCount,
        p_entries: entries.map(entryArg),
      });
      return r.int(row, 'event_count');
    },

    async auditLogLines(afterSeq = 0, limit = 100_000) {
      return (await rpc('audit_log_lines', { p_after_seq: afterSeq, p_limit: limit })).map((row) => ({
        seq: r.int(row, 'seq'),
        line: r.text(row, 'line'),
      }));
    },

    async approvalQuorumStatus() {
      const row = await one('approval_quorum_status', {});
      return {
        enrolledAdmins: r.int(row, 'enrolled_admins'),
        activeCredentials: r.int(row, 'active_credentials'),
      };
    },

    async beginWebauthnRegistration(adminUserId, challengeHash) {
      const row = await one('begin_webauthn_registration', {
        p_admin_user_id: adminUserId,
        p_challenge_hash: challengeHash,
      });
      return { expiresAt: r.time(row, 'expires_at') };
    },

    async addAdminCredential(input) {
      const row = await one('add_admin_credential', {
        p_admin_user_id: input.adminUserId,
        p_admin_label: input.adminLabel,
        p_challenge_hash: input.challengeHash,
        p_credential_id: input.credentialId,
        p_public_key_cose: input.publicKeyCose,
        p_key_id: input.keyId,
        p_algorithm: input.algorithm,
        p_sign_count: input.signCount,
        p_transports: input.transports,
        p_label: input.label,
        p_threshold: input.threshold,
      });
      return r.adminCredential(r.object(row, 'credential'));
    },

    async listAdminCredentials(credentialId) {
      return (await rpc('list_admin_credentials', { p_credential_id: credentialId ?? null })).map((row) => ({
        ...r.adminCredential(r.object(row, 'credential')),
        publicKeyCose: r.text(row, 'public_key_cose'),
        signCount: r.int(row, 'sign_count'),
        transports: r.array<string>(row, 'transports'),
      }));
    },

    async createPendingAction(input) {
      const row = await one('create_pending_action', {
        p_id: input.id,
        p_kind: input.kind,
        p_params: input.params,
        p_statement: input.statement,
        p_digest: input.digest,
        p_threshold: input.threshold,
        p_expires_at: input.expiresAt,
        p_actor: input.actor,
      });
      return r.pendingAction(r.object(row, 'action'));
    },

    async getPendingAction(id) {
      return r.pendingAction(r.object(await one('get_pending_action', { p_id: id }), 'action'));
    },

    async listPendingActions(status) {
      return (await rpc('list_pending_actions', { p_status: status ?? null })).map((row) =>
        r.pendingAction(r.object(row, 'action')),
      );
    },

    async approvePendingAction(input) {
      const row = await one('approve_pending_action', {
        p_id: input.actionId,
        p_digest: input.digest,
        p_admin_user_id: input.adminUserId,
        p_credential_id: input.credentialId,
        p_sign_count: input.signCount,
        p_evidence: input.evidence,
        p_actor: input.actor,
      });
      return { action: r.pendingAction(r.object(row, 'action')), counted: r.bool(row, 'counted') };
    },

    async syncSessionKeys(input) {
      const rows = await rpc('sync_session_keys', {
        p_keys: input.keys.map((k) => ({ kid: k.kid, thumbprint: k.thumbprint, public_jwk: k.publicJwk })),
        p_threshold: input.threshold,
      });
      return rows.map((row) => r.sessionKey(r.object(row, 'key')));
    },

    async activateSessionKey(input) {
      const row = await one('activate_session_key', {
        p_kid: input.kid,
        p_thumbprint: input.thumbprint,
        p_actor: input.actor,
        p_threshold: input.threshold,
      });
      return r.sessionKey(r.object(row, 'key'));
    },
  };
}
