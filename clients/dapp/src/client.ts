import { type AdminAuth, accessTokenSource } from './access-token.ts';
import { type ApprovalsApi, approvalsApi, type SecurityKeysApi, securityKeysApi } from './approvals.ts';
import { type EkAnchorsApi, ekAnchorsApi } from './ek-anchors.ts';
import { type InstallTokensApi, installTokensApi } from './install-tokens.ts';
import { type NodesApi, nodesApi } from './nodes.ts';
import { type PoliciesApi, policiesApi } from './policies.ts';
import type { FetchLike, RequestContext } from './request.ts';
import { type SessionKeysApi, sessionKeysApi } from './session-keys.ts';

/** Options of {@link createDappClient}: the API's origin plus how to authenticate. */
export type DappClientOptions = AdminAuth & {
  /** The API origin, e.g. `https://trust.noderr.xyz` (without `/api/v1`). */
  baseUrl: string;
  /** Retries after `RATE_LIMITED` before the error reaches the caller. Default 2. */
  maxRateLimitRetries?: number;
  /** Longest `retry-after` (seconds) worth waiting out; longer fails at once. Default 30. */
  maxRetryDelaySeconds?: number;
  /** A `fetch` to use instead of the global one (tests, instrumentation). */
  fetch?: FetchLike;
};

/** Every admin endpoint of the noderr-trust API, grouped by resource. */
export interface DappClient {
  readonly installTokens: InstallTokensApi;
  readonly nodes: NodesApi;
  readonly policies: PoliciesApi;
  readonly ekAnchors: EkAnchorsApi;
  /** Administrators' FIDO2 security keys (WebAuthn enrolment). */
  readonly securityKeys: SecurityKeysApi;
  /** Weakening actions waiting for the approval quorum. */
  readonly approvals: ApprovalsApi;
  /** Node-session signing keys; activating one needs the quorum. */
  readonly sessionKeys: SessionKeysApi;
}

/**
 * A typed client for the admin API. Authenticate with a supabase-js client (the SDK reads the current
 * session's access token and refreshes it when it has expired) or with a function returning a token.
 * Every method validates its input before sending and the response against the contract after, and
 * rejects with an `ApiError`.
 *
 * @example
 * ```ts
 * import { createClient } from '@supabase/supabase-js';
 * import { createDappClient } from '@noderr/dapp-sdk';
 *
 * const supabase = createClient(SUPABASE_URL, SUPABASE_ANON_KEY);
 * const dapp = createDappClient({ baseUrl: 'https://trust.noderr.xyz', supabase });
 * const { items } = await dapp.nodes.list({ status: 'active' });
 * ```
 */
export function createDappClient(options: DappClientOptions): DappClient {
  const baseUrl = new URL(options.baseUrl);
  if (baseUrl.protocol !== 'https:' && baseUrl.protocol !== 'http:') {
    throw new TypeError('baseUrl must be an http(s) URL');
  }
  const ctx: RequestContext = {
    baseUrl: `${baseUrl.origin}${baseUrl.pathname.replace(/\/+$/, '')}`,
    tokens: accessTokenSource(
      'supabase' in options ? { supabase: options.supabase } : { accessToken: options.accessToken },
    ),
    fetch: options.fetch ?? ((input, init) => globalThis.fetch(input, init)),
    maxRateLimitRetries: options.maxRateLimitRetries ?? 2,
    maxRetryDelaySeconds: options.maxRetryDelaySeconds ?? 30,
  };
  return Object.freeze({
    installTokens: installTokensApi(ctx),
    nodes: nodesApi(ctx),
    policies: policiesApi(ctx),
    ekAnchors: ekAnchorsApi(ctx),
    securityKeys: securityKeysApi(ctx),
    approvals: approvalsApi(ctx),
    sessionKeys: sessionKeysApi(ctx),
  });
}
