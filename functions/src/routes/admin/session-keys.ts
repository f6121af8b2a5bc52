import { createRoute, z } from '@hono/zod-openapi';
import { PendingActionView } from '../../../../shared/api/approvals.ts';
import { SessionKeyList, SessionKeyView } from '../../../../shared/api/session-keys.ts';
import { ApiError } from '../../errors.ts';
import { actorOf } from '../../middleware/admin.ts';
import { createRouter, errorResponses, jsonResponse } from '../../router.ts';
import {
  forgetSessionKeyState,
  SESSION_KEY_CACHE_SECONDS,
  type SessionKeyState,
  secretSessionKey,
  sessionKeyState,
} from '../../services/node-sessions.ts';
import { actionView, requireQuorum } from '../../services/quorum.ts';
import type { SessionSigningKey } from '../../storage/types.ts';

const DESIGN =
  'The Worker cannot change its secrets, so rotating the node-session signing key is two steps: an operator prepends the new ES256 key to NODE_JWT_KEYS (wrangler secret put; the Worker registers it as `pending` the next time it reads the key state and never signs with it), then administrators activate it here. ' +
  'The Worker signs only with the `active` key whose kid AND RFC 7638 thumbprint match the approved row, and publishes in /.well-known/jwks.json — and accepts on heartbeats — only the active and the previously active key. ' +
  `Each Worker isolate caches the key state for ${SESSION_KEY_CACHE_SECONDS} s (one sync_session_keys call), so an activation reaches every isolate within ${SESSION_KEY_CACHE_SECONDS} s; until then they sign with the previous key, which stays valid. ` +
  'The very first key is activated automatically on first use while the quorum is not in force (fewer than ADMIN_APPROVAL_THRESHOLD admins with a security key, or a threshold of 0), so a fresh deployment needs no manual step. ' +
  'Every registration, activation and retirement is an audit event, hence a line of the signed audit log.';

const KidParam = z.object({ kid: z.string().min(1).max(200) });

function view(k: SessionSigningKey, state: SessionKeyState): z.infer<typeof SessionKeyView> {
  return {
    kid: k.kid,
    thumbprint: k.thumbprint,
    publicJwk: k.publicJwk,
    status: k.status,
    inSecret: state.secret.some((s) => s.kid === k.kid),
    signing: state.signing?.kid === k.kid,
    published: state.published.some((s) => s.kid === k.kid),
    firstSeenAt: k.firstSeenAt,
    approvedAt: k.approvedAt,
    retiredAt: k.retiredAt,
    activationMode: k.activationMode,
    activatedBy: k.activatedBy,
    actionId: k.actionId,
    approvals: k.approvals,
  };
}

const list = createRoute({
  method: 'get',
  path: '/',
  tags: ['admin', 'approvals'],
  summary: 'Node-session signing keys and their approval',
  description: `Reads the key state afresh (registering keys of NODE_JWT_KEYS not seen before as pending). ${DESIGN}`,
  security: [{ supabaseAuth: [] }],
  responses: {
    200: jsonResponse(SessionKeyList, 'keys, newest first'),
    ...errorResponses('UNAUTHORIZED', 'FORBIDDEN'),
  },
});

const activate = createRoute({
  method: 'post',
  path: '/{kid}/activate',
  tags: ['admin', 'approvals'],
  summary: 'Activate a pending node-session signing key (a weakening action: quorum)',
  description:
    'The key must be in NODE_JWT_KEYS (else NOT_FOUND) and pending (else CONFLICT; also when the secret holds another key under this kid). ' +
    'Once ADMIN_APPROVAL_THRESHOLD (t) administrators have enrolled a security key, it answers 202 with a `session_key.activate` pending action over the kid and thumbprint; the approval that meets the threshold activates the key and retires the active one in the same transaction. ' +
    `With t = 0, or while fewer than t admins have a key (bootstrap), one admin activates it at once (200). ${DESIGN}`,
  security: [{ supabaseAuth: [] }],
  request: { params: KidParam },
  responses: {
    200: jsonResponse(SessionKeyView, 'activated (bootstrap): new sessions are signed with it'),
    202: jsonResponse(PendingActionView, 'the activation waits for the approval quorum'),
    ...errorResponses('UNAUTHORIZED', 'FORBIDDEN', 'NOT_FOUND', 'CONFLICT'),
  },
});

export const sessionKeys = createRouter()
  .openapi(list, async (c) => {
    const state = await sessionKeyState(c.var.config, c.var.storage, 0);
    return c.json(
      { items: state.keys.map((k) => view(k, state)), cacheSeconds: SESSION_KEY_CACHE_SECONDS },
      200,
    );
  })
  .openapi(activate, async (c) => {
    const { kid } = c.req.valid('param');
    const { config, storage } = c.var;
    const actor = actorOf(c.var.admin);
    const secret = await secretSessionKey(config, kid);
    if (!secret) {
      throw new ApiError(
        'NOT_FOUND',
        'NODE_JWT_KEYS holds no key with this kid: prepend the new key to the Worker secret first, then activate it.',
      );
    }
    const row = (await sessionKeyState(config, storage, 0)).keys.find((k) => k.kid === kid);
    if (!row) throw new ApiError('NOT_FOUND', 'This key is not registered yet; retry.');
    if (row.thumbprint !== secret.thumbprint) {
      throw new ApiError(
        'CONFLICT',
        'NODE_JWT_KEYS holds another key under this kid than the one registered; give the new key a new kid.',
        { details: { registeredThumbprint: row.thumbprint, secretThumbprint: secret.thumbprint } },
      );
    }
    if (row.status !== 'pending') {
      throw new ApiError('CONFLICT', `This key is ${row.status}; only a pending key can be activated.`, {
        details: { status: row.status },
      });
    }
    const pending = await requireQuorum({ config, storage, actor }, 'session_key.activate', {
      kid,
      thumbprint: row.thumbprint,
    });
    if (pending) {
      c.var.log.info('admin.session_key.activation_pending', { kid, actionId: pending.id });
      return c.json(actionView(pending), 202);
    }
    const key = await storage.activateSessionKey({
      kid,
      thumbprint: row.thumbprint,
      actor,
      threshold: config.ADMIN_APPROVAL_THRESHOLD,
    });
    forgetSessionKeyState();
    c.var.log.info('admin.session_key.activated', { kid, mode: key.activationMode });
    return c.json(view(key, await sessionKeyState(config, storage)), 200);
  });
