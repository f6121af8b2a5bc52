import { z } from 'zod';
import { AttestationPolicy, AttestationPolicyView } from '../../../shared/api/admin.ts';
import { PendingActionView } from '../../../shared/api/approvals.ts';
import { Tier } from '../../../shared/api/common.ts';
import { adminRequest, type RequestContext, validateInput } from './request.ts';
import type { AttestationPolicyInput, PendingAction, TierName, TierPolicy } from './types.ts';

const TierParam = z.object({ tier: Tier });

/** Per-tier attestation policies. */
export interface PoliciesApi {
  /**
   * A tier's attestation policy (the defaults until someone puts one).
   *
   * @example
   * ```ts
   * const policy = await dapp.policies.get('ORACLE');
   * console.log(policy.pcrMode, policy.pcrSelection.sha256);
   * ```
   */
  get(tier: TierName): Promise<TierPolicy>;

  /**
   * Replaces a tier's policy; it applies to the next registration or re-attestation.
   *
   * @example
   * ```ts
   * await dapp.policies.put('GUARDIAN', {
   *   requireEkCertificate: true,
   *   pcrSelection: { sha256: [0, 2, 4, 7] },
   *   pcrMode: 'baseline',
   *   reattestationIntervalSeconds: 3600,
   *   sessionTtlSeconds: 900,
   * });
   * ```
   */
  put(tier: TierName, policy: AttestationPolicyInput): Promise<TierPolicy | PendingAction>;
}

/**
 * The policy methods over `ctx`.
 *
 * @example
 * ```ts
 * const policies = policiesApi(ctx);
 * await policies.get('ALL');
 * ```
 */
export function policiesApi(ctx: RequestContext): PoliciesApi {
  const path = (tier: TierName) => `/policies/${validateInput(TierParam, { tier }).tier}`;
  return {
    get: async (tier) =>
      adminRequest(ctx, { method: 'GET', path: path(tier), response: AttestationPolicyView }),
    put: async (tier, policy) =>
      adminRequest(ctx, {
        method: 'PUT',
        path: path(tier),
        body: validateInput(AttestationPolicy, policy),
        response: z.union([PendingActionView, AttestationPolicyView]),
      }),
  };
}
