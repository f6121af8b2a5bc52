import { createRoute, z } from '@hono/zod-openapi';
import {
  InstallTokenItem,
  InstallTokenList,
  InstallTokenListQuery,
  IssueInstallTokenRequest,
  IssueInstallTokenResponse,
} from '../../../../shared/api/admin.ts';
import { actorOf } from '../../middleware/admin.ts';
import { createRouter, errorResponses, jsonBody, jsonResponse } from '../../router.ts';
import { newInstallToken, sha256Hex } from '../../services/secrets.ts';
import type { InstallTokenRecord } from '../../storage/types.ts';

const ADMIN_ERRORS = ['UNAUTHORIZED', 'FORBIDDEN'] as const;

function item(t: InstallTokenRecord): z.infer<typeof InstallTokenItem> {
  return {
    id: t.id,
    applicationId: t.applicationId,
    tier: t.tier,
    os: t.os,
    status: t.status,
    createdAt: t.createdAt,
    expiresAt: t.expiresAt,
    usedAt: t.usedAt,
    usedByNode: t.usedByNode,
    revokedAt: t.revokedAt,
  };
}

const issue = createRoute({
  method: 'post',
  path: '/',
  tags: ['admin'],
  summary: 'Issue an install token (shown only in this response)',
  security: [{ supabaseAuth: [] }],
  request: { body: jsonBody(IssueInstallTokenRequest) },
  responses: {
    201: jsonResponse(IssueInstallTokenResponse, 'token issued; only its hash is stored'),
    ...errorResponses(...ADMIN_ERRORS),
  },
});

const list = createRoute({
  method: 'get',
  path: '/',
  tags: ['admin'],
  summary: 'List install tokens (never their values)',
  security: [{ supabaseAuth: [] }],
  request: { query: InstallTokenListQuery },
  responses: {
    200: jsonResponse(InstallTokenList, 'tokens, newest first'),
    ...errorResponses(...ADMIN_ERRORS),
  },
});

const revoke = createRoute({
  method: 'post',
  path: '/{id}/revoke',
  tags: ['admin'],
  summary: 'Revoke an unused install token',
  security: [{ supabaseAuth: [] }],
  request: { params: z.object({ id: z.string().uuid() }) },
  responses: {
    200: jsonResponse(InstallTokenItem, 'revoked (revoking twice is a no-op)'),
    ...errorResponses(...ADMIN_ERRORS, 'NOT_FOUND', 'CONFLICT'),
  },
});

export const installTokens = createRouter()
  .openapi(issue, async (c) => {
    const body = c.req.valid('json');
    const token = newInstallToken();
    const record = await c.var.storage.issueInstallToken({
      tokenHash: await sha256Hex(token),
      applicationId: body.applicationId,
      tier: body.tier,
      os: body.os,
      expiresInDays: body.expiresInDays,
      actor: actorOf(c.var.admin),
    });
    c.var.log.info('admin.install_token.issued', { tokenId: record.id, tier: record.tier });
    return c.json(
      { id: record.id, token, tier: record.tier, os: record.os, expiresAt: record.expiresAt },
      201,
    );
  })
  .openapi(list, async (c) => {
    const { status } = c.req.valid('query');
    const items = await c.var.storage.listInstallTokens({ status: status ?? null });
    return c.json({ items: items.map(item) }, 200);
  })
  .openapi(revoke, async (c) => {
    const { id } = c.req.valid('param');
    const record = await c.var.storage.revokeInstallToken(id, actorOf(c.var.admin));
    return c.json(item(record), 200);
  });
