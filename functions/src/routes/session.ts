import { createRoute } from '@hono/zod-openapi';
import {
  NodeChallengeRequest,
  NodeChallengeResponse,
  VerifyRequest,
  VerifyResponse,
} from '../../../shared/api/session.ts';
import { fromBase64, toBase64 } from '../../../shared/encoding/bytes.ts';
import { ApiError } from '../errors.ts';
import { rateLimit } from '../middleware/rate-limit.ts';
import { createRouter, errorResponses, jsonBody, jsonResponse } from '../router.ts';
import { nodeKeyJkt } from '../services/node-key.ts';
import { mintNodeSession } from '../services/node-sessions.ts';
import { verifyMessage, verifyNodeSignature } from '../services/node-signature.ts';
import { randomBytes, sha256Hex } from '../services/secrets.ts';

const challengeRoute = createRoute({
  method: 'post',
  path: '/challenge',
  tags: ['node'],
  summary: 'Get a single-use nonce (5 minutes) to sign with the node key',
  request: { body: jsonBody(NodeChallengeRequest) },
  responses: {
    200: jsonResponse(NodeChallengeResponse, 'nonce to sign'),
    ...errorResponses('NODE_NOT_FOUND', 'NODE_SUSPENDED', 'NODE_REVOKED'),
  },
});

const verifyRoute = createRoute({
  method: 'post',
  path: '/verify',
  tags: ['node'],
  summary: 'Open a node session: API key + node-key signature over the challenge → ES256 JWT',
  middleware: [rateLimit('CREDENTIAL_GUESS_LIMITER')] as const,
  request: { body: jsonBody(VerifyRequest) },
  responses: {
    200: jsonResponse(VerifyResponse, 'session opened'),
    ...errorResponses(
      'CREDENTIALS_INVALID',
      'CHALLENGE_INVALID',
      'CHALLENGE_EXPIRED',
      'NODE_SUSPENDED',
      'NODE_REVOKED',
      'RATE_LIMITED',
      'SESSION_KEY_UNAVAILABLE',
    ),
  },
});

const BAD_CREDENTIALS = () =>
  new ApiError('CREDENTIALS_INVALID', 'The node id, API key or challenge signature is wrong.');

export const session = createRouter()
  .openapi(challengeRoute, async (c) => {
    const { nodeId } = c.req.valid('json');
    const nonce = randomBytes(32);
    const challenge = await c.var.storage.issueNodeChallenge(nodeId, await sha256Hex(nonce));
    return c.json({ nonce: toBase64(nonce), expiresAt: challenge.expiresAt }, 200);
  })
  .openapi(verifyRoute, async (c) => {
    const body = c.req.valid('json');
    const nonce = fromBase64(body.challenge);
    const signature = fromBase64(body.signature);
    if (nonce?.length !== 32)
      throw new ApiError('CHALLENGE_INVALID', 'challenge must be the nonce auth/challenge returned.');
    if (!signature) throw BAD_CREDENTIALS();
    // One round trip checks the API key and the node's status and consumes the challenge.
    const node = await c.var.storage.beginNodeSession({
      nodeId: body.nodeId,
      apiKeyHash: await sha256Hex(body.apiKey),
      nonceHash: await sha256Hex(nonce),
    });
    if (!(await verifyNodeSignature(node.publicKey, verifyMessage(body.nodeId, nonce), signature))) {
      c.var.log.warn('session.bad_signature', { nodeId: body.nodeId });
      throw BAD_CREDENTIALS();
    }
    const minted = await mintNodeSession(c.var.config, c.var.storage, {
      nodeId: node.nodeId,
      tier: node.tier,
      jkt: await nodeKeyJkt(node.publicKey),
      ttlSeconds: node.sessionTtlSeconds,
    });
    return c.json(
      { jwtToken: minted.jwt, expiresAt: minted.expiresAt.toISOString(), status: 'verified' as const },
      200,
    );
  });
