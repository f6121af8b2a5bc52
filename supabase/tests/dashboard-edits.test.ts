import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StorageError } from '../../functions/src/storage/errors.ts';
import type { Storage } from '../../functions/src/storage/port.ts';
import { createPostgresStorage } from '../../functions/src/storage/postgres.ts';
import { issueToken, randomHash, registerNode } from '../../functions/test/node/storage-fixtures.ts';
import { createTestDatabase } from '../../scripts/test/database.ts';

/**
 * What an operator does in the Supabase dashboard: plain UPDATEs as the `postgres` role, bypassing the
 * SQL functions. Triggers must audit them and keep end states final; the next function call must see them.
 */
describe('direct edits (Supabase dashboard)', () => {
  let db: postgres.Sql;
  let storage: Storage;
  const operator = '8d7e6f5a-4b3c-4d2e-9f10-112233445566';

  beforeAll(async () => {
    const { url } = await createTestDatabase();
    db = postgres(url, { max: 1, onnotice: () => {} });
    storage = createPostgresStorage(url);
  });

  afterAll(async () => {
    await db.end({ timeout: 5 });
  });

  const code = (p: Promise<unknown>) =>
    p.then(
      () => 'ok',
      (e: unknown) => (e instanceof StorageError ? e.code : String(e)),
    );

  it('update node_identities set status = revoked: audited with role and auth.uid(), refused by heartbeat and verify', async () => {
    const node = await registerNode(storage);
    const nonceHash = randomHash();
    await storage.issueNodeChallenge(node.nodeId, nonceHash);
    await db.begin(async (tx) => {
      // The dashboard's API requests carry the operator's JWT claims; the SQL editor does not.
      await tx`select set_config('request.jwt.claims', ${JSON.stringify({ sub: operator, role: 'authenticated' })}, true)`;
      await tx`update node_identities set status = 'revoked' where node_id = ${node.nodeId}`;
    });
    const [audit] = await db`select source, action, actor, db_role, auth_uid, old_status, new_status
                             from audit_events where node_id = ${node.nodeId} and action = 'node.status_changed'`;
    expect(audit).toEqual({
      source: 'dashboard',
      action: 'node.status_changed',
      actor: null,
      db_role: 'postgres',
      auth_uid: operator,
      old_status: 'active',
      new_status: 'revoked',
    });
    expect(
      await code(
        storage.recordHeartbeat({ nodeId: node.nodeId, metrics: null, minWriteIntervalSeconds: 60 }),
      ),
    ).toBe('NODE_REVOKED');
    expect(
      await code(storage.beginNodeSession({ nodeId: node.nodeId, apiKeyHash: node.apiKeyHash, nonceHash })),
    ).toBe('NODE_REVOKED');
    const [cred] =
      await db`select revoked_at is not null as revoked from node_credentials where node_id = ${node.nodeId}`;
    expect(cred?.revoked).toBe(true);
  });

  it('a direct suspension is seen by the next heartbeat (NODE_SUSPENDED), without claims auth_uid is null', async () => {
    const node = await registerNode(storage);
    await db`update node_identities set status = 'suspended' where node_id = ${node.nodeId}`;
    expect(
      await code(
        storage.recordHeartbeat({ nodeId: node.nodeId, metrics: null, minWriteIntervalSeconds: 60 }),
      ),
    ).toBe('NODE_SUSPENDED');
    const [audit] =
      await db`select source, auth_uid from audit_events where node_id = ${node.nodeId} and action = 'node.status_changed'`;
    expect(audit).toEqual({ source: 'dashboard', auth_uid: null });
  });

  it('leaving revoked by a direct edit is rejected (P0001 CONFLICT) and nothing changes', async () => {
    const node = await registerNode(storage);
    await db`update node_identities set status = 'revoked' where node_id = ${node.nodeId}`;
    const err = await db`update node_identities set status = 'active' where node_id = ${node.nodeId}`.catch(
      (e: unknown) => e,
    );
    expect(err).toMatchObject({ code: 'P0001', message: 'CONFLICT' });
    const [row] = await db`select status from node_identities where node_id = ${node.nodeId}`;
    expect(row?.status).toBe('revoked');
  });

  it('a direct token revocation is audited and refused by install/config; un-using or un-revoking is rejected', async () => {
    const t = await issueToken(storage);
    await db`update install_tokens set revoked_at = now() where id = ${t.id}`;
    const [audit] = await db`select source, action, old_status, new_status from audit_events
                             where install_token_id = ${t.id} and action <> 'install_token.issued'`;
    expect(audit).toEqual({
      source: 'dashboard',
      action: 'install_token.revoked',
      old_status: 'active',
      new_status: 'revoked',
    });
    expect(await code(storage.beginInstall({ tokenHash: t.tokenHash, nonceHash: randomHash() }))).toBe(
      'INSTALL_TOKEN_REVOKED',
    );
    const unrevoke = await db`update install_tokens set revoked_at = null where id = ${t.id}`.catch(
      (e: unknown) => e,
    );
    expect(unrevoke).toMatchObject({ code: 'P0001', message: 'CONFLICT' });
    const node = await registerNode(storage);
    const unuse = await db`update install_tokens set is_used = false, used_at = null, used_by_node = null
                           where id = ${node.token.id}`.catch((e: unknown) => e);
    expect(unuse).toMatchObject({ code: 'P0001', message: 'CONFLICT' });
  });

  it('a direct edit that breaks a constraint is rejected (used and revoked at once)', async () => {
    const node = await registerNode(storage);
    const err = await db`update install_tokens set revoked_at = now() where id = ${node.token.id}`.catch(
      (e: unknown) => e,
    );
    expect(err).toMatchObject({ code: '23514' });
  });

  it('updated_at follows every edit', async () => {
    const node = await registerNode(storage);
    const [before] = await db`select updated_at from node_identities where node_id = ${node.nodeId}`;
    await new Promise((r) => setTimeout(r, 20));
    await db`update node_identities set status = 'suspended' where node_id = ${node.nodeId}`;
    const [after] = await db`select updated_at from node_identities where node_id = ${node.nodeId}`;
    expect(after?.updated_at).toBeInstanceOf(Date);
    expect(before?.updated_at).toBeInstanceOf(Date);
    expect(Number(after?.updated_at)).toBeGreaterThan(Number(before?.updated_at));
  });
});
