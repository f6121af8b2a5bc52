import { z } from 'zod';
import { NodeItem, NodeList, NodeListQuery, SetNodeStatusRequest } from '../../../shared/api/admin.ts';
import { PendingActionView } from '../../../shared/api/approvals.ts';
import { NodeId } from '../../../shared/api/common.ts';
import { adminRequest, type RequestContext, validateInput } from './request.ts';
import type { FleetNode, NodeStatusName, PendingAction, SetNodeStatusInput } from './types.ts';

const NodeParam = z.object({ nodeId: NodeId });

/** Registered nodes: list them and change their status. */
export interface NodesApi {
  /**
   * Lists nodes, newest first, optionally by status.
   *
   * @example
   * ```ts
   * const { items } = await dapp.nodes.list({ status: 'suspended' });
   * ```
   */
  list(filter?: { status?: NodeStatusName }): Promise<{ items: FleetNode[] }>;

  /**
   * Suspends, reactivates or revokes a node; it takes effect on the node's next call. `revoked` is
   * final: changing a revoked node → `CONFLICT`; an unknown node → `NODE_NOT_FOUND`.
   *
   * @example
   * ```ts
   * await dapp.nodes.setStatus('0x3f…', { status: 'suspended', reason: 'PCR 7 changed after a BIOS update' });
   * ```
   */
  setStatus(nodeId: string, change: SetNodeStatusInput): Promise<FleetNode | PendingAction>;
}

/**
 * The node methods over `ctx`.
 *
 * @example
 * ```ts
 * const nodes = nodesApi(ctx);
 * await nodes.list();
 * ```
 */
export function nodesApi(ctx: RequestContext): NodesApi {
  return {
    list: async (filter = {}) =>
      adminRequest(ctx, {
        method: 'GET',
        path: '/nodes',
        query: validateInput(NodeListQuery, filter),
        response: NodeList,
      }),
    setStatus: async (nodeId, change) => {
      const id = validateInput(NodeParam, { nodeId }).nodeId;
      return adminRequest(ctx, {
        method: 'POST',
        path: `/nodes/${encodeURIComponent(id)}/status`,
        body: validateInput(SetNodeStatusRequest, change),
        response: z.union([PendingActionView, NodeItem]),
      });
    },
  };
}
