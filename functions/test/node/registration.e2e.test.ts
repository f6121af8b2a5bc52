import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pcrExtend } from '../../../scripts/lib/tpm-fixture.ts';
import { Stack, TpmNode } from './stack.ts';

// The whole life of a node against the real Worker (wrangler dev), PostgreSQL 15 and a swtpm whose EK
// certificate comes from a local CA that the admin adds as a trust anchor.
describe('a swtpm node from install token to revocation', () => {
  let stack: Stack;
  let node: TpmNode;
  const secretsSeen: string[] = [];

  beforeAll(async () => {
    [stack, node] = await Promise.all([Stack.start(), TpmNode.create()]);
    await stack.trustCa(node.tpm);
  }, 120_000);

  afterAll(async () => {
    await node?.stop();
    await stack?.stop();
  });

  it('registers: admin token → install/config → register → activate', async () => {
    const token = await stack.issueToken('ORACLE');
    secretsSeen.push(token);
    const res = await node.register(stack, token);
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ status: 'registered' });
    expect(node.nodeId).toMatch(/^0x[0-9a-f]{64}$/);
    expect(node.apiKey).toMatch(/^ndr_live_[0-9a-f]{64}$/);
    secretsSeen.push(node.apiKey, node.jwt);

    const list = await stack.admin<{ items: { nodeId: string; status: string; tier: string }[] }>(
      'GET',
      '/api/v1/admin/nodes',
    );
    expect(list.body.items).toContainEqual(
      expect.objectContaining({ nodeId: node.nodeId, status: 'active', tier: 'ORACLE' }),
    );
    const tokens = await stack.admin<{ items: { status: string; usedByNode: string }[] }>(
      'GET',
      '/api/v1/admin/install-tokens?status=used',
    );
    expect(tokens.body.items).toContainEqual(expect.objectContaining({ usedByNode: node.nodeId }));
  });

  it('refuses the consumed token for another install with INSTALL_TOKEN_USED', async () => {
    const res = await node.installConfig(stack, secretsSeen[0]!);
    expect(res.status).toBe(409);
    expect((res.body as unknown as { error: { code: string } }).error.code).toBe('INSTALL_TOKEN_USED');
  });

  it('opens a session with a TPM2_Sign signature (TPMT_SIGNATURE and DER)', async () => {
    const tss = await node.verify(stack, 'tss');
    expect(tss.status).toBe(200);
    expect(tss.body).toMatchObject({ status: 'verified' });
    const der = await node.verify(stack, 'der');
    expect(der.status).toBe(200);
    secretsSeen.push(node.jwt);
  });

  it('takes heartbeats without re-attestation while none is due', async () => {
    const res = await node.heartbeat(stack);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ acknowledged: true, attestation: { required: false } });
  });

  it('asks for re-attestation when due and accepts a fresh quote over its nonce', async () => {
    await stack.sql(
      `update node_identities set attestation_due_at = now() - interval '1 second' where node_id = '${node.nodeId}'`,
    );
    const ask = await node.heartbeat(stack);
    expect(ask.status).toBe(200);
    const attestation = (ask.body as { attestation: { required: boolean; nonce: string; deadline: string } })
      .attestation;
    expect(attestation.required).toBe(true);
    expect(Buffer.from(attestation.nonce, 'base64')).toHaveLength(32);
    expect(Date.parse(attestation.deadline)).toBeGreaterThan(Date.now());

    const answer = await node.heartbeat(stack, attestation.nonce, 'reattest-1');
    expect(answer.status).toBe(200);
    expect(answer.body).toMatchObject({ attestation: { required: false } });
  });

  it('suspends the node when a re-attestation shows a PCR changed against the baseline', async () => {
    await pcrExtend(node.tpm, 7, 'unexpected bootloader', ['sha256']);
    await stack.sql(
      `update node_identities set attestation_due_at = now() - interval '1 second' where node_id = '${node.nodeId}'`,
    );
    const ask = await node.heartbeat(stack);
    const nonce = (ask.body as { attestation: { nonce: string } }).attestation.nonce;
    const res = await node.heartbeat(stack, nonce, 'reattest-2');
    expect(res.status).toBe(422);
    expect(res.body).toMatchObject({
      error: { code: 'ATTESTATION_INVALID', details: { reason: 'PCR_POLICY_VIOLATION' } },
    });

    const next = await node.heartbeat(stack);
    expect(next.status).toBe(403);
    expect(next.body).toMatchObject({ error: { code: 'NODE_SUSPENDED' } });
    const v = await node.verify(stack);
    expect(v.status).toBe(403);
    expect(v.body).toMatchObject({ error: { code: 'NODE_SUSPENDED' } });
  });

  it('honours a dashboard edit of the status on the next call', async () => {
    const reactivate = await stack.admin('POST', `/api/v1/admin/nodes/${node.nodeId}/status`, {
      status: 'active',
      reason: 'reviewed',
    });
    expect(reactivate.status).toBe(200);
    expect((await node.heartbeat(stack)).status).toBe(200);

    await stack.sql(`update node_identities set status = 'suspended' where node_id = '${node.nodeId}'`);
    const hb = await node.heartbeat(stack);
    expect(hb.status).toBe(403);
    expect(hb.body).toMatchObject({ error: { code: 'NODE_SUSPENDED' } });
  });

  it('refuses verify and heartbeat once an admin revokes the node, and revoked is final', async () => {
    const revoke = await stack.admin('POST', `/api/v1/admin/nodes/${node.nodeId}/status`, {
      status: 'revoked',
      reason: 'decommissioned',
    });
    expect(revoke.status).toBe(200);
    const hb = await node.heartbeat(stack);
    expect(hb.status).toBe(403);
    expect(hb.body).toMatchObject({ error: { code: 'NODE_REVOKED' } });
    const ch = await stack.call('POST', '/api/v1/auth/challenge', { nodeId: node.nodeId });
    expect(ch.status).toBe(403);
    expect(ch.body).toMatchObject({ error: { code: 'NODE_REVOKED' } });
    const back = await stack.admin('POST', `/api/v1/admin/nodes/${node.nodeId}/status`, {
      status: 'active',
      reason: 'oops',
    });
    expect(back.status).toBe(409);
  });

  it('never writes a token, API key, JWT or secret to the logs', async () => {
    const logs = stack.api.output();
    expect(logs).toContain('register.accepted');
    for (const secret of secretsSeen) expect(logs).not.toContain(secret);
    expect(logs).not.toMatch(/ndr_install_[0-9a-f]{8}/);
    expect(logs).not.toMatch(/ndr_live_[0-9a-f]{8}/);
    expect(logs).not.toMatch(/eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}\./);
  });
});
