import { z } from 'zod';
import { PendingActionView } from '../../../shared/api/approvals.ts';
import { SessionKeyList, SessionKeyView } from '../../../shared/api/session-keys.ts';
import { adminRequest, type RequestContext, validateInput } from './request.ts';
import type { PendingAction, SessionKey } from './types.ts';

const Kid = z.object({ kid: z.string().min(1).max(200) });

/** Node-session signing keys: which keys of NODE_JWT_KEYS the administrators approved. */
export interface SessionKeysApi {
  /**
   * Every key the service knows, newest first: `pending` (in the Worker secret, never signs), `active`
   * (signs), `retired`. `cacheSeconds` is how long a Worker isolate may keep signing with the key state it read.
   */
  list(): Promise<{ items: SessionKey[]; cacheSeconds: number }>;
  /**
   * Activates a pending key. While the quorum is not in force it is active at once (a `SessionKey`);
   * once it is, the result is a pending `session_key.activate` action for `approvals.approve`.
   * Errors: `NOT_FOUND` (kid not in NODE_JWT_KEYS), `CONFLICT` (not pending, or another key under this kid).
   *
   * @example
   * ```ts
   * const result = await dapp.sessionKeys.activate('2026-12-key');
   * if ('digest' in result) await dapp.approvals.approve(result.id); // then a second admin approves
   * ```
   */
  activate(kid: string): Promise<SessionKey | PendingAction>;
}

export function sessionKeysApi(ctx: RequestContext): SessionKeysApi {
  return {
    list: async () => adminRequest(ctx, { method: 'GET', path: '/session-keys', response: SessionKeyList }),
    activate: async (kid) =>
      adminRequest(ctx, {
        method: 'POST',
        path: `/session-keys/${encodeURIComponent(validateInput(Kid, { kid }).kid)}/activate`,
        response: z.union([PendingActionView, SessionKeyView]),
      }),
  };
}
