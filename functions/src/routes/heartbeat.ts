import { createRoute } from '@hono/zod-openapi';
import { HeartbeatRequest, HeartbeatResponse } from '../../../shared/api/heartbeat.ts';
import { fromBase64, toBase64 } from '../../../shared/encoding/bytes.ts';
import { TpmError } from '../../../shared/tpm2/errors.ts';
import { ApiError } from '../errors.ts';
import { createRouter, errorResponses, jsonBody, jsonResponse } from '../router.ts';
import { verifyNodeSession } from '../services/node-sessions.ts';
import { verifyReattestation } from '../services/reattestation.ts';
import { randomBytes, sha256Hex } from '../services/secrets.ts';

const route = createRoute({
  method: 'post',
  path: '/heartbeat',
  tags: ['node'],
  summary: 'Report liveness; answer re-attestation requests with a fresh quote',
  description:
    'Authorization: Bearer <node JWT> (a jwtToken body field is accepted for seed compatibility). The node status is read on every call. ' +
    'When the tier policy interval is due, the response carries a nonce; the next heartbeat must include `attestation` with a quote over it ' +
    'before the deadline (due time + the policy grace, reattestationGraceSeconds, default 10 minutes), else the node is suspended. A quote that breaks the PCR policy ' +
    'suspends the node and answers 422 PCR_POLICY_VIOLATION. `last_seen` is written at most once per HEARTBEAT_WRITE_INTERVAL_SECONDS.',
  security: [{ nodeSession: [] }],
  request: { body: jsonBody(HeartbeatRequest) },
  responses: {
    200: jsonResponse(HeartbeatResponse, 'acknowledged'),
    ...errorResponses(
      'SESSION_INVALID',
      'SESSION_FORBIDDEN',
      'NODE_NOT_FOUND',
      'NODE_SUSPENDED',
      'NODE_REVOKED',
      'CHALLENGE_INVALID',
      'CHALLENGE_EXPIRED',
      'ATTESTATION_INVALID',
    ),
  },
});

export const heartbeat = createRouter().openapi(route, async (c) => {
  const body = c.req.valid('json');
  const config = c.var.config;
  const storage = c.var.storage;
  const bearer = /^Bearer (\S+)$/.exec(c.req.header('authorization') ?? '')?.[1] ?? body.jwtToken;
  if (!bearer) {
    throw new ApiError(
      'SESSION_INVALID',
      'Send the node session as Authorization: Bearer <jwt> (from auth/verify).',
    );
  }
  const claims = await verifyNodeSession(config, storage, bearer);
  if (claims.sub !== body.nodeId) {
    throw new ApiError(
      'SESSION_FORBIDDEN',
      'This session belongs to another node; use the session of the node you report for.',
    );
  }

  if (body.attestation) {
    const nonce = fromBase64(body.attestation.nonce);
    if (nonce?.length !== 32) {
      throw new ApiError(
        'CHALLENGE_INVALID',
        'attestation.nonce must be the nonce the previous heartbeat returned.',
      );
    }
    // The node (status checked inside), its pinned AK and baseline, and its tier's current policy.
    const node = await storage.getNode(body.nodeId);
    if (node.status === 'revoked')
      throw new ApiError('NODE_REVOKED', 'This node was revoked; it cannot be used again.');
    if (node.status === 'suspended')
      throw new ApiError('NODE_SUSPENDED', 'This node is suspended; an admin must review and reactivate it.');
    await storage.consumeChallenge({
      purpose: 'reattestation',
      nonceHash: await sha256Hex(nonce),
      nodeId: body.nodeId,
    });
    const policy = await storage.getPolicy(node.tier);
    try {
      const result = await verifyReattestation({ node, attestation: body.attestation, nonce, policy });
      await storage.recordAttestation({
        nodeId: body.nodeId,
        result: 'passed',
        reason: null,
        pcrValues: result.pcrValues,
        clockInfo: result.clockInfo,
        policyVersion: policy.version,
      });
      c.var.log.info('reattestation.passed', { nodeId: body.nodeId });
    } catch (err) {
      if (err instanceof TpmError) {
        const outcome = await storage.recordAttestation({
          nodeId: body.nodeId,
          result: 'failed',
          reason: err.reason,
          pcrValues: null,
          clockInfo: null,
          policyVersion: policy.version,
          details: { message: err.message },
        });
        c.var.log.warn('reattestation.failed', {
          nodeId: body.nodeId,
          reason: err.reason,
          status: outcome.status,
        });
      }
      throw err;
    }
  }

  const nonce = randomBytes(32);
  const beat = await storage.recordHeartbeat({
    nodeId: body.nodeId,
    metrics: body.metrics ?? null,
    minWriteIntervalSeconds: config.HEARTBEAT_WRITE_INTERVAL_SECONDS,
    reattestationNonceHash: await sha256Hex(nonce),
  });
  const version = body.metrics?.version;
  return c.json(
    {
      acknowledged: true as const,
      shouldUpdate: typeof version === 'string' && version !== config.NODE_TARGET_VERSION,
      targetVersion: config.NODE_TARGET_VERSION,
      attestation: beat.reattestationRequired
        ? {
            required: true,
            ...(beat.reattestationNonceIssued ? { nonce: toBase64(nonce) } : {}),
            ...(beat.reattestationDeadline ? { deadline: beat.reattestationDeadline } : {}),
          }
        : { required: false },
    },
    200,
  );
});
