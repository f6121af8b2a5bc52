import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StorageError } from '../../functions/src/storage/errors.ts';
import type { Storage } from '../../functions/src/storage/port.ts';
import { createPostgresStorage } from '../../functions/src/storage/postgres.ts';
import {
  issueToken,
  pendingRegistration,
  randomHash,
  registerNode,
  sha256,
} from '../../functions/test/node/storage-fixtures.ts';
import { createTestDatabase } from '../../scripts/test/database.ts';

/**
 * Races on a real PostgreSQL 15 (PGlite has one backend and cannot race). Every contender has its own
 * connection, as concurrent Worker requests would, and is connected before the start signal.
 */
describe('races on PostgreSQL 15', () => {
  let url: string;
  let db: postgres.Sql;
  let storage: Storage;

  beforeAll(async () => {
    ({ url } = await createTestDatabase());
    db = postgres(url, { max: 2, onnotice: () => {} });
    storage = createPostgresStorage(url);
  });

  afterAll(async () => {
    await db.end({ timeout: 5 });
  });

  async function contenders(n: number): Promise<Storage[]> {
    const all = Array.from({ length: n }, () => createPostgresStorage(url));
    await Promise.all(all.map((s) => s.ping()));
    return all;
  }

  const codeOf = (r: PromiseSettledResult<unknown>) =>
    r.status === 'rejected' ? (r.reason instanceof StorageError ? r.reason.code : String(r.reason)) : 'ok';

  it('50 concurrent completions for one install token: exactly one node, 49 INSTALL_TOKEN_USED, no orphans', async () => {
    const token = await issueToken(storage);
    const pendings = [];
    for (let i = 0; i < 50; i++) pendings.push(await pendingRegistration(storage, { token }));
    const racers = await contenders(50);
    const results = await Promise.allSettled(
      pendings.map((p, i) =>
        racers[i]!.completeRegistration({
          activationId: p.activationId,
          secretHash: p.secretHash,
          apiKeyHash: sha256(`ndr_live_${i}_${p.nodeId}`),
        }),
      ),
    );
    const codes = results.map(codeOf);
    expect(codes.filter((c) => c === 'ok')).toHaveLength(1);
    expect(codes.filter((c) => c === 'INSTALL_TOKEN_USED')).toHaveLength(49);

    const nodeIds = pendings.map((p) => p.nodeId);
    const [counts] = await db`
      select (select count(*) from node_identities where install_token_id = ${token.id})::int as nodes,
             (select count(*) from node_identities where node_id = any(${nodeIds}))::int as nodes_by_id,
             (select count(*) from node_credentials where node_id = any(${nodeIds}))::int as credentials,
             (select count(*) from pending_activations where install_token_id = ${token.id} and state = 'completed')::int as completed,
             (select count(*) from attestations where node_id = any(${nodeIds}))::int as history,
             (select count(*) from audit_events where node_id = any(${nodeIds}) and action = 'node.registered')::int as audits`;
    expect(counts).toEqual({ nodes: 1, nodes_by_id: 1, credentials: 1, completed: 1, history: 1, audits: 1 });
    const [t] = await db`select is_used, used_by_node from install_tokens where id = ${token.id}`;
    const winner = pendings[codes.indexOf('ok')]!;
    expect(t).toEqual({ is_used: true, used_by_node: winner.nodeId });
  });

  it('concurrent registrations of one EK with different tokens: one node, the rest EK_ALREADY_REGISTERED', async () => {
    const ek = randomHash();
    const pendings = [];
    for (let i = 0; i < 20; i++) pendings.push(await pendingRegistration(storage, { ekFingerprint: ek }));
    const racers = await contenders(20);
    const results = await Promise.allSettled(
      pendings.map((p, i) =>
        racers[i]!.completeRegistration({
          activationId: p.activationId,
          secretHash: p.secretHash,
          apiKeyHash: randomHash(),
        }),
      ),
    );
    const codes = results.map(codeOf);
    expect(codes.filter((c) => c === 'ok')).toHaveLength(1);
    expect(codes.filter((c) => c === 'EK_ALREADY_REGISTERED')).toHaveLength(19);
    const [counts] = await db`
      select (select count(*) from node_identities where ek_fingerprint = ${ek})::int as nodes,
             (select count(*) from install_tokens where id = any(${pendings.map((p) => p.token.id)}) and is_used)::int as used_tokens`;
    expect(counts).toEqual({ nodes: 1, used_tokens: 1 });
  });

  it('concurrent consumption of one install nonce: single use', async () => {
    const token = await issueToken(storage);
    const nonceHash = randomHash();
    await storage.beginInstall({ tokenHash: token.tokenHash, nonceHash });
    const racers = await contenders(30);
    const results = await Promise.allSettled(
      racers.map((s) =>
        s.consumeChallenge({ purpose: 'install', nonceHash, installTokenHash: token.tokenHash }),
      ),
    );
    const codes = results.map(codeOf);
    expect(codes.filter((c) => c === 'ok')).toHaveLength(1);
    expect(codes.filter((c) => c === 'CHALLENGE_INVALID')).toHaveLength(29);
  });

  it('concurrent verifies with one session nonce: one session, the rest CHALLENGE_INVALID', async () => {
    const node = await registerNode(storage);
    const nonceHash = randomHash();
    await storage.issueNodeChallenge(node.nodeId, nonceHash);
    const racers = await contenders(30);
    const results = await Promise.allSettled(
      racers.map((s) => s.beginNodeSession({ nodeId: node.nodeId, apiKeyHash: node.apiKeyHash, nonceHash })),
    );
    const codes = results.map(codeOf);
    expect(codes.filter((c) => c === 'ok')).toHaveLength(1);
    expect(codes.filter((c) => c === 'CHALLENGE_INVALID')).toHaveLength(29);
  });

  it('concurrent wrong activation secrets are all counted: the activation fails after exactly three', async () => {
    const p = await pendingRegistration(storage);
    const racers = await contenders(10);
    const results = await Promise.allSettled(
      racers.map((s) =>
        s.completeRegistration({
          activationId: p.activationId,
          secretHash: randomHash(),
          apiKeyHash: randomHash(),
        }),
      ),
    );
    const codes = results.map(codeOf);
    expect(codes.filter((c) => c === 'ACTIVATION_FAILED')).toHaveLength(3);
    expect(codes.filter((c) => c === 'ACTIVATION_NOT_FOUND')).toHaveLength(7);
    const [a] = await db`select attempts, state from pending_activations where id = ${p.activationId}`;
    expect(a).toEqual({ attempts: 3, state: 'failed' });
  });
});
