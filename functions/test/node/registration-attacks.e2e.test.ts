import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAk, createNodeKey } from '../../../scripts/lib/tpm-fixture.ts';
import { type ApiResponse, Stack, TpmNode } from './stack.ts';

// Attacks on registration, each with real TPM evidence from swtpm, against the real Worker.
type ErrorBody = { error: { code: string; details?: { reason?: string } } };

function expectError(res: ApiResponse, status: number, code: string, reason?: string) {
  expect(res.status).toBe(status);
  const body = res.body as unknown as ErrorBody;
  expect(body.error.code).toBe(code);
  if (reason) expect(body.error.details?.reason).toBe(reason);
}

describe('registration attacks', () => {
  let stack: Stack;
  let node: TpmNode;
  let stranger: TpmNode; // a TPM whose EK CA the service does not trust

  beforeAll(async () => {
    [stack, node, stranger] = await Promise.all([Stack.start(), TpmNode.create(), TpmNode.create()]);
    await stack.trustCa(node.tpm);
  }, 120_000);

  afterAll(async () => {
    await Promise.all([node?.stop(), stranger?.stop()]);
    await stack?.stop();
  });

  async function nonceFor(token: string): Promise<Buffer> {
    const cfg = await node.installConfig(stack, token);
    expect(cfg.status).toBe(200);
    return Buffer.from(cfg.body.challenge.nonce, 'base64');
  }

  async function register(body: unknown) {
    return stack.call('POST', '/api/v1/auth/register', body);
  }

  it('refuses a nonce issued for another token with CHALLENGE_INVALID', async () => {
    const [a, b] = [await stack.issueToken(), await stack.issueToken()];
    const nonceOfA = await nonceFor(a);
    expectError(await register(await node.registrationBody(b, nonceOfA)), 400, 'CHALLENGE_INVALID');
  });

  it('refuses a replayed nonce with CHALLENGE_INVALID, and a failed attempt does not burn the token', async () => {
    const token = await stack.issueToken();
    const nonce = await nonceFor(token);
    const body = await node.registrationBody(token, nonce);
    body.publicKey = stranger.nodeKey.pem; // fails verification, but consumes the nonce
    expectError(await register(body), 422, 'ATTESTATION_INVALID', 'NODE_KEY_MISMATCH');
    expectError(await register(await node.registrationBody(token, nonce)), 400, 'CHALLENGE_INVALID');
    expect((await node.installConfig(stack, token)).status).toBe(200);
  });

  it('refuses a quote signed by another AK with SIGNATURE_INVALID', async () => {
    const token = await stack.issueToken();
    const otherAk = await createAk(node.tpm, node.dir, node.ek, 'ecc-ecdsa', 'other-ak');
    const body = await node.registrationBody(token, await nonceFor(token), {
      ak: otherAk,
      label: 'other-ak-quote',
    });
    expectError(await register(body), 422, 'ATTESTATION_INVALID', 'SIGNATURE_INVALID');
  });

  it('refuses a non-restricted key posing as the AK with AK_ATTRIBUTES_INVALID', async () => {
    const token = await stack.issueToken();
    const fakeKey = await createNodeKey(node.tpm, node.dir, 'fake-ak');
    // TPM2_Quote signs with any signing key; only the restricted attribute makes its output trustworthy.
    const fake = { ...fakeKey, kind: 'ecc-ecdsa' as const, ek: node.ek };
    const body = await node.registrationBody(token, await nonceFor(token), {
      ak: fake,
      label: 'fake-ak-quote',
    });
    body.attestation.akPublic = Buffer.from(fake.public).toString('base64');
    expectError(await register(body), 422, 'ATTESTATION_INVALID', 'AK_ATTRIBUTES_INVALID');
  });

  it('refuses an EK certificate from an untrusted CA when the tier requires one with EK_CERT_UNTRUSTED', async () => {
    const token = await stack.issueToken('ORACLE');
    const cfg = await stranger.installConfig(stack, token);
    const body = await stranger.registrationBody(token, Buffer.from(cfg.body.challenge.nonce, 'base64'));
    expectError(await register(body), 422, 'ATTESTATION_INVALID', 'EK_CERT_UNTRUSTED');
  });

  it('refuses a registration without EK certificate on a tier that requires one with EK_CERT_REQUIRED', async () => {
    const token = await stack.issueToken('GUARDIAN');
    const body = await node.registrationBody(token, await nonceFor(token));
    delete (body.attestation as { ekCertificate?: string }).ekCertificate;
    expectError(await register(body), 422, 'ATTESTATION_INVALID', 'EK_CERT_REQUIRED');
  });

  it('refuses an EK public area that is not the certified EK with EK_MISMATCH', async () => {
    const token = await stack.issueToken('ORACLE');
    const body = await node.registrationBody(token, await nonceFor(token));
    body.attestation.ekPublic = Buffer.from(stranger.ek.public).toString('base64');
    expectError(await register(body), 422, 'ATTESTATION_INVALID', 'EK_MISMATCH');
  });

  it('refuses a publicKey that is not the certified node key with NODE_KEY_MISMATCH', async () => {
    const token = await stack.issueToken();
    const body = await node.registrationBody(token, await nonceFor(token));
    body.publicKey = stranger.nodeKey.pem;
    expectError(await register(body), 422, 'ATTESTATION_INVALID', 'NODE_KEY_MISMATCH');
  });

  it('refuses altered PCR values with PCR_DIGEST_MISMATCH', async () => {
    const token = await stack.issueToken();
    const body = await node.registrationBody(token, await nonceFor(token));
    const sha256 = body.attestation.pcrValues.sha256 as Record<string, string>;
    sha256['0'] = 'ff'.repeat(32);
    expectError(await register(body), 422, 'ATTESTATION_INVALID', 'PCR_DIGEST_MISMATCH');
  });

  it('drops an activation after three wrong secrets: ACTIVATION_FAILED ×3, then ACTIVATION_NOT_FOUND', async () => {
    const token = await stack.issueToken();
    const reg = await register(await node.registrationBody(token, await nonceFor(token)));
    expect(reg.status).toBe(202);
    const activationId = (reg.body as { activationId: string }).activationId;
    const wrong = Buffer.alloc(32, 7).toString('base64');
    for (let i = 0; i < 3; i++) {
      expectError(
        await stack.call('POST', '/api/v1/auth/activate', { activationId, secret: wrong }),
        401,
        'ACTIVATION_FAILED',
      );
    }
    expectError(
      await stack.call('POST', '/api/v1/auth/activate', { activationId, secret: wrong }),
      404,
      'ACTIVATION_NOT_FOUND',
    );
    // The token survives: it is consumed only by a successful activation.
    expect((await node.installConfig(stack, token)).status).toBe(200);
  });

  it('registers a TPM with an ECC P-256 EK (ECDH + KDFe credential) inside workerd', async () => {
    const ecc = await TpmNode.create('ecc');
    try {
      await stack.trustCa(ecc.tpm);
      const res = await ecc.register(stack, await stack.issueToken('GUARDIAN'));
      expect(res.status).toBe(201);
      expect((await ecc.verify(stack)).status).toBe(200);
    } finally {
      await ecc.stop();
    }
  });

  it('refuses a second registration of the same EK with EK_ALREADY_REGISTERED', async () => {
    expect((await node.register(stack, await stack.issueToken())).status).toBe(201);
    const again = await stack.issueToken();
    const body = await node.registrationBody(again, await nonceFor(again));
    expectError(await register(body), 409, 'EK_ALREADY_REGISTERED');
  });
});

