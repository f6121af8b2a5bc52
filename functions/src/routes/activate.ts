import { createRoute } from '@hono/zod-openapi';
import { ActivateRequest, ActivateResponse } from '../../../shared/api/registration.ts';
import { fromBase64 } from '../../../shared/encoding/bytes.ts';
import { ApiError } from '../errors.ts';
import { rateLimit } from '../middleware/rate-limit.ts';
import { createRouter, errorResponses, jsonBody, jsonResponse } from '../router.ts';
import { nodeKeyJkt } from '../services/node-key.ts';
import { mintNodeSession } from '../services/node-sessions.ts';
import { newApiKey, sha256Hex } from '../services/secrets.ts';

const route = createRoute({
  method: 'post',
  path: '/activate',
  tags: ['node'],
  summary: 'Complete registration with the secret TPM2_ActivateCredential recovered',
  description:
    'One transaction consumes the install token and creates the node and its API key. A wrong secret counts an attempt; after 3 the activation is dropped.',
  middleware: [rateLimit('CREDENTIAL_GUESS_LIMITER')] as const,
  request: { body: jsonBody(ActivateRequest) },
  responses: {
    201: jsonResponse(ActivateResponse, 'node registered; the API key is shown once'),
    ...errorResponses(
      'ACTIVATION_NOT_FOUND',
      'ACTIVATION_FAILED',
      'INSTALL_TOKEN_USED',
      'INSTALL_TOKEN_EXPIRED',
      'INSTALL_TOKEN_REVOKED',
      'EK_ALREADY_REGISTERED',
      'RATE_LIMITED',
      'SESSION_KEY_UNAVAILABLE',
    ),
  },
});

export const activate = createRouter().openapi(route, async (c) => {
  const { activationId, secret } = c.req.valid('json');
  const secretBytes = fromBase64(secret);
  if (!secretBytes || secretBytes.length === 0 || secretBytes.length > 64) {
    throw new ApiError(
      'VALIDATION_FAILED',
      'secret must be the base64 of what TPM2_ActivateCredential returned.',
    );
  }
  const apiKey = newApiKey();
  const node = await c.var.storage.completeRegistration({
    activationId,
    secretHash: await sha256Hex(secretBytes),
    apiKeyHash: await sha256Hex(apiKey),
  });
  const session = await mintNodeSession(c.var.config, c.var.storage, {
    nodeId: node.nodeId,
    tier: node.tier,
    jkt: await nodeKeyJkt(node.publicKey),
    ttlSeconds: node.sessionTtlSeconds,
  });
  c.var.log.info('register.activated', { nodeId: node.nodeId, tier: node.tier });
  return c.json(
    {
      nodeId: node.nodeId,
      apiKey,
      jwtToken: session.jwt,
      expiresAt: session.expiresAt.toISOString(),
      status: 'registered' as const,
    },
    201,
  );
});
