import type { RpcRow } from './rpc.ts';
import type {
  ActionApproval,
  AdminCredential,
  AllowedPcrValues,
  AttestationPolicy,
  ClockInfo,
  EkAnchor,
  InstallTokenRecord,
  InstallTokenStatus,
  NodeOs,
  NodeRecord,
  NodeStatus,
  NodeSummary,
  PcrMode,
  PcrSelection,
  PcrValues,
  PendingAction,
  SessionKeyActivationMode,
  SessionSigningKey,
  Tier,
} from './types.ts';

/**
 * Result rows → domain values. The two drivers differ in representation (postgres.js gives `Date`
 * for timestamptz and strings for bigint; PostgREST gives JSON strings and numbers), so every field is
 * read through a typed reader that accepts both and fails loudly on anything else: a schema drift is
 * a bug to see, not a value to guess.
 */

function fail(row: RpcRow, column: string, expected: string): never {
  throw new TypeError(`column ${column}: expected ${expected}, got ${typeof row[column]}`);
}

export function text(row: RpcRow, column: string): string {
  const v = row[column];
  return typeof v === 'string' ? v : fail(row, column, 'text');
}

export function textOrNull(row: RpcRow, column: string): string | null {
  return row[column] === null || row[column] === undefined ? null : text(row, column);
}

export function int(row: RpcRow, column: string): number {
  const v = row[column];
  const n = typeof v === 'number' ? v : typeof v === 'string' && /^-?\d+$/.test(v) ? Number(v) : Number.NaN;
  return Number.isSafeInteger(n) ? n : fail(row, column, 'integer');
}

export function intOrNull(row: RpcRow, column: string): number | null {
  return row[column] === null || row[column] === undefined ? null : int(row, column);
}

export function bool(row: RpcRow, column: string): boolean {
  const v = row[column];
  return typeof v === 'boolean' ? v : fail(row, column, 'boolean');
}

export function time(row: RpcRow, column: string): string {
  const v = row[column];
  const d = v instanceof Date ? v : typeof v === 'string' ? new Date(v) : undefined;
  return d && !Number.isNaN(d.getTime()) ? d.toISOString() : fail(row, column, 'timestamptz');
}

export function timeOrNull(row: RpcRow, column: string): string | null {
  return row[column] === null || row[column] === undefined ? null : time(row, column);
}

export function object<T = Record<string, unknown>>(row: RpcRow, column: string): T {
  const v = row[column];
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Date)
    ? (v as T)
    : fail(row, column, 'json object');
}

export function objectOrNull<T = Record<string, unknown>>(row: RpcRow, column: string): T | null {
  return row[column] === null || row[column] === undefined ? null : object<T>(row, column);
}

function oneOf<T extends string>(row: RpcRow, column: string, values: readonly T[]): T {
  const v = text(row, column);
  return (values as readonly string[]).includes(v) ? (v as T) : fail(row, column, values.join('|'));
}

export const tier = (row: RpcRow, column = 'tier'): Tier => oneOf(row, column, ['ALL', 'ORACLE', 'GUARDIAN']);
export const os = (row: RpcRow, column = 'os'): NodeOs => oneOf(row, column, ['linux', 'windows']);
export const nodeStatus = (row: RpcRow, column = 'status'): NodeStatus =>
  oneOf(row, column, ['active', 'suspended', 'revoked']);
const tokenStatus = (row: RpcRow): InstallTokenStatus =>
  oneOf(row, 'status', ['active', 'used', 'revoked', 'expired']);
const pcrMode = (row: RpcRow): PcrMode => oneOf(row, 'pcr_mode', ['baseline', 'allowlist', 'none']);

export function installToken(row: RpcRow): InstallTokenRecord {
  return {
    id: text(row, 'id'),
    applicationId: text(row, 'application_id'),
    tier: tier(row),
    os: os(row),
    status: tokenStatus(row),
    usedAt: timeOrNull(row, 'used_at'),
    usedByNode: textOrNull(row, 'used_by_node'),
    revokedAt: timeOrNull(row, 'revoked_at'),
    createdBy: textOrNull(row, 'created_by'),
    createdAt: time(row, 'created_at'),
    expiresAt: time(row, 'expires_at'),
  };
}

export function nodeSummary(row: RpcRow): NodeSummary {
  return {
    nodeId: text(row, 'node_id'),
    tier: tier(row),
    os: os(row),
    status: nodeStatus(row),
    statusReason: textOrNull(row, 'status_reason'),
    installTokenId: text(row, 'install_token_id'),
    ekFingerprint: text(row, 'ek_fingerprint'),
    lastSeen: timeOrNull(row, 'last_seen'),
    lastAttestedAt: time(row, 'last_attested_at'),
    attestationDueAt: time(row, 'attestation_due_at'),
    createdAt: time(row, 'created_at'),
    updatedAt: time(row, 'updated_at'),
  };
}

