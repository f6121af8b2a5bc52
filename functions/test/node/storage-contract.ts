import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase } from '../../../scripts/test/database.ts';
import { StorageError, type StorageErrorCode } from '../../src/storage/errors.ts';
import type { Storage } from '../../src/storage/port.ts';
import { governanceContract } from './storage-contract-governance.ts';
import {
  ADMIN,
  AK_PUBLIC,
  APPLICATION_ID,
  CLOCK,
  issueToken,
  PCR_BASELINE,
  PUBLIC_KEY,
  pendingRegistration,
  randomHash,
  randomHex,
  registerNode,
  sha256,
} from './storage-fixtures.ts';

export interface StorageUnderTest {
  storage: Storage;
  close(): Promise<void>;
}

/** Builds the adapter under test against a database URL (a fresh clone of the migrated template). */
export type StorageFactory = (databaseUrl: string) => StorageUnderTest | Promise<StorageUnderTest>;

async function expectCode(promise: Promise<unknown>, code: StorageErrorCode): Promise<StorageError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err, `expected ${code}`).toBeInstanceOf(StorageError);
  expect((err as StorageError).code).toBe(code);
  return err as StorageError;
}

const MINUTE = 60_000;
const near = (iso: string, expectedMs: number, toleranceMs = 5_000) =>
  expect(Math.abs(Date.parse(iso) - expectedMs)).toBeLessThan(toleranceMs);

/**
 * The storage port's contract: what every adapter must do, on a real PostgreSQL 15 with the
 * migrations applied. Run by storage-postgres.test.ts and storage-supabase.test.ts.
 * `db` is a superuser connection used only to arrange time (expire rows) and to inspect results.
 */