describe('session signing keys under the admin quorum', () => {
  it('answers SESSION_KEY_UNAVAILABLE (503), not INTERNAL, when no signing key is active', async () => {
    const stack = await Stack.start();
    const node = await TpmNode.create();
    try {
      await stack.trustCa(node.tpm);
      expect((await node.register(stack, await stack.issueToken('ORACLE'))).status).toBe(201);
      // Two admins with security keys put the quorum in force; then the active key is retired, as if
      // it had left the secret, and no other key has been approved.
      await stack.sql(`
        insert into admin_credentials (admin_user_id, admin_label, credential_id, public_key_cose, key_id, algorithm, label, status)
        values (gen_random_uuid(), 'a@x (1)', 'cred-a', 'AA', 'bp1_0000000000000001', -7, 'key a', 'active'),
               (gen_random_uuid(), 'b@x (2)', 'cred-b', 'AA', 'bp1_0000000000000002', -7, 'key b', 'active');
        update session_signing_keys set status = 'retired', retired_at = now() where status = 'active';`);
      await stack.restartApi();
      const res = await node.verify(stack);
      expectError(res, 503, 'SESSION_KEY_UNAVAILABLE');
      expect((res.body as unknown as ErrorBody & { error: { message: string } }).error.message).toMatch(
        /session-keys\/\{kid\}\/activate/,
      );
    } finally {
      await node.stop();
      await stack.stop();
    }
  }, 120_000);
});