export function nodeRecord(row: RpcRow): NodeRecord {
  const clock = intOrNull(row, 'last_clock');
  const lastClockInfo: ClockInfo | null =
    clock === null
      ? null
      : {
          clock,
          resetCount: int(row, 'last_reset_count'),
          restartCount: int(row, 'last_restart_count'),
          safe: bool(row, 'last_clock_safe'),
        };
  return {
    ...nodeSummary(row),
    publicKey: text(row, 'public_key'),
    akPublic: text(row, 'ak_public'),
    akName: text(row, 'ak_name'),
    pcrBaseline: object<PcrValues>(row, 'pcr_baseline'),
    attestationData: object(row, 'attestation_data'),
    policyVersion: int(row, 'policy_version'),
    lastMetrics: objectOrNull(row, 'last_metrics'),
    lastClockInfo,
  };
}

export function policy(row: RpcRow): AttestationPolicy {
  return {
    tier: tier(row),
    requireEkCertificate: bool(row, 'require_ek_certificate'),
    pcrSelection: object<PcrSelection>(row, 'pcr_selection'),
    pcrMode: pcrMode(row),
    allowedPcrValues: object<AllowedPcrValues>(row, 'allowed_pcr_values'),
    reattestationIntervalSeconds: int(row, 'reattestation_interval_seconds'),
    reattestationGraceSeconds: int(row, 'reattestation_grace_seconds'),
    sessionTtlSeconds: int(row, 'session_ttl_seconds'),
    version: int(row, 'version'),
    updatedAt: time(row, 'updated_at'),
    updatedBy: textOrNull(row, 'updated_by'),
    eventLogRules: objectOrNull<NonNullable<AttestationPolicy['eventLogRules']>>(row, 'event_log_rules'),
  };
}

export function ekAnchor(row: RpcRow): EkAnchor {
  return {
    id: text(row, 'id'),
    label: text(row, 'label'),
    pem: text(row, 'pem'),
    subject: text(row, 'subject'),
    fingerprint: text(row, 'fingerprint'),
    createdBy: textOrNull(row, 'created_by'),
    createdAt: time(row, 'created_at'),
  };
}

export function array<T>(row: RpcRow, column: string): T[] {
  const v = row[column];
  return Array.isArray(v) ? (v as T[]) : fail(row, column, 'array');
}

/** The JSON objects the approval functions return (jsonb_build_object, same in both drivers). */
export function adminCredential(o: Record<string, unknown>): AdminCredential {
  return {
    id: text(o, 'id'),
    adminUserId: text(o, 'admin_user_id'),
    adminLabel: text(o, 'admin_label'),
    credentialId: text(o, 'credential_id'),
    keyId: text(o, 'key_id'),
    algorithm: int(o, 'algorithm'),
    label: text(o, 'label'),
    status: oneOf(o, 'status', ['active', 'pending', 'revoked']),
    createdAt: time(o, 'created_at'),
    lastUsedAt: timeOrNull(o, 'last_used_at'),
  };
}

export function pendingAction(o: Record<string, unknown>): PendingAction {
  return {
    id: text(o, 'id'),
    kind: oneOf(o, 'kind', [
      'node.reactivate',
      'policy.relax',
      'ek_anchor.add',
      'admin_credential.activate',
      'session_key.activate',
    ]),
    params: object(o, 'params'),
    statement: text(o, 'statement'),
    digest: text(o, 'digest'),
    threshold: int(o, 'threshold'),
    requestedBy: text(o, 'requested_by'),
    status: oneOf(o, 'status', ['pending', 'executed', 'expired']),
    result: objectOrNull(o, 'result'),
    createdAt: time(o, 'created_at'),
    expiresAt: time(o, 'expires_at'),
    executedAt: timeOrNull(o, 'executed_at'),
    approvals: array<Record<string, unknown>>(o, 'approvals').map(approval),
  };
}

function approval(a: Record<string, unknown>): ActionApproval {
  return {
    adminUserId: text(a, 'admin_user_id'),
    adminLabel: textOrNull(a, 'admin_label'),
    credentialId: text(a, 'credential_id'),
    approvedAt: time(a, 'approved_at'),
  };
}

export function sessionKey(o: Record<string, unknown>): SessionSigningKey {
  return {
    kid: text(o, 'kid'),
    thumbprint: text(o, 'thumbprint'),
    publicJwk: object(o, 'public_jwk'),
    status: oneOf(o, 'status', ['pending', 'active', 'retired']),
    firstSeenAt: time(o, 'first_seen_at'),
    approvedAt: timeOrNull(o, 'approved_at'),
    retiredAt: timeOrNull(o, 'retired_at'),
    activationMode:
      o.activation_mode === null || o.activation_mode === undefined
        ? null
        : oneOf<SessionKeyActivationMode>(o, 'activation_mode', ['auto', 'single_admin', 'quorum']),
    activatedBy: textOrNull(o, 'activated_by'),
    actionId: textOrNull(o, 'action_id'),
    approvals: array<Record<string, unknown>>(o, 'approvals').map(approval),
  };
}
