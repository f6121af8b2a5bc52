import { createRoute, z } from '@hono/zod-openapi';
import { AttestationPolicy, AttestationPolicyView } from '../../../../shared/api/admin.ts';
import { Tier } from '../../../../shared/api/common.ts';
import { actorOf } from '../../middleware/admin.ts';
import { createRouter, errorResponses, jsonBody, jsonResponse } from '../../router.ts';
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
  security: [{ supabaseAuth: [] }],
  request: { params, body: jsonBody(AttestationPolicy) },
  responses: {
    200: jsonResponse(PolicyResponse, 'the new policy'),
    ...errorResponses('UNAUTHORIZED', 'FORBIDDEN'),
  },
});

export const policies = createRouter()
  .openapi(get, async (c) => c.json(view(await c.var.storage.getPolicy(c.req.valid('param').tier)), 200))
  .openapi(put, async (c) => {
    const { tier } = c.req.valid('param');
    const body = c.req.valid('json');
    const policy = await c.var.storage.putPolicy({
      tier,
      ...body,
      eventLogRules: body.eventLogRules ?? null,
      actor: actorOf(c.var.admin),
    });
    c.var.log.info('admin.policy.updated', { tier, version: policy.version });
    return c.json(view(policy), 200);
  });
