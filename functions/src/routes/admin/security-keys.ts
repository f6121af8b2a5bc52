import { createRoute } from '@hono/zod-openapi';
import type { RegistrationResponseJSON } from '@simplewebauthn/server';
import {
  EnrolSecurityKeyRequest,
  EnrolSecurityKeyResponse,
  RegistrationOptionsResponse,
  SecurityKeyList,
} from '../../../../shared/api/approvals.ts';
import { actorOf } from '../../middleware/admin.ts';
import { createRouter, errorResponses, jsonBody, jsonResponse } from '../../router.ts';
import { actionView, createAction } from '../../services/quorum.ts';
import { sha256Hex } from '../../services/secrets.ts';
import { claimedChallenge, registrationOptions, verifyRegistration } from '../../services/webauthn.ts';
import type { AdminCredential } from '../../storage/types.ts';

const QUORUM_NOTE =
  'While fewer than ADMIN_APPROVAL_THRESHOLD administrators have an active key (or the threshold is 0), a new key is active at once (bootstrap: each admin enrols their own first key). Once the quorum is in force, a new key is stored as pending and an `admin_credential.activate` action is returned: it needs the quorum’s approvals like any weakening action.';

const key = (k: AdminCredential) => ({
  id: k.id,
  adminUserId: k.adminUserId,
  adminLabel: k.adminLabel,
  credentialId: k.credentialId,
  keyId: k.keyId,
  algorithm: k.algorithm,
  label: k.label,
  status: k.status,
  createdAt: k.createdAt,
  lastUsedAt: k.lastUsedAt,
});

const list = createRoute({
  method: 'get',
  path: '/',
  tags: ['admin', 'approvals'],
  summary: 'Administrators’ enrolled security keys',
  security: [{ supabaseAuth: [] }],
  responses: {
    200: jsonResponse(SecurityKeyList, 'keys, oldest first'),
    ...errorResponses('UNAUTHORIZED', 'FORBIDDEN'),
  },
});

const options = createRoute({
  method: 'post',
  path: '/registration-options',
  tags: ['admin', 'approvals'],
  summary: 'Start enrolling a FIDO2 security key for the signed-in admin (WebAuthn registration options)',
  description:
    'Pass `options` to `navigator.credentials.create({ publicKey })` (e.g. with PublicKeyCredential.parseCreationOptionsFromJSON). The challenge is single use and lives 5 minutes.',
  security: [{ supabaseAuth: [] }],
  responses: {
    200: jsonResponse(RegistrationOptionsResponse, 'creation options'),
    ...errorResponses('UNAUTHORIZED', 'FORBIDDEN'),
  },
});

const enrol = createRoute({
  method: 'post',
  path: '/',
  tags: ['admin', 'approvals'],
  summary: 'Finish enrolling a security key (the registration response)',
  description: QUORUM_NOTE,
  security: [{ supabaseAuth: [] }],
  request: { body: jsonBody(EnrolSecurityKeyRequest) },
  responses: {
    201: jsonResponse(EnrolSecurityKeyResponse, 'enrolled and active (action: null)'),
    202: jsonResponse(EnrolSecurityKeyResponse, 'enrolled as pending; `action` needs the quorum'),
    ...errorResponses(
      'UNAUTHORIZED',
      'FORBIDDEN',
      'WEBAUTHN_REGISTRATION_FAILED',
      'CHALLENGE_INVALID',
      'CHALLENGE_EXPIRED',
      'CONFLICT',
    ),
  },
});

export const securityKeys = createRouter()
  .openapi(list, async (c) => c.json({ items: (await c.var.storage.listAdminCredentials()).map(key) }, 200))
  .openapi(options, async (c) => {
    const existing = await c.var.storage.listAdminCredentials();
    const opts = await registrationOptions(c.var.config, c.var.admin, existing);
    const { expiresAt } = await c.var.storage.beginWebauthnRegistration(
      c.var.admin.userId,
      await sha256Hex(opts.challenge),
    );
    return c.json({ options: opts as unknown as Record<string, unknown>, expiresAt }, 200);
  })
  .openapi(enrol, async (c) => {
    const { label, response } = c.req.valid('json');
    const challenge = claimedChallenge(response as { response?: { clientDataJSON?: unknown } });
    const verified = await verifyRegistration(
      c.var.config,
      response as unknown as RegistrationResponseJSON,
      challenge,
    );
    const actor = actorOf(c.var.admin);
    const threshold = c.var.config.ADMIN_APPROVAL_THRESHOLD;
    const stored = await c.var.storage.addAdminCredential({
      adminUserId: c.var.admin.userId,
      adminLabel: actor,
      challengeHash: await sha256Hex(challenge),
      ...verified,
      label,
      threshold,
    });
    c.var.log.info('admin.security_key.enrolled', { keyId: stored.keyId, status: stored.status });
    if (stored.status === 'active') return c.json({ key: key(stored), action: null }, 201);
    const action = await createAction(
      { config: c.var.config, storage: c.var.storage, actor },
      'admin_credential.activate',
      { credentialId: stored.credentialId, keyId: stored.keyId, adminUserId: stored.adminUserId, label },
      threshold,
    );
    return c.json({ key: key(stored), action: actionView(action) }, 202);
  });
