import { z } from 'zod';
import {
  InstallTokenItem,
  InstallTokenList,
  InstallTokenListQuery,
  IssueInstallTokenRequest,
  IssueInstallTokenResponse,
} from '../../../shared/api/admin.ts';
import { adminRequest, type RequestContext, validateInput } from './request.ts';
import type {
  InstallToken,
  InstallTokenStatusName,
  IssuedInstallToken,
  IssueInstallTokenInput,
} from './types.ts';

const TokenId = z.object({ id: z.uuid() });

/** Install tokens: the one-time secrets a node operator's installer redeems. */
export interface InstallTokensApi {
  /**
   * Issues an install token. The returned `token` is shown this once (only its hash is stored) and the
   * SDK keeps no copy: hand it to the operator and drop it.
   *
   * @example
   * ```ts
   * const { id, token, expiresAt } = await dapp.installTokens.issue({
   *   applicationId: '6f1c1d2e-0000-4000-8000-000000000001',
   *   tier: 'ORACLE',
   *   os: 'linux',
   *   expiresInDays: 3,
   * });
   * ```
   */
  issue(input: IssueInstallTokenInput): Promise<IssuedInstallToken>;

  /**
   * Lists install tokens, newest first, optionally by status. Values are never listed.
   *
   * @example
   * ```ts
   * const { items } = await dapp.installTokens.list({ status: 'active' });
   * ```
   */
  list(filter?: { status?: InstallTokenStatusName }): Promise<{ items: InstallToken[] }>;

  /**
   * Revokes an unused install token (revoking twice is a no-op). A used token → `CONFLICT`; an
   * unknown id → `NOT_FOUND`.
   *
   * @example
   * ```ts
   * const revoked = await dapp.installTokens.revoke('0b9d…-uuid');
   * console.log(revoked.status); // 'revoked'
   * ```
   */
  revoke(id: string): Promise<InstallToken>;
}

/**
 * The install-token methods over `ctx`.
 *
 * @example
 * ```ts
 * const tokens = installTokensApi(ctx);
 * await tokens.list();
 * ```
 */
export function installTokensApi(ctx: RequestContext): InstallTokensApi {
  return {
    issue: async (input) =>
      adminRequest(ctx, {
        method: 'POST',
        path: '/install-tokens',
        body: validateInput(IssueInstallTokenRequest, input),
        response: IssueInstallTokenResponse,
      }),
    list: async (filter = {}) =>
      adminRequest(ctx, {
        method: 'GET',
        path: '/install-tokens',
        query: validateInput(InstallTokenListQuery, filter),
        response: InstallTokenList,
      }),
    revoke: async (id) =>
      adminRequest(ctx, {
        method: 'POST',
        path: `/install-tokens/${encodeURIComponent(validateInput(TokenId, { id }).id)}/revoke`,
        response: InstallTokenItem,
      }),
  };
}
