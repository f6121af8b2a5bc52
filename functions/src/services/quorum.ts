import type { z } from 'zod';
import type { PendingActionView } from '../../../shared/api/approvals.ts';
import { canonicalize } from '../../../shared/provara/canonical-json.ts';
import type { Config } from '../config.ts';
import type { Storage } from '../storage/port.ts';
import type {
  AttestationPolicy,
  PendingAction,
  PendingActionKind,
  PutPolicyInput,
} from '../storage/types.ts';
import { plainToJson } from './audit-vault.ts';
import { sha256Hex } from './secrets.ts';
import { actionChallenge } from './webauthn.ts';

/**
 * The quorum rule for actions that weaken security. Tightening (suspend, revoke, stricter policy, deleting
 * an anchor) stays one admin. Weakening needs approvals from ADMIN_APPROVAL_THRESHOLD distinct admins'
 * security keys — once that many admins have enrolled a key. Before that (bootstrap) and with threshold 0,
 * weakening runs with one admin as before; the audit log shows which it was (`admin_action.requested`
 * exists only under the quorum).
 */
export const STATEMENT_DOMAIN = 'noderr.trust.admin_action.v1';

export interface QuorumContext {
  config: Config;
  storage: Storage;
  actor: string;
}

/** A pending action, or null when the quorum is not in force and the caller should act now. */
export async function requireQuorum(
  ctx: QuorumContext,
  kind: PendingActionKind,
  params: Record<string, unknown>,
): Promise<PendingAction | null> {
  const t = ctx.config.ADMIN_APPROVAL_THRESHOLD;
  if (t === 0) return null;
  const { enrolledAdmins } = await ctx.storage.approvalQuorumStatus();
  if (enrolledAdmins < t) return null;
  return createAction(ctx, kind, params, t);
}

export async function createAction(
  ctx: QuorumContext,
  kind: PendingActionKind,
  params: Record<string, unknown>,
  threshold: number,
): Promise<PendingAction> {
  const id = crypto.randomUUID();
  const expiresAt = new Date(Date.now() + ctx.config.PENDING_ACTION_TTL_SECONDS * 1000).toISOString();
  const statement = canonicalize(
    plainToJson({
      domain: STATEMENT_DOMAIN,
      action_id: id,
      kind,
      params,
      requested_by: ctx.actor,
      threshold,
      expires_at: expiresAt,
    }),
  );
  const digest = await sha256Hex(new TextEncoder().encode(statement));
  return ctx.storage.createPendingAction({
    id,
    kind,
    params,
    statement,
    digest,
    threshold,
    expiresAt,
    actor: ctx.actor,
  });
}

export function actionView(a: PendingAction): z.infer<typeof PendingActionView> {
  return {
    id: a.id,
    kind: a.kind,
    params: a.params,
    statement: a.statement,
    digest: a.digest,
    challenge: actionChallenge(a),
    threshold: a.threshold,
    requestedBy: a.requestedBy,
    status: a.status,
    result: a.result,
    createdAt: a.createdAt,
    expiresAt: a.expiresAt,
    executedAt: a.executedAt,
    approvals: a.approvals,
  };
}

const PCR_MODE_RANK = { none: 0, allowlist: 1, baseline: 2 } as const;

function sameJson(a: unknown, b: unknown): boolean {
  return canonicalize(plainToJson(a ?? null)) === canonicalize(plainToJson(b ?? null));
}

/**
 * True when `next` is at least as strict as `current` in every respect: EK certificate required if it was,
 * PCR mode not looser (none < allowlist < baseline), every PCR still selected, each allowlist a subset,
 * intervals and session lifetime not longer, event-log rules unchanged (or newly added). Anything else
 * is a relaxation and needs the quorum.
 */
export function isTightening(
  current: AttestationPolicy,
  next: Omit<PutPolicyInput, 'actor' | 'tier'>,
): boolean {
  if (current.requireEkCertificate && !next.requireEkCertificate) return false;
  if (PCR_MODE_RANK[next.pcrMode] < PCR_MODE_RANK[current.pcrMode]) return false;
  for (const [bank, indexes] of Object.entries(current.pcrSelection)) {
    const now = new Set((next.pcrSelection as Record<string, number[] | undefined>)[bank] ?? []);
    if (!(indexes ?? []).every((i) => now.has(i))) return false;
  }
  if (next.pcrMode === 'allowlist') {
    if (current.pcrMode !== 'allowlist') {
      // From baseline to allowlist is looser; from none it is stricter.
      if (current.pcrMode === 'baseline') return false;
    } else {
      for (const [bank, pcrs] of Object.entries(next.allowedPcrValues)) {
        for (const [index, values] of Object.entries(pcrs ?? {})) {
          const before = new Set(
            current.allowedPcrValues[bank as keyof typeof current.allowedPcrValues]?.[index] ?? [],
          );
          if (before.size === 0 || !values.every((v) => before.has(v))) return false;
        }
      }
      // A PCR allowlisted before but no longer listed would no longer be checked.
      for (const [bank, pcrs] of Object.entries(current.allowedPcrValues)) {
        for (const index of Object.keys(pcrs ?? {})) {
          if (!(next.allowedPcrValues as Record<string, Record<string, string[]> | undefined>)[bank]?.[index])
            return false;
        }
      }
    }
  }
  if (next.reattestationIntervalSeconds > current.reattestationIntervalSeconds) return false;
  if (next.sessionTtlSeconds > current.sessionTtlSeconds) return false;
  if (current.eventLogRules !== null && !sameJson(current.eventLogRules, next.eventLogRules ?? null))
    return false;
  return true;
}
