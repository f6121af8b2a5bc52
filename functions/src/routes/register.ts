import { createRoute } from '@hono/zod-openapi';
import { RegisterRequest, RegisterResponse } from '../../../shared/api/registration.ts';
import { fromBase64, toBase64, toHex } from '../../../shared/encoding/bytes.ts';
import { TpmError } from '../../../shared/tpm2/errors.ts';
import { makeCredential } from '../../../shared/tpm2/make-credential.ts';
import { ApiError } from '../errors.ts';
import { rateLimit } from '../middleware/rate-limit.ts';
import { createRouter, errorResponses, jsonBody, jsonResponse } from '../router.ts';
import { verifyRegistrationEvidence } from '../services/registration-evidence.ts';
import { randomBytes, sha256Hex } from '../services/secrets.ts';
import { trustStoreWith } from '../services/trust-store.ts';

const route = createRoute({
  method: 'post',
  path: '/register',
  tags: ['node'],
  summary: 'Register a node with TPM evidence; answers with a credential to activate',
  description:
    'Consumes the nonce (success or not) but never the install token. All checks pass → MakeCredential for the EK and AK name; ' +
    'the node is created only when /auth/activate returns the secret. The certify qualifying data is not checked (tpm2-tools ≤ 5.4 cannot set it); freshness comes from the quote.',
  middleware: [rateLimit('TOKEN_GUESS_LIMITER')] as const,
  request: { body: jsonBody(RegisterRequest) },
  responses: {
    202: jsonResponse(RegisterResponse, 'evidence verified; activate the credential next'),
    ...errorResponses(
      'INSTALL_TOKEN_INVALID',
      'INSTALL_TOKEN_USED',
      'INSTALL_TOKEN_EXPIRED',
      'INSTALL_TOKEN_REVOKED',
      'CHALLENGE_INVALID',
      'CHALLENGE_EXPIRED',
      'ATTESTATION_INVALID',
      'EK_ALREADY_REGISTERED',
      'RATE_LIMITED',
    ),
  },
});

export const register = createRouter().openapi(route, async (c) => {
  const body = c.req.valid('json');
  const storage = c.var.storage;
  const nonce = fromBase64(body.attestation.nonce);
  if (nonce?.length !== 32) {
    throw new ApiError(
      'CHALLENGE_INVALID',
      'attestation.nonce must be the 32-byte nonce install/config returned.',
    );
  }
  const tokenHash = await sha256Hex(body.installToken);
  const challenge = await storage.consumeChallenge({
    purpose: 'install',
    nonceHash: await sha256Hex(nonce),
    installTokenHash: tokenHash,
  });
  const [policy, anchors] = await Promise.all([storage.getPolicy(challenge.tier), storage.listEkAnchors()]);

  let evidence: Awaited<ReturnType<typeof verifyRegistrationEvidence>>;
  try {
    evidence = await verifyRegistrationEvidence({
      attestation: body.attestation,
      publicKeyPem: body.publicKey,
      nonce,
      policy,
      trustStore: trustStoreWith(anchors),
    });
  } catch (err) {
    if (err instanceof TpmError) {
      c.var.log.warn('register.rejected', { reason: err.reason, tokenId: challenge.installTokenId });
      await storage.recordRegistrationFailure(tokenHash, err.reason, { message: err.message });
    }
    throw err;
  }
  await storage.checkEkAvailable(evidence.ekFingerprint);

  const secret = randomBytes(32);
  const credential = await makeCredential({
    ekPublic: evidence.ekPublic,
    objectName: evidence.akName,
    secret,
  });
  const pending = await storage.storePendingActivation({
    installTokenHash: tokenHash,
    nodeId: evidence.nodeId,
    publicKey: body.publicKey.trim(),
    ekFingerprint: evidence.ekFingerprint,
    akPublic: evidence.akPublicBase64,
    akName: toHex(evidence.akName),
    pcrBaseline: evidence.pcrBaseline,
    attestationData: {
      systemInfo: body.systemInfo ?? {},
      ekCertificate: evidence.ekCertificate
        ? {
            subject: evidence.ekCertificate.subject,
            issuer: evidence.ekCertificate.issuer,
            anchor: evidence.ekCertificate.anchorSubject,
            chain: evidence.ekCertificate.chainFingerprints,
          }
        : null,
      firmwareVersion: evidence.firmwareVersion.toString(16),
    },
    policyVersion: policy.version,
    clockInfo: {
      clock: Number(evidence.clockInfo.clock),
      resetCount: evidence.clockInfo.resetCount,
      restartCount: evidence.clockInfo.restartCount,
      safe: evidence.clockInfo.safe,
    },
    secretHash: await sha256Hex(secret),
  });
  c.var.log.info('register.accepted', { nodeId: evidence.nodeId, activationId: pending.activationId });
  return c.json(
    {
      status: 'activation_required' as const,
      activationId: pending.activationId,
      credentialBlob: toBase64(credential.credentialBlob),
      encryptedSecret: toBase64(credential.encryptedSecret),
      expiresAt: pending.expiresAt,
    },
    202,
  );
});
