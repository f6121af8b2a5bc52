import { createRoute } from '@hono/zod-openapi';
import { InstallConfigRequest, InstallConfigResponse } from '../../../shared/api/install.ts';
import { toBase64 } from '../../../shared/encoding/bytes.ts';
import { rateLimit } from '../middleware/rate-limit.ts';
import { createRouter, errorResponses, jsonBody, jsonResponse } from '../router.ts';
import { randomBytes, sha256Hex } from '../services/secrets.ts';

const route = createRoute({
  method: 'post',
  path: '/config',
  tags: ['node'],
  summary: 'Check an install token and get the node configuration and a registration challenge',
  description:
    'Does not consume the token. Each call binds a fresh 32-byte nonce (10 minutes) to the token; the quote of the registration must carry it.',
  middleware: [rateLimit('TOKEN_GUESS_LIMITER')] as const,
  request: { body: jsonBody(InstallConfigRequest) },
  responses: {
    200: jsonResponse(InstallConfigResponse, 'token valid; configuration and challenge'),
    ...errorResponses(
      'INSTALL_TOKEN_INVALID',
      'INSTALL_TOKEN_USED',
      'INSTALL_TOKEN_EXPIRED',
      'INSTALL_TOKEN_REVOKED',
      'RATE_LIMITED',
    ),
  },
});

export const install = createRouter().openapi(route, async (c) => {
  const { installToken } = c.req.valid('json');
  const config = c.var.config;
  const nonce = randomBytes(32);
  const session = await c.var.storage.beginInstall({
    tokenHash: await sha256Hex(installToken),
    nonceHash: await sha256Hex(nonce),
  });
  c.var.log.info('install.config', { tokenId: session.installTokenId, tier: session.tier });
  return c.json(
    {
      tier: session.tier,
      os: session.os,
      config: {
        authApiUrl: new URL(c.req.url).origin,
        deploymentEngineUrl: config.DEPLOYMENT_ENGINE_URL,
        dockerRegistry: config.DOCKER_REGISTRY,
        dockerImage: config.DOCKER_IMAGE,
        telemetryEndpoint: config.TELEMETRY_ENDPOINT,
      },
      challenge: { nonce: toBase64(nonce), expiresAt: session.challengeExpiresAt },
      attestation: { pcrSelection: session.pcrSelection, requireEkCertificate: session.requireEkCertificate },
    },
    200,
  );
});
