import { createRoute, z } from '@hono/zod-openapi';
import { AttestationPolicy, AttestationPolicyView } from '../../../../shared/api/admin.ts';
import { PendingActionView } from '../../../../shared/api/approvals.ts';
import { Tier } from '../../../../shared/api/common.ts';
import { actorOf } from '../../middleware/admin.ts';
import { createRouter, errorResponses, jsonBody, jsonResponse } from '../../router.ts';
import { actionView, isTightening, requireQuorum } from '../../services/quorum.ts';
import type { AttestationPolicy as StoredPolicy } from '../../storage/types.ts';

const PolicyResponse = AttestationPolicyView.meta({ id: 'AttestationPolicyResponse' });

function view(p: StoredPolicy): z.infer<typeof PolicyResponse> {
  return {
    tier: p.tier,
    requireEkCertificate: p.requireEkCertificate,
    pcrSelection: p.pcrSelection,
    pcrMode: p.pcrMode,
    allowedPcrValues: p.allowedPcrValues,
    reattestationIntervalSeconds: p.reattestationIntervalSeconds,
    reattestationGraceSeconds: p.reattestationGraceSeconds,
    sessionTtlSeconds: p.sessionTtlSeconds,
    eventLogRules: p.eventLogRules,
    version: p.version,
    updatedAt: p.updatedAt,
  };
}

const params = z.object({ tier: Tier });

const get = createRoute({
  method: 'get',
  path: '/{tier}',
  tags: ['admin'],
  summary: "A tier's attestation policy",
  security: [{ supabaseAuth: [] }],
  request: { params },
  responses: {
    200: jsonResponse(PolicyResponse, 'the policy'),
    ...errorResponses('UNAUTHORIZED', 'FORBIDDEN'),
  },
});

const put = createRoute({
  method: 'put',
  path: '/{tier}',
  tags: ['admin'],
  summary: "Replace a tier's attestation policy (applies to the next registration or re-attestation)",
  description:
    'A policy at least as strict as the current one (EK certificate kept, PCR mode not looser, no PCR dropped, allowlists not widened, intervals and session lifetime not longer, event-log rules unchanged) applies at once. A relaxation answers 202 with a pending action when the approval quorum is in force (ADMIN_APPROVAL_THRESHOLD admins have a security key); with threshold 0 or during bootstrap it applies at once as before.',
  security: [{ supabaseAuth: [] }],
  request: { params, body: jsonBody(AttestationPolicy) },
  responses: {
    200: jsonResponse(PolicyResponse, 'the new policy'),
    202: jsonResponse(PendingActionView, 'the relaxation waits for the approval quorum'),
    ...errorResponses('UNAUTHORIZED', 'FORBIDDEN'),
  },
});

export const policies = createRouter()
  .openapi(get, async (c) => c.json(view(await c.var.storage.getPolicy(c.req.valid('param').tier)), 200))
  .openapi(put, async (c) => {
    const { tier } = c.req.valid('param');
    const body = c.req.valid('json');
    const actor = actorOf(c.var.admin);
    const next = { ...body, eventLogRules: body.eventLogRules ?? null };
    if (!isTightening(await c.var.storage.getPolicy(tier), next)) {
      const pending = await requireQuorum(
        { config: c.var.config, storage: c.var.storage, actor },
        'policy.relax',
        {
          tier,
          ...next,
        },
      );
      if (pending) {
        c.var.log.info('admin.policy.relaxation_pending', { tier, actionId: pending.id });
        return c.json(actionView(pending), 202);
      }
    }
    const policy = await c.var.storage.putPolicy({ tier, ...next, actor });
    c.var.log.info('admin.policy.updated', { tier, version: policy.version });
    return c.json(view(policy), 200);
  });
