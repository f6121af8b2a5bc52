import { createRoute, z } from '@hono/zod-openapi';
import type { AuthenticationResponseJSON } from '@simplewebauthn/server';
import {
  ActionWithOptions,
  ApproveActionRequest,
  ApproveActionResponse,
  PendingActionList,
} from '../../../../shared/api/approvals.ts';
import { ApiError } from '../../errors.ts';
import { actorOf } from '../../middleware/admin.ts';
import { createRouter, errorResponses, jsonBody, jsonResponse } from '../../router.ts';
import { forgetSessionKeyState } from '../../services/node-sessions.ts';
import { actionView } from '../../services/quorum.ts';
import { assertionOptions, verifyApproval } from '../../services/webauthn.ts';

const params = z.object({ id: z.string().uuid() });

const list = createRoute({
  method: 'get',
  path: '/',
  tags: ['admin', 'approvals'],
  summary: 'Actions waiting for (or past) their quorum',
  security: [{ supabaseAuth: [] }],
  request: { query: z.object({ status: z.enum(['pending', 'expired', 'executed']).optional() }) },
  responses: {
    200: jsonResponse(PendingActionList, 'newest first'),
    ...errorResponses('UNAUTHORIZED', 'FORBIDDEN'),
  },
});

const get = createRoute({
  method: 'get',
  path: '/{id}',
  tags: ['admin', 'approvals'],
  summary: 'One pending action, with the WebAuthn assertion options that approve it',
  description:
    'Pass `assertionOptions` to `navigator.credentials.get({ publicKey })`: its challenge is the action’s digest.',
  security: [{ supabaseAuth: [] }],
  request: { params },
  responses: {
    200: jsonResponse(ActionWithOptions, 'the action'),
    ...errorResponses('UNAUTHORIZED', 'FORBIDDEN', 'ACTION_NOT_FOUND'),
  },
});

const approve = createRoute({
  method: 'post',
  path: '/{id}/approve',
  tags: ['admin', 'approvals'],
  summary: 'Approve an action with a security-key assertion over its digest',
  description:
    'The signed-in admin’s own active key must sign a WebAuthn assertion whose challenge is the action’s digest (user presence required). One administrator counts once (a repeated approval returns counted: false). The approval that meets the threshold executes the action in the same transaction; the signed audit log then records it as a com.noderr.trust.multisig_approval event carrying every assertion.',
  security: [{ supabaseAuth: [] }],
  request: { params, body: jsonBody(ApproveActionRequest) },
  responses: {
    200: jsonResponse(
      ApproveActionResponse,
      'approval recorded (action.status executed when the quorum was met)',
    ),
    ...errorResponses(
      'UNAUTHORIZED',
      'FORBIDDEN',
      'ACTION_NOT_FOUND',
      'ACTION_EXPIRED',
      'ACTION_NOT_PENDING',
      'APPROVAL_INVALID',
      'CONFLICT',
      'NODE_NOT_FOUND',
    ),
  },
});

export const approvals = createRouter()
  .openapi(list, async (c) => {
    const { status } = c.req.valid('query');
    return c.json({ items: (await c.var.storage.listPendingActions(status ?? null)).map(actionView) }, 200);
  })
  .openapi(get, async (c) => {
    const action = await c.var.storage.getPendingAction(c.req.valid('param').id);
    const keys = await c.var.storage.listAdminCredentials();
    const options = await assertionOptions(c.var.config, action, keys);
    return c.json(
      { action: actionView(action), assertionOptions: options as unknown as Record<string, unknown> },
      200,
    );
  })
  .openapi(approve, async (c) => {
    const { id } = c.req.valid('param');
    const response = c.req.valid('json').response as unknown as AuthenticationResponseJSON;
    const action = await c.var.storage.getPendingAction(id);
    if (action.status === 'executed')
      throw new ApiError('ACTION_NOT_PENDING', 'This action was already executed.');
    if (action.status === 'expired') {
      throw new ApiError(
        'ACTION_EXPIRED',
        'This action expired before its quorum was met; request it again.',
      );
    }
    const credentialId = typeof response?.id === 'string' ? response.id : '';
    const [key] = credentialId ? await c.var.storage.listAdminCredentials(credentialId) : [];
    if (key?.status !== 'active' || key.adminUserId !== c.var.admin.userId) {
      throw new ApiError(
        'APPROVAL_INVALID',
        'The approval was not accepted: not an active security key of the signed-in administrator.',
        {
          details: { reason: 'unknown key' },
        },
      );
    }
    const { signCount, evidence } = await verifyApproval(c.var.config, action, key, response);
    const result = await c.var.storage.approvePendingAction({
      actionId: id,
      digest: action.digest,
      adminUserId: c.var.admin.userId,
      credentialId: key.credentialId,
      signCount,
      evidence,
      actor: actorOf(c.var.admin),
    });
    // A session key activated here signs from now on in this isolate (others follow within their cache time).
    if (result.action.status === 'executed' && action.kind === 'session_key.activate')
      forgetSessionKeyState();
    c.var.log.info('admin.action.approved', {
      actionId: id,
      kind: action.kind,
      status: result.action.status,
      counted: result.counted,
    });
    return c.json({ action: actionView(result.action), counted: result.counted }, 200);
  });