export function storageContract(adapter: string, factory: StorageFactory): void {
  describe(`storage contract: ${adapter}`, () => {
    let storage: Storage;
    let under: StorageUnderTest;
    let db: postgres.Sql;

    beforeAll(async () => {
      const { url } = await createTestDatabase();
      db = postgres(url, { max: 2, onnotice: () => {} });
      under = await factory(url);
      storage = under.storage;
    });

    afterAll(async () => {
      await under?.close();
      await db?.end({ timeout: 5 });
    });

    it('answers ping', async () => {
      await expect(storage.ping()).resolves.toBeUndefined();
    });

    describe('install tokens', () => {
      it('issues a token that lists as active and never exposes the token', async () => {
        const t = await issueToken(storage, 'GUARDIAN', 3);
        const listed = (await storage.listInstallTokens({ status: 'active', limit: 1000 })).find(
          (x) => x.id === t.id,
        );
        expect(listed).toMatchObject({
          id: t.id,
          tier: 'GUARDIAN',
          os: 'linux',
          status: 'active',
          createdBy: ADMIN,
        });
        near(listed!.expiresAt, Date.now() + 3 * 24 * 60 * MINUTE);
        expect(JSON.stringify(listed)).not.toContain(t.tokenHash);
        const [audit] = await db`select source, actor from audit_events
                                 where install_token_id = ${t.id} and action = 'install_token.issued'`;
        expect(audit).toEqual({ source: 'admin_api', actor: ADMIN });
      });

      it('rejects a token hash that is not SHA-256 hex with VALIDATION_FAILED', async () => {
        await expectCode(
          storage.issueInstallToken({
            tokenHash: 'ndr_install_plaintext',
            applicationId: APPLICATION_ID,
            tier: 'ALL',
            os: 'linux',
            expiresInDays: 1,
            actor: ADMIN,
          }),
          'VALIDATION_FAILED',
        );
      });

      it('rejects a lifetime outside 1..7 days and unknown tiers with VALIDATION_FAILED', async () => {
        const base = {
          tokenHash: randomHash(),
          applicationId: APPLICATION_ID,
          os: 'linux' as const,
          actor: ADMIN,
        };
        await expectCode(
          storage.issueInstallToken({ ...base, tier: 'ALL', expiresInDays: 8 }),
          'VALIDATION_FAILED',
        );
        await expectCode(
          storage.issueInstallToken({ ...base, tier: 'ALL', expiresInDays: 0 }),
          'VALIDATION_FAILED',
        );
        await expectCode(
          storage.issueInstallToken({ ...base, tier: 'GOLD' as 'ALL', expiresInDays: 1 }),
          'VALIDATION_FAILED',
        );
      });

      it('rejects a second token with the same hash with CONFLICT', async () => {
        const t = await issueToken(storage);
        await expectCode(
          storage.issueInstallToken({
            tokenHash: t.tokenHash,
            applicationId: APPLICATION_ID,
            tier: 'ALL',
            os: 'windows',
            expiresInDays: 1,
            actor: ADMIN,
          }),
          'CONFLICT',
        );
      });

      it('revokes an unused token once (again is a no-op) and refuses it with INSTALL_TOKEN_REVOKED', async () => {
        const t = await issueToken(storage);
        const revoked = await storage.revokeInstallToken(t.id, ADMIN);
        expect(revoked.status).toBe('revoked');
        const again = await storage.revokeInstallToken(t.id, ADMIN);
        expect(again.revokedAt).toBe(revoked.revokedAt);
        await expectCode(
          storage.beginInstall({ tokenHash: t.tokenHash, nonceHash: randomHash() }),
          'INSTALL_TOKEN_REVOKED',
        );
        const audits = await db`select source, actor from audit_events
                                where install_token_id = ${t.id} and action = 'install_token.revoked'`;
        expect(audits).toEqual([{ source: 'admin_api', actor: ADMIN }]);
      });

      it('refuses to revoke a used token with CONFLICT and an unknown one with NOT_FOUND', async () => {
        const node = await registerNode(storage);
        await expectCode(storage.revokeInstallToken(node.token.id, ADMIN), 'CONFLICT');
        await expectCode(storage.revokeInstallToken(crypto.randomUUID(), ADMIN), 'NOT_FOUND');
      });

      it('lists tokens by derived status and rejects an unknown status with VALIDATION_FAILED', async () => {
        const used = await registerNode(storage);
        const expired = await issueToken(storage);
        await db`update install_tokens set created_at = now() - interval '8 days', expires_at = now() - interval '1 day'
                 where id = ${expired.id}`;
        const ids = async (status: 'used' | 'expired' | 'active') =>
          (await storage.listInstallTokens({ status, limit: 1000 })).map((t) => t.id);
        expect(await ids('used')).toContain(used.token.id);
        expect(await ids('expired')).toContain(expired.id);
        expect(await ids('active')).not.toContain(expired.id);
        await expectCode(storage.listInstallTokens({ status: 'lost' as 'used' }), 'VALIDATION_FAILED');
        await expectCode(storage.listInstallTokens({ limit: 5000 }), 'VALIDATION_FAILED');
      });
    });

    describe('install/config', () => {
      it('binds a 10-minute challenge to a valid token and returns the tier policy', async () => {
        const t = await issueToken(storage, 'ORACLE');
        const s = await storage.beginInstall({ tokenHash: t.tokenHash, nonceHash: randomHash() });
        expect(s).toMatchObject({
          installTokenId: t.id,
          applicationId: APPLICATION_ID,
          tier: 'ORACLE',
          os: 'linux',
          requireEkCertificate: true,
          pcrSelection: { sha256: [0, 1, 2, 3, 4, 5, 6, 7] },
        });
        near(s.challengeExpiresAt, Date.now() + 10 * MINUTE);
      });

      it('refuses unknown, used and expired tokens with their codes', async () => {
        await expectCode(
          storage.beginInstall({ tokenHash: randomHash(), nonceHash: randomHash() }),
          'INSTALL_TOKEN_INVALID',
        );
        const node = await registerNode(storage);
        await expectCode(
          storage.beginInstall({ tokenHash: node.token.tokenHash, nonceHash: randomHash() }),
          'INSTALL_TOKEN_USED',
        );
        const t = await issueToken(storage);
        await db`update install_tokens set created_at = now() - interval '7 days', expires_at = now() - interval '1 second'
                 where id = ${t.id}`;
        await expectCode(
          storage.beginInstall({ tokenHash: t.tokenHash, nonceHash: randomHash() }),
          'INSTALL_TOKEN_EXPIRED',
        );
      });

      it('rejects a nonce hash that is not SHA-256 hex with VALIDATION_FAILED', async () => {
        const t = await issueToken(storage);
        await expectCode(
          storage.beginInstall({ tokenHash: t.tokenHash, nonceHash: 'AB'.repeat(32) }),
          'VALIDATION_FAILED',
        );
      });
    });

    describe('challenges', () => {
      it('consumes an install nonce once; the replay is CHALLENGE_INVALID', async () => {
        const t = await issueToken(storage);
        const nonceHash = randomHash();
        await storage.beginInstall({ tokenHash: t.tokenHash, nonceHash });
        const c = await storage.consumeChallenge({
          purpose: 'install',
          nonceHash,
          installTokenHash: t.tokenHash,
        });
        expect(c).toMatchObject({ purpose: 'install', installTokenId: t.id, nodeId: null, tier: 'ORACLE' });
        await expectCode(
          storage.consumeChallenge({ purpose: 'install', nonceHash, installTokenHash: t.tokenHash }),
          'CHALLENGE_INVALID',
        );
      });

      it('refuses a nonce bound to another token, and an unknown nonce, with CHALLENGE_INVALID', async () => {
        const a = await issueToken(storage);
        const b = await issueToken(storage);
        const nonceHash = randomHash();
        await storage.beginInstall({ tokenHash: a.tokenHash, nonceHash });
        await expectCode(
          storage.consumeChallenge({ purpose: 'install', nonceHash, installTokenHash: b.tokenHash }),
          'CHALLENGE_INVALID',
        );
        await expectCode(
          storage.consumeChallenge({
            purpose: 'install',
            nonceHash: randomHash(),
            installTokenHash: a.tokenHash,
          }),
          'CHALLENGE_INVALID',
        );
        // The failed attempt with the wrong token did not burn the nonce for its own token.
        await storage.consumeChallenge({ purpose: 'install', nonceHash, installTokenHash: a.tokenHash });
      });

      it('refuses an expired nonce with CHALLENGE_EXPIRED', async () => {
        const t = await issueToken(storage);
        const nonceHash = randomHash();
        await storage.beginInstall({ tokenHash: t.tokenHash, nonceHash });
        await db`update attestation_challenges set created_at = now() - interval '11 minutes',
                 expires_at = now() - interval '1 minute' where nonce_hash = ${nonceHash}`;
        await expectCode(
          storage.consumeChallenge({ purpose: 'install', nonceHash, installTokenHash: t.tokenHash }),
          'CHALLENGE_EXPIRED',
        );
      });

      it('refuses an install nonce of a token revoked meanwhile with INSTALL_TOKEN_REVOKED', async () => {
        const t = await issueToken(storage);
        const nonceHash = randomHash();
        await storage.beginInstall({ tokenHash: t.tokenHash, nonceHash });
        await storage.revokeInstallToken(t.id, ADMIN);
        await expectCode(
          storage.consumeChallenge({ purpose: 'install', nonceHash, installTokenHash: t.tokenHash }),
          'INSTALL_TOKEN_REVOKED',
        );
      });
    });

    describe('registration', () => {
      it('creates node and credentials in one call, consumes the token and keeps the attestation facts', async () => {
        const node = await registerNode(storage, { tier: 'GUARDIAN' });
        expect(node).toMatchObject({
          tier: 'GUARDIAN',
          os: 'linux',
          status: 'active',
          publicKey: PUBLIC_KEY,
        });
        expect(node.sessionTtlSeconds).toBe(900);
        near(node.credentialExpiresAt, Date.now() + 365 * 24 * 60 * MINUTE, 60_000);
        const record = await storage.getNode(node.nodeId);
        expect(record).toMatchObject({
          nodeId: node.nodeId,
          installTokenId: node.token.id,
          ekFingerprint: node.ekFingerprint,
          akPublic: AK_PUBLIC,
          pcrBaseline: PCR_BASELINE,
          policyVersion: 1,
          lastClockInfo: CLOCK,
          attestationData: { systemInfo: { hostname: 'node-1', cpuCores: 8 } },
        });
        near(record.attestationDueAt, Date.now() + 3600_000);
        const [token] =
          await db`select is_used, used_by_node from install_tokens where id = ${node.token.id}`;
        expect(token).toEqual({ is_used: true, used_by_node: node.nodeId });
        const history = await db`select kind, result from attestations where node_id = ${node.nodeId}`;
        expect(history).toEqual([{ kind: 'registration', result: 'passed' }]);
        const audit =
          await db`select action, source from audit_events where node_id = ${node.nodeId} order by id`;
        expect(audit).toEqual([
          { action: 'node.registered', source: 'node' },
          { action: 'install_token.used', source: 'node' },
        ]);
      });

      it('counts wrong secrets (ACTIVATION_FAILED) and drops the activation after three (ACTIVATION_NOT_FOUND)', async () => {
        const p = await pendingRegistration(storage);
        const wrong = { activationId: p.activationId, secretHash: randomHash(), apiKeyHash: randomHash() };
        for (const remaining of [2, 1, 0]) {
          const err = await expectCode(storage.completeRegistration(wrong), 'ACTIVATION_FAILED');
          expect(err.details).toEqual({ attemptsRemaining: remaining });
        }
        await expectCode(
          storage.completeRegistration({ ...wrong, secretHash: p.secretHash }),
          'ACTIVATION_NOT_FOUND',
        );
        const [count] = await db`select count(*)::int as n from node_identities where node_id = ${p.nodeId}`;
        expect(count?.n).toBe(0);
      });

      it('refuses unknown and expired activations with ACTIVATION_NOT_FOUND, malformed ids with VALIDATION_FAILED', async () => {
        await expectCode(
          storage.completeRegistration({
            activationId: crypto.randomUUID(),
            secretHash: randomHash(),
            apiKeyHash: randomHash(),
          }),
          'ACTIVATION_NOT_FOUND',
        );
        await expectCode(
          storage.completeRegistration({
            activationId: 'not-a-uuid',
            secretHash: randomHash(),
            apiKeyHash: randomHash(),
          }),
          'VALIDATION_FAILED',
        );
        const p = await pendingRegistration(storage);
        await db`update pending_activations set created_at = now() - interval '11 minutes',
                 expires_at = now() - interval '1 minute' where id = ${p.activationId}`;
        await expectCode(
          storage.completeRegistration({
            activationId: p.activationId,
            secretHash: p.secretHash,
            apiKeyHash: randomHash(),
          }),
          'ACTIVATION_NOT_FOUND',
        );
      });

      it('refuses activation when the token was revoked meanwhile (INSTALL_TOKEN_REVOKED) and leaves nothing behind', async () => {
        const p = await pendingRegistration(storage);
        await storage.revokeInstallToken(p.token.id, ADMIN);
        await expectCode(
          storage.completeRegistration({
            activationId: p.activationId,
            secretHash: p.secretHash,
            apiKeyHash: randomHash(),
          }),
          'INSTALL_TOKEN_REVOKED',
        );
        const [n] =
          await db`select (select count(*) from node_identities where node_id = ${p.nodeId})::int as nodes,
                                    (select count(*) from node_credentials where node_id = ${p.nodeId})::int as creds,
                                    (select state from pending_activations where id = ${p.activationId}) as state`;
        expect(n).toEqual({ nodes: 0, creds: 0, state: 'pending' });
      });

      it('refuses activation when the token expired meanwhile with INSTALL_TOKEN_EXPIRED', async () => {
        const p = await pendingRegistration(storage);
        await db`update install_tokens set created_at = now() - interval '7 days', expires_at = now() - interval '1 second'
                 where id = ${p.token.id}`;
        await expectCode(
          storage.completeRegistration({
            activationId: p.activationId,
            secretHash: p.secretHash,
            apiKeyHash: randomHash(),
          }),
          'INSTALL_TOKEN_EXPIRED',
        );
      });

      it('refuses a second activation with the same token with INSTALL_TOKEN_USED', async () => {
        const token = await issueToken(storage);
        const first = await pendingRegistration(storage, { token });
        const second = await pendingRegistration(storage, { token });
        await storage.completeRegistration({
          activationId: first.activationId,
          secretHash: first.secretHash,
          apiKeyHash: randomHash(),
        });
        await expectCode(
          storage.completeRegistration({
            activationId: second.activationId,
            secretHash: second.secretHash,
            apiKeyHash: randomHash(),
          }),
          'INSTALL_TOKEN_USED',
        );
      });

      it('refuses an EK that belongs to a live node with EK_ALREADY_REGISTERED, until that node is revoked', async () => {
        const node = await registerNode(storage);
        await expectCode(storage.checkEkAvailable(node.ekFingerprint), 'EK_ALREADY_REGISTERED');
        await expectCode(
          pendingRegistration(storage, { ekFingerprint: node.ekFingerprint }),
          'EK_ALREADY_REGISTERED',
        );
        await storage.setNodeStatus({
          nodeId: node.nodeId,
          status: 'revoked',
          reason: 'reinstall',
          actor: ADMIN,
        });
        await expect(storage.checkEkAvailable(node.ekFingerprint)).resolves.toBeUndefined();
        const again = await registerNode(storage, { ekFingerprint: node.ekFingerprint });
        expect(again.status).toBe('active');
      });

      it('refuses the second of two pending activations of one EK with EK_ALREADY_REGISTERED; its token stays unused', async () => {
        const ek = randomHash();
        const a = await pendingRegistration(storage, { ekFingerprint: ek });
        const b = await pendingRegistration(storage, { ekFingerprint: ek });
        await storage.completeRegistration({
          activationId: a.activationId,
          secretHash: a.secretHash,
          apiKeyHash: randomHash(),
        });
        await expectCode(
          storage.completeRegistration({
            activationId: b.activationId,
            secretHash: b.secretHash,
            apiKeyHash: randomHash(),
          }),
          'EK_ALREADY_REGISTERED',
        );
        const [t] = await db`select is_used from install_tokens where id = ${b.token.id}`;
        expect(t?.is_used).toBe(false);
      });

      it('refuses a node key that is already registered with CONFLICT', async () => {
        const node = await registerNode(storage);
        const t = await issueToken(storage);
        await expectCode(
          storage.storePendingActivation({
            installTokenHash: t.tokenHash,
            nodeId: node.nodeId,
            publicKey: PUBLIC_KEY,
            ekFingerprint: randomHash(),
            akPublic: AK_PUBLIC,
            akName: '000b00',
            pcrBaseline: PCR_BASELINE,
            attestationData: {},
            policyVersion: 1,
            clockInfo: CLOCK,
            secretHash: randomHash(),
          }),
          'CONFLICT',
        );
      });

      it('rejects malformed registration data (PCR values, node id) with VALIDATION_FAILED', async () => {
        const t = await issueToken(storage);
        const input = {
          installTokenHash: t.tokenHash,
          nodeId: `0x${randomHex()}`,
          publicKey: PUBLIC_KEY,
          ekFingerprint: randomHash(),
          akPublic: AK_PUBLIC,
          akName: '000b00',
          pcrBaseline: PCR_BASELINE,
          attestationData: {},
          policyVersion: 1,
          clockInfo: CLOCK,
          secretHash: randomHash(),
        };
        await expectCode(
          storage.storePendingActivation({ ...input, pcrBaseline: { sha256: { '24': 'zz' } } }),
          'VALIDATION_FAILED',
        );
        await expectCode(storage.storePendingActivation({ ...input, nodeId: 'node-1' }), 'VALIDATION_FAILED');
      });

      it('records a rejected registration against its token, and nothing for an unknown token', async () => {
        const t = await issueToken(storage);
        expect(
          await storage.recordRegistrationFailure(t.tokenHash, 'EK_CERT_UNTRUSTED', { issuer: 'CN=x' }),
        ).toBe(true);
        expect(await storage.recordRegistrationFailure(randomHash(), 'EK_CERT_UNTRUSTED')).toBe(false);
        const rows = await db`select kind, result, reason from attestations where install_token_id = ${t.id}`;
        expect(rows).toEqual([{ kind: 'registration', result: 'failed', reason: 'EK_CERT_UNTRUSTED' }]);
        await expectCode(storage.recordRegistrationFailure(t.tokenHash, 'bad reason'), 'VALIDATION_FAILED');
      });
    });

    describe('node sessions', () => {
      it('verifies API key and challenge in one call and returns the node key and session lifetime', async () => {
        const node = await registerNode(storage);
        const nonceHash = randomHash();
        const ch = await storage.issueNodeChallenge(node.nodeId, nonceHash);
        near(ch.expiresAt, Date.now() + 5 * MINUTE);
        const s = await storage.beginNodeSession({
          nodeId: node.nodeId,
          apiKeyHash: node.apiKeyHash,
          nonceHash,
        });
        expect(s).toMatchObject({
          nodeId: node.nodeId,
          publicKey: PUBLIC_KEY,
          tier: 'ORACLE',
          status: 'active',
          sessionTtlSeconds: 900,
        });
      });

      it('refuses a challenge for an unknown node with NODE_NOT_FOUND', async () => {
        await expectCode(storage.issueNodeChallenge(`0x${randomHex()}`, randomHash()), 'NODE_NOT_FOUND');
      });

      it('refuses a wrong API key and an unknown node alike with CREDENTIALS_INVALID, without burning the nonce', async () => {
        const node = await registerNode(storage);
        const nonceHash = randomHash();
        await storage.issueNodeChallenge(node.nodeId, nonceHash);
        await expectCode(
          storage.beginNodeSession({ nodeId: node.nodeId, apiKeyHash: randomHash(), nonceHash }),
          'CREDENTIALS_INVALID',
        );
        await expectCode(
          storage.beginNodeSession({ nodeId: `0x${randomHex()}`, apiKeyHash: node.apiKeyHash, nonceHash }),
          'CREDENTIALS_INVALID',
        );
        await storage.beginNodeSession({ nodeId: node.nodeId, apiKeyHash: node.apiKeyHash, nonceHash });
      });

      it('refuses a replayed nonce and a nonce of another node with CHALLENGE_INVALID', async () => {
        const a = await registerNode(storage);
        const b = await registerNode(storage);
        const nonceHash = randomHash();
        await storage.issueNodeChallenge(a.nodeId, nonceHash);
        await expectCode(
          storage.beginNodeSession({ nodeId: b.nodeId, apiKeyHash: b.apiKeyHash, nonceHash }),
          'CHALLENGE_INVALID',
        );
        await storage.beginNodeSession({ nodeId: a.nodeId, apiKeyHash: a.apiKeyHash, nonceHash });
        await expectCode(
          storage.beginNodeSession({ nodeId: a.nodeId, apiKeyHash: a.apiKeyHash, nonceHash }),
          'CHALLENGE_INVALID',
        );
      });

      it('refuses an expired session nonce with CHALLENGE_EXPIRED', async () => {
        const node = await registerNode(storage);
        const nonceHash = randomHash();
        await storage.issueNodeChallenge(node.nodeId, nonceHash);
        await db`update attestation_challenges set created_at = now() - interval '6 minutes',
                 expires_at = now() - interval '1 minute' where nonce_hash = ${nonceHash}`;
        await expectCode(
          storage.beginNodeSession({ nodeId: node.nodeId, apiKeyHash: node.apiKeyHash, nonceHash }),
          'CHALLENGE_EXPIRED',
        );
      });

      it('refuses suspended nodes with NODE_SUSPENDED and revoked nodes with NODE_REVOKED', async () => {
        const node = await registerNode(storage);
        const nonceHash = randomHash();
        await storage.issueNodeChallenge(node.nodeId, nonceHash);
        await storage.setNodeStatus({
          nodeId: node.nodeId,
          status: 'suspended',
          reason: 'check',
          actor: ADMIN,
        });
        await expectCode(
          storage.beginNodeSession({ nodeId: node.nodeId, apiKeyHash: node.apiKeyHash, nonceHash }),
          'NODE_SUSPENDED',
        );
        await expectCode(storage.issueNodeChallenge(node.nodeId, randomHash()), 'NODE_SUSPENDED');
        await storage.setNodeStatus({
          nodeId: node.nodeId,
          status: 'revoked',
          reason: 'stolen',
          actor: ADMIN,
        });
        await expectCode(
          storage.beginNodeSession({ nodeId: node.nodeId, apiKeyHash: node.apiKeyHash, nonceHash }),
          'NODE_REVOKED',
        );
        await expectCode(storage.issueNodeChallenge(node.nodeId, randomHash()), 'NODE_REVOKED');
      });
    });

    describe('heartbeats', () => {
      const beat = (
        nodeId: string,
        extra: { minWriteIntervalSeconds?: number; reattestationNonceHash?: string } = {},
      ) =>
        storage.recordHeartbeat({
          nodeId,
          metrics: { uptime: 86400, cpu: 45.2 },
          minWriteIntervalSeconds: extra.minWriteIntervalSeconds ?? 60,
          reattestationNonceHash: extra.reattestationNonceHash ?? null,
        });

      it('writes last_seen on the first heartbeat and not again within the write interval', async () => {
        const node = await registerNode(storage);
        const first = await beat(node.nodeId);
        expect(first).toMatchObject({
          status: 'active',
          lastSeenWritten: true,
          reattestationRequired: false,
        });
        const second = await beat(node.nodeId);
        expect(second.lastSeenWritten).toBe(false);
        expect(second.lastSeen).toBe(first.lastSeen);
        expect((await storage.getNode(node.nodeId)).lastMetrics).toEqual({ uptime: 86400, cpu: 45.2 });
        const third = await beat(node.nodeId, { minWriteIntervalSeconds: 0 });
        expect(third.lastSeenWritten).toBe(true);
      });

      it('refuses unknown, suspended and revoked nodes with their codes', async () => {
        await expectCode(beat(`0x${randomHex()}`), 'NODE_NOT_FOUND');
        const node = await registerNode(storage);
        await storage.setNodeStatus({ nodeId: node.nodeId, status: 'suspended', reason: null, actor: ADMIN });
        await expectCode(beat(node.nodeId), 'NODE_SUSPENDED');
        await storage.setNodeStatus({ nodeId: node.nodeId, status: 'revoked', reason: null, actor: ADMIN });
        await expectCode(beat(node.nodeId), 'NODE_REVOKED');
      });

      it('rejects a negative write interval with VALIDATION_FAILED', async () => {
        const node = await registerNode(storage);
        await expectCode(beat(node.nodeId, { minWriteIntervalSeconds: -1 }), 'VALIDATION_FAILED');
      });

      it('asks for re-attestation when due and binds the given nonce until due + grace', async () => {
        const node = await registerNode(storage);
        await db`update node_identities set attestation_due_at = now() - interval '1 minute' where node_id = ${node.nodeId}`;
        const without = await beat(node.nodeId);
        expect(without).toMatchObject({ reattestationRequired: true, reattestationNonceIssued: false });
        const nonceHash = randomHash();
        const hb = await beat(node.nodeId, { reattestationNonceHash: nonceHash });
        expect(hb.reattestationRequired).toBe(true);
        expect(hb.reattestationNonceIssued).toBe(true);
        near(hb.reattestationDeadline!, Date.now() - MINUTE + 600_000);
        const c = await storage.consumeChallenge({
          purpose: 'reattestation',
          nonceHash,
          nodeId: node.nodeId,
        });
        expect(c).toMatchObject({
          purpose: 'reattestation',
          nodeId: node.nodeId,
          installTokenId: null,
          tier: 'ORACLE',
        });
        await expectCode(
          storage.consumeChallenge({ purpose: 'reattestation', nonceHash, nodeId: node.nodeId }),
          'CHALLENGE_INVALID',
        );
      });

      it('replaces an unanswered re-attestation nonce: the old one becomes CHALLENGE_INVALID', async () => {
        const node = await registerNode(storage);
        await db`update node_identities set attestation_due_at = now() where node_id = ${node.nodeId}`;
        const old = randomHash();
        const fresh = randomHash();
        await beat(node.nodeId, { reattestationNonceHash: old });
        const ch = await storage.issueReattestationChallenge(node.nodeId, fresh);
        near(ch.deadline, Date.now() + 600_000);
        await expectCode(
          storage.consumeChallenge({ purpose: 'reattestation', nonceHash: old, nodeId: node.nodeId }),
          'CHALLENGE_INVALID',
        );
        await storage.consumeChallenge({ purpose: 'reattestation', nonceHash: fresh, nodeId: node.nodeId });
      });

      it('suspends a node past its re-attestation deadline (NODE_SUSPENDED, reattestation_missed, audited)', async () => {
        const node = await registerNode(storage);
        await db`update node_identities set attestation_due_at = now() - interval '11 minutes' where node_id = ${node.nodeId}`;
        const err = await expectCode(beat(node.nodeId), 'NODE_SUSPENDED');
        expect(err.details.reason).toBe('reattestation_missed');
        const record = await storage.getNode(node.nodeId);
        expect(record).toMatchObject({ status: 'suspended', statusReason: 'reattestation_missed' });
        const [audit] = await db`select source, reason, old_status, new_status from audit_events
                                 where node_id = ${node.nodeId} and action = 'node.status_changed'`;
        expect(audit).toEqual({
          source: 'system',
          reason: 'reattestation_missed',
          old_status: 'active',
          new_status: 'suspended',
        });
        await expectCode(storage.issueReattestationChallenge(node.nodeId, randomHash()), 'NODE_SUSPENDED');
      });

      it('issueReattestationChallenge suspends an overdue node too (NODE_SUSPENDED)', async () => {
        const node = await registerNode(storage);
        await db`update node_identities set attestation_due_at = now() - interval '11 minutes' where node_id = ${node.nodeId}`;
        await expectCode(storage.issueReattestationChallenge(node.nodeId, randomHash()), 'NODE_SUSPENDED');
        expect((await storage.getNode(node.nodeId)).status).toBe('suspended');
      });
    });

    describe('attestation results', () => {
      it('a passed re-attestation moves the due date by the policy interval and keeps the clock info', async () => {
        const node = await registerNode(storage);
        await db`update node_identities set attestation_due_at = now() - interval '1 minute' where node_id = ${node.nodeId}`;
        const clock = { clock: 9_999_999, resetCount: 4, restartCount: 1, safe: true };
        const out = await storage.recordAttestation({
          nodeId: node.nodeId,
          result: 'passed',
          reason: null,
          pcrValues: PCR_BASELINE,
          clockInfo: clock,
          policyVersion: 1,
        });
        expect(out.status).toBe('active');
        near(out.attestationDueAt, Date.now() + 3600_000);
        expect((await storage.getNode(node.nodeId)).lastClockInfo).toEqual(clock);
        const hb = await storage.recordHeartbeat({
          nodeId: node.nodeId,
          metrics: null,
          minWriteIntervalSeconds: 60,
        });
        expect(hb.reattestationRequired).toBe(false);
      });

      it('PCR_POLICY_VIOLATION suspends the node and audits it; other failures are only recorded', async () => {
        const node = await registerNode(storage);
        const other = await storage.recordAttestation({
          nodeId: node.nodeId,
          result: 'failed',
          reason: 'SIGNATURE_INVALID',
          pcrValues: null,
          clockInfo: null,
          policyVersion: 1,
        });
        expect(other.status).toBe('active');
        const out = await storage.recordAttestation({
          nodeId: node.nodeId,
          result: 'failed',
          reason: 'PCR_POLICY_VIOLATION',
          pcrValues: { sha256: { '7': 'cc'.repeat(32) } },
          clockInfo: CLOCK,
          policyVersion: 1,
        });
        expect(out).toMatchObject({ status: 'suspended', statusReason: 'pcr_policy_violation' });
        const rows =
          await db`select result, reason from attestations where node_id = ${node.nodeId} and kind = 'reattestation' order by id`;
        expect(rows).toEqual([
          { result: 'failed', reason: 'SIGNATURE_INVALID' },
          { result: 'failed', reason: 'PCR_POLICY_VIOLATION' },
        ]);
        const [audit] =
          await db`select source, reason from audit_events where node_id = ${node.nodeId} and action = 'node.status_changed'`;
        expect(audit).toEqual({ source: 'system', reason: 'pcr_policy_violation' });
        await expectCode(
          storage.recordHeartbeat({ nodeId: node.nodeId, metrics: null, minWriteIntervalSeconds: 60 }),
          'NODE_SUSPENDED',
        );
      });

      it('rejects inconsistent results with VALIDATION_FAILED and non-active nodes with NODE_*', async () => {
        const node = await registerNode(storage);
        const base = { nodeId: node.nodeId, pcrValues: PCR_BASELINE, clockInfo: CLOCK, policyVersion: 1 };
        await expectCode(
          storage.recordAttestation({ ...base, result: 'failed', reason: null }),
          'VALIDATION_FAILED',
        );
        await expectCode(
          storage.recordAttestation({ ...base, result: 'passed', reason: 'X' }),
          'VALIDATION_FAILED',
        );
        await expectCode(
          storage.recordAttestation({ ...base, result: 'passed', reason: null, clockInfo: null }),
          'VALIDATION_FAILED',
        );
        await expectCode(
          storage.recordAttestation({ ...base, result: 'failed', reason: 'not a code' }),
          'VALIDATION_FAILED',
        );
        await expectCode(
          storage.recordAttestation({ ...base, nodeId: `0x${randomHex()}`, result: 'passed', reason: null }),
          'NODE_NOT_FOUND',
        );
      });
    });

    describe('nodes (admin)', () => {
      it('suspends and reactivates with audit; reactivation makes a re-attestation due now', async () => {
        const node = await registerNode(storage);
        const s = await storage.setNodeStatus({
          nodeId: node.nodeId,
          status: 'suspended',
          reason: 'maintenance',
          actor: ADMIN,
        });
        expect(s).toMatchObject({ status: 'suspended', statusReason: 'maintenance' });
        const a = await storage.setNodeStatus({
          nodeId: node.nodeId,
          status: 'active',
          reason: 'back',
          actor: ADMIN,
        });
        expect(a.status).toBe('active');
        near(a.attestationDueAt, Date.now());
        const rows = await db`select source, actor, old_status, new_status, reason from audit_events
                              where node_id = ${node.nodeId} and action = 'node.status_changed' order by id`;
        expect(rows).toEqual([
          {
            source: 'admin_api',
            actor: ADMIN,
            old_status: 'active',
            new_status: 'suspended',
            reason: 'maintenance',
          },
          {
            source: 'admin_api',
            actor: ADMIN,
            old_status: 'suspended',
            new_status: 'active',
            reason: 'back',
          },
        ]);
      });

      it('keeps revoked final (CONFLICT), revokes the API key, and treats revoking again as a no-op', async () => {
        const node = await registerNode(storage);
        await storage.setNodeStatus({
          nodeId: node.nodeId,
          status: 'revoked',
          reason: 'stolen',
          actor: ADMIN,
        });
        await expectCode(
          storage.setNodeStatus({ nodeId: node.nodeId, status: 'active', reason: null, actor: ADMIN }),
          'CONFLICT',
        );
        const again = await storage.setNodeStatus({
          nodeId: node.nodeId,
          status: 'revoked',
          reason: 'x',
          actor: ADMIN,
        });
        expect(again).toMatchObject({ status: 'revoked', statusReason: 'stolen' });
        const [cred] =
          await db`select revoked_at is not null as revoked from node_credentials where node_id = ${node.nodeId}`;
        expect(cred?.revoked).toBe(true);
      });

      it('refuses unknown nodes with NODE_NOT_FOUND and unknown statuses with VALIDATION_FAILED', async () => {
        await expectCode(
          storage.setNodeStatus({
            nodeId: `0x${randomHex()}`,
            status: 'suspended',
            reason: null,
            actor: ADMIN,
          }),
          'NODE_NOT_FOUND',
        );
        await expectCode(storage.getNode(`0x${randomHex()}`), 'NODE_NOT_FOUND');
        const node = await registerNode(storage);
        await expectCode(
          storage.setNodeStatus({
            nodeId: node.nodeId,
            status: 'deleted' as 'revoked',
            reason: null,
            actor: ADMIN,
          }),
          'VALIDATION_FAILED',
        );
      });

      it('lists nodes newest first, filtered by status', async () => {
        const a = await registerNode(storage);
        const b = await registerNode(storage);
        await storage.setNodeStatus({ nodeId: b.nodeId, status: 'suspended', reason: null, actor: ADMIN });
        const suspended = (await storage.listNodes({ status: 'suspended', limit: 1000 })).map(
          (n) => n.nodeId,
        );
        expect(suspended).toContain(b.nodeId);
        expect(suspended).not.toContain(a.nodeId);
        const all = (await storage.listNodes({ limit: 1000 })).map((n) => n.nodeId);
        expect(all.indexOf(b.nodeId)).toBeLessThan(all.indexOf(a.nodeId));
        await expectCode(storage.listNodes({ status: 'gone' as 'active' }), 'VALIDATION_FAILED');
        await expectCode(storage.listNodes({ offset: -1 }), 'VALIDATION_FAILED');
      });
    });

    describe('policies', () => {
      it('ships API.md defaults per tier', async () => {
        for (const tier of ['ALL', 'ORACLE', 'GUARDIAN'] as const) {
          const p = await storage.getPolicy(tier);
          expect(p).toMatchObject({
            tier,
            requireEkCertificate: tier !== 'ALL',
            pcrSelection: { sha256: [0, 1, 2, 3, 4, 5, 6, 7] },
            pcrMode: 'baseline',
            allowedPcrValues: {},
            reattestationIntervalSeconds: 3600,
            sessionTtlSeconds: 900,
          });
        }
        await expectCode(storage.getPolicy('GOLD' as 'ALL'), 'VALIDATION_FAILED');
      });

      it('replaces a policy (version + 1, audited) and rejects invalid ones with VALIDATION_FAILED', async () => {
        const before = await storage.getPolicy('ALL');
        const put = {
          tier: 'ALL' as const,
          requireEkCertificate: false,
          pcrSelection: { sha256: [0, 7] },
          pcrMode: 'allowlist' as const,
          allowedPcrValues: { sha256: { '0': ['aa'.repeat(32)], '7': ['bb'.repeat(32), 'cc'.repeat(32)] } },
          reattestationIntervalSeconds: 1800,
          sessionTtlSeconds: 600,
          actor: ADMIN,
        };
        try {
          const after = await storage.putPolicy(put);
          const { actor: _actor, ...fields } = put;
          expect(after).toMatchObject({ ...fields, version: before.version + 1, updatedBy: ADMIN });
          expect(after.reattestationGraceSeconds).toBe(before.reattestationGraceSeconds);
          const [audit] = await db`select source, actor, details->>'tier' as tier from audit_events
                                   where action = 'policy.updated' order by id desc limit 1`;
          expect(audit).toEqual({ source: 'admin_api', actor: ADMIN, tier: 'ALL' });
          await expectCode(
            storage.putPolicy({ ...put, allowedPcrValues: { sha256: { '0': ['aa'.repeat(32)] } } }),
            'VALIDATION_FAILED',
          );
          await expectCode(storage.putPolicy({ ...put, sessionTtlSeconds: 7200 }), 'VALIDATION_FAILED');
          await expectCode(
            storage.putPolicy({ ...put, pcrSelection: { sha256: [24] } }),
            'VALIDATION_FAILED',
          );
          await expectCode(storage.putPolicy({ ...put, pcrMode: 'strict' as 'none' }), 'VALIDATION_FAILED');
          await expectCode(storage.putPolicy({ ...put, tier: 'GOLD' as 'ALL' }), 'VALIDATION_FAILED');
        } finally {
          await storage.putPolicy({ ...before, actor: ADMIN });
        }
      });
    });

    describe('EK trust anchors', () => {
      const PEM = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n';

      it('adds, lists and deletes an anchor, with audit', async () => {
        const fingerprint = randomHash();
        const added = await storage.addEkAnchor({
          label: 'lab CA',
          pem: PEM,
          subject: 'CN=lab',
          fingerprint,
          actor: ADMIN,
        });
        expect(added).toMatchObject({
          label: 'lab CA',
          pem: PEM,
          subject: 'CN=lab',
          fingerprint,
          createdBy: ADMIN,
        });
        expect((await storage.listEkAnchors()).map((a) => a.id)).toContain(added.id);
        await storage.deleteEkAnchor(added.id, ADMIN);
        expect((await storage.listEkAnchors()).map((a) => a.id)).not.toContain(added.id);
        const audit =
          await db`select action from audit_events where details->>'id' = ${added.id} order by id`;
        expect(audit.map((a) => a.action)).toEqual(['ek_anchor.added', 'ek_anchor.deleted']);
      });

      it('refuses a duplicate certificate (CONFLICT), a non-PEM (VALIDATION_FAILED), an unknown id (NOT_FOUND)', async () => {
        const fingerprint = randomHash();
        await storage.addEkAnchor({ label: 'a', pem: PEM, subject: 'CN=a', fingerprint, actor: ADMIN });
        await expectCode(
          storage.addEkAnchor({ label: 'b', pem: PEM, subject: 'CN=a', fingerprint, actor: ADMIN }),
          'CONFLICT',
        );
        await expectCode(
          storage.addEkAnchor({
            label: 'c',
            pem: 'MIIB',
            subject: 'CN=c',
            fingerprint: randomHash(),
            actor: ADMIN,
          }),
          'VALIDATION_FAILED',
        );
        await expectCode(storage.deleteEkAnchor(crypto.randomUUID(), ADMIN), 'NOT_FOUND');
      });
    });

    describe('housekeeping', () => {
      it('purges challenges and activations past the retention period', async () => {
        const t = await issueToken(storage);
        const nonceHash = randomHash();
        await storage.beginInstall({ tokenHash: t.tokenHash, nonceHash });
        await db`update attestation_challenges set created_at = now() - interval '3 days',
                 expires_at = now() - interval '2 days' where nonce_hash = ${nonceHash}`;
        const out = await storage.purgeExpiredRecords(86_400);
        expect(out.challengesDeleted).toBeGreaterThanOrEqual(1);
        const [left] =
          await db`select count(*)::int as n from attestation_challenges where nonce_hash = ${nonceHash}`;
        expect(left?.n).toBe(0);
      });
    });

    governanceContract(() => ({ storage, db }), expectCode);

    it('hashes only: no table holds a clear token or API key', async () => {
      const node = await registerNode(storage);
      const dump =
        await db`select (select json_agg(t) from install_tokens t where id = ${node.token.id})::text as t,
                                   (select json_agg(c) from node_credentials c where node_id = ${node.nodeId})::text as c`;
      expect(dump[0]?.t).not.toMatch(/ndr_install_/);
      expect(dump[0]?.c).not.toMatch(/ndr_live_/);
      expect(sha256('x')).toHaveLength(64);
    });
  });
}
