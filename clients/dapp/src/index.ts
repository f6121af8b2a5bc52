/**
 * @noderr/dapp-sdk — the typed client the dApp uses for the noderr-trust admin API (design/API.md,
 * "Admin endpoints").
 */
export type { AccessTokenFunction, SupabaseAuthClient, SupabaseSessionLike } from './access-token.ts';
export { ApiError, type ApiErrorCode, type ClientErrorCode, isApiError } from './api-error.ts';
export {
  type ApprovalsApi,
  browserWebAuthn,
  type SecurityKeysApi,
  type WebAuthnBrowser,
} from './approvals.ts';
export { createDappClient, type DappClient, type DappClientOptions } from './client.ts';
export type { EkAnchorsApi } from './ek-anchors.ts';
export type { InstallTokensApi } from './install-tokens.ts';
export type { NodesApi } from './nodes.ts';
export type { PoliciesApi } from './policies.ts';
export type { FetchLike } from './request.ts';
export type { SessionKeysApi } from './session-keys.ts';
export type * from './types.ts';
