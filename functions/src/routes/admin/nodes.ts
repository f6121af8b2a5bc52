import { createRoute, z } from '@hono/zod-openapi';
import { NodeItem, NodeList, NodeListQuery, SetNodeStatusRequest } from '../../../../shared/api/admin.ts';
import { PendingActionView } from '../../../../shared/api/approvals.ts';
import { NodeId } from '../../../../shared/api/common.ts';
import { actorOf } from '../../middleware/admin.ts';
import { createRouter, errorResponses, jsonBody, jsonResponse } from '../../router.ts';
import { actionView, requireQuorum } from '../../services/quorum.ts';
import type { NodeSummary } from '../../storage/types.ts';

function item(n: NodeSummary): z.infer<typeof NodeItem> {
  return {
    nodeId: n.nodeId,
    tier: n.tier,
    os: n.os,
    status: n.status,
    lastSeen: n.lastSeen,
    lastAttestedAt: n.lastAttestedAt,
    attestationDueAt: n.attestationDueAt,
    createdAt: n.createdAt,
    ekFingerprint: n.ekFingerprint,
  };
}

const list = createRoute({
  method: 'get',
  path: '/',
  tags: ['admin'],
  summary: 'List nodes',
  security: [{ supabaseAuth: [] }],
  request: { query: NodeListQuery },
  responses: {
    200: jsonResponse(NodeList, 'nodes, newest first'),
    ...errorResponses('UNAUTHORIZED', 'FORBIDDEN'),
  },
});

const setStatus = createRoute({
  method: 'post',
  path: '/{nodeId}/status',
  tags: ['admin'],
  summary: 'Suspend, reactivate or revoke a node (revoked is final)',
  description:
    'Takes effect on the node’s next call: status is read on every verify and heartbeat. ' +
    'Suspending and revoking need one admin. Reactivating a suspended node weakens security: once ADMIN_APPROVAL_THRESHOLD (t) administrators have enrolled a security key, it answers 202 with a pending action that executes after t approvals (POST /api/v1/admin/approvals/{id}/approve). With t = 0, or while fewer than t admins have a key (bootstrap), it runs at once as before.',
  security: [{ supabaseAuth: [] }],
  request: { params: z.object({ nodeId: NodeId }), body: jsonBody(SetNodeStatusRequest) },
  responses: {
    200: jsonResponse(NodeItem, 'status changed'),
    202: jsonResponse(PendingActionView, 'reactivation waits for the approval quorum'),
    ...errorResponses('UNAUTHORIZED', 'FORBIDDEN', 'NODE_NOT_FOUND', 'CONFLICT'),
  },
});

export const nodes = createRouter()
  .openapi(list, async (c) => {
    const { status } = c.req.valid('query');
    return c.json({ items: (await c.var.storage.listNodes({ status: status ?? null })).map(item) }, 200);
  })
  .openapi(setStatus, async (c) => {
    const { nodeId } = c.req.valid('param');
    const { status, reason } = c.req.valid('json');
    const actor = actorOf(c.var.admin);
    if (status === 'active' && (await c.var.storage.getNode(nodeId)).status === 'suspended') {
      const pending = await requireQuorum(
        { config: c.var.config, storage: c.var.storage, actor },
        'node.reactivate',
        { nodeId, reason },
      );
      if (pending) {
        c.var.log.info('admin.node.reactivation_pending', { nodeId, actionId: pending.id });
        return c.json(actionView(pending), 202);
      }
    }
    const node = await c.var.storage.setNodeStatus({ nodeId, status, reason, actor });
    c.var.log.info('admin.node.status', { nodeId, status });
    return c.json(item(node), 200);
  });
