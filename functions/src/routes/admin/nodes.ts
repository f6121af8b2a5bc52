import { createRoute, z } from '@hono/zod-openapi';
import { NodeItem, NodeList, NodeListQuery, SetNodeStatusRequest } from '../../../../shared/api/admin.ts';
import { NodeId } from '../../../../shared/api/common.ts';
import { actorOf } from '../../middleware/admin.ts';
import { createRouter, errorResponses, jsonBody, jsonResponse } from '../../router.ts';
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
  description: 'Takes effect on the node’s next call: status is read on every verify and heartbeat.',
  security: [{ supabaseAuth: [] }],
  request: { params: z.object({ nodeId: NodeId }), body: jsonBody(SetNodeStatusRequest) },
  responses: {
    200: jsonResponse(NodeItem, 'status changed'),
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
    const node = await c.var.storage.setNodeStatus({ nodeId, status, reason, actor: actorOf(c.var.admin) });
    c.var.log.info('admin.node.status', { nodeId, status });
    return c.json(item(node), 200);
  });
