import 'reflect-metadata';
import { createRoute, z } from '@hono/zod-openapi';
import { X509Certificate } from '@peculiar/x509';
import { AddEkAnchorRequest, EkAnchorItem, EkAnchorList } from '../../../../shared/api/admin.ts';
import { PendingActionView } from '../../../../shared/api/approvals.ts';
import { ApiError } from '../../errors.ts';
import { actorOf } from '../../middleware/admin.ts';
import { createRouter, errorResponses, jsonBody, jsonResponse } from '../../router.ts';
import { actionView, requireQuorum } from '../../services/quorum.ts';
import { sha256Hex } from '../../services/secrets.ts';
import type { EkAnchor } from '../../storage/types.ts';

function item(a: EkAnchor): z.infer<typeof EkAnchorItem> {
  return { id: a.id, label: a.label, subject: a.subject, fingerprint: a.fingerprint, createdAt: a.createdAt };
}

const list = createRoute({
  method: 'get',
  path: '/',
  tags: ['admin'],
  summary: 'Extra EK trust anchors (in addition to the shipped manufacturer bundle)',
  security: [{ supabaseAuth: [] }],
  responses: { 200: jsonResponse(EkAnchorList, 'anchors'), ...errorResponses('UNAUTHORIZED', 'FORBIDDEN') },
});

const add = createRoute({
  method: 'post',
  path: '/',
  tags: ['admin'],
  summary: "Add an EK trust anchor (e.g. a private cloud's vTPM CA)",
  description:
    'A new anchor widens which TPMs are trusted: once the approval quorum is in force (ADMIN_APPROVAL_THRESHOLD admins have a security key) it answers 202 with a pending action; with threshold 0 or during bootstrap it is added at once as before. Deleting an anchor needs one admin.',
  security: [{ supabaseAuth: [] }],
  request: { body: jsonBody(AddEkAnchorRequest) },
  responses: {
    201: jsonResponse(EkAnchorItem, 'anchor added'),
    202: jsonResponse(PendingActionView, 'the new anchor waits for the approval quorum'),
    ...errorResponses('UNAUTHORIZED', 'FORBIDDEN', 'CONFLICT'),
  },
});

const remove = createRoute({
  method: 'delete',
  path: '/{id}',
  tags: ['admin'],
  summary: 'Delete an EK trust anchor',
  security: [{ supabaseAuth: [] }],
  request: { params: z.object({ id: z.string().uuid() }) },
  responses: { 204: { description: 'deleted' }, ...errorResponses('UNAUTHORIZED', 'FORBIDDEN', 'NOT_FOUND') },
});

function parseCertificate(pem: string): X509Certificate {
  const blocks = pem.match(/-----BEGIN CERTIFICATE-----/g) ?? [];
  if (blocks.length !== 1) throw new Error('one certificate per anchor');
  return new X509Certificate(pem.trim());
}

export const ekAnchors = createRouter()
  .openapi(list, async (c) => c.json({ items: (await c.var.storage.listEkAnchors()).map(item) }, 200))
  .openapi(add, async (c) => {
    const { label, pem } = c.req.valid('json');
    let cert: X509Certificate;
    try {
      cert = parseCertificate(pem);
    } catch {
      throw new ApiError(
        'VALIDATION_FAILED',
        'pem must hold exactly one readable X.509 certificate in PEM form.',
        {
          details: { issues: [{ path: 'pem', message: 'not a single readable certificate' }] },
        },
      );
    }
    const actor = actorOf(c.var.admin);
    const input = {
      label,
      pem: cert.toString('pem'),
      subject: cert.subject,
      fingerprint: await sha256Hex(new Uint8Array(cert.rawData)),
    };
    const pending = await requireQuorum(
      { config: c.var.config, storage: c.var.storage, actor },
      'ek_anchor.add',
      input,
    );
    if (pending) {
      c.var.log.info('admin.ek_anchor.pending', { actionId: pending.id, subject: input.subject });
      return c.json(actionView(pending), 202);
    }
    const anchor = await c.var.storage.addEkAnchor({ ...input, actor });
    c.var.log.info('admin.ek_anchor.added', { id: anchor.id, subject: anchor.subject });
    return c.json(item(anchor), 201);
  })
  .openapi(remove, async (c) => {
    await c.var.storage.deleteEkAnchor(c.req.valid('param').id, actorOf(c.var.admin));
    return c.body(null, 204);
  });
