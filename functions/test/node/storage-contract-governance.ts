import type postgres from 'postgres';
import { describe, expect, it } from 'vitest';
import type { StorageError, StorageErrorCode } from '../../src/storage/errors.ts';
import type { Storage } from '../../src/storage/port.ts';
import type { PendingActionKind, SessionKeyIdentity } from '../../src/storage/types.ts';
import { issueToken, randomHash, randomHex, sha256 } from './storage-fixtures.ts';

/**
 * The storage contract for the issue-12 methods (signed audit log, admin security keys, pending actions
 * and approvals) and the quorum-approved session signing keys; part of storageContract, so it runs
 * against both adapters. The database does not verify WebAuthn or signatures (the Worker does): here the
 * credentials, lines and thumbprints are opaque test values.
 */
export function governanceContract(
  get: () => { storage: Storage; db: postgres.Sql },
  expectCode: (p: Promise<unknown>, code: StorageErrorCode) => Promise<StorageError>,
): void {
  const b64url = (bytes = 32) => Buffer.from(randomHex(bytes), 'hex').toString('base64url');
  const evt = () => `evt_${randomHex(12)}`;
  const inOneHour = () => new Date(Date.now() + 3_600_000).toISOString();

  describe('signed audit log', () => {
    const uid = crypto.randomUUID();
    const rootKeyId = `bp1_${randomHex(8)}`;

    it('before the vault exists: state has no vault but lists queued audit rows; append is NOT_FOUND', async () => {
      const { storage } = get();
      await issueToken(storage); // at least one audit row is queued
      const state = await storage.auditLogState(3);
      expect(state).toMatchObject({ vault: null, eventCount: 0, headLines: [] });
      expect(state.pending.length).toBeGreaterThan(0);
      expect(state.pending.length).toBeLessThanOrEqual(3);
      expect(state.pendingTotal).toBeGreaterThanOrEqual(state.pending.length);
      const ids = state.pending.map((p) => Number(p.id));
      expect(ids).toEqual([...ids].sort((a, b) => a - b));
      await expectCode(
        storage.auditLogAppend(0, [{ eventId: evt(), actor: 'svc', line: '{}', auditEventId: null }]),
        'NOT_FOUND',
      );
      await expectCode(storage.auditLogState(0), 'VALIDATION_FAILED');
    });

    it('creates the vault once with its seed lines; a second init gets the first vault', async () => {
      const { storage } = get();
      const base = { publicKeyB64: 'AAAA', genesisJson: '{"g":1}', keysJson: '{"k":1}' };
      const first = await storage.auditLogInit({
        uid,
        rootKeyId,
        ...base,
        entries: [{ eventId: evt(), actor: 'svc', line: '{"seed":1}', auditEventId: null }],
      });
      expect(first).toEqual({ uid, rootKeyId, created: true });
      const second = await storage.auditLogInit({
        uid: crypto.randomUUID(),
        rootKeyId: `bp1_${randomHex(8)}`,
        ...base,
        entries: [],
      });
      expect(second).toEqual({ uid, rootKeyId, created: false });
      const state = await storage.auditLogState(1);
      expect(state.vault).toEqual({ uid, rootKeyId, genesisJson: '{"g":1}', keysJson: '{"k":1}' });
      expect(state.eventCount).toBe(1);
      expect(state.headLines).toEqual(['{"seed":1}']);
    });

    it('appends after the expected count and dequeues the audit row; a stale count, an unqueued row (CONFLICT) or no lines (VALIDATION_FAILED) append nothing', async () => {
      const { storage } = get();
      const before = await storage.auditLogState(1);
      const row = before.pending[0]!;
      const line = `{"audit":${row.id}}`;
      const n = await storage.auditLogAppend(before.eventCount, [
        { eventId: evt(), actor: 'svc', line, auditEventId: Number(row.id) },
      ]);
      expect(n).toBe(before.eventCount + 1);
      const after = await storage.auditLogState(1);
      expect(after.pendingTotal).toBe(before.pendingTotal - 1);
      expect(after.headLines).toEqual([line]); // the actor's head moved on
      const entry = { eventId: evt(), actor: 'svc', line: '{"x":1}', auditEventId: null };
      await expectCode(storage.auditLogAppend(before.eventCount, [entry]), 'CONFLICT');
      await expectCode(storage.auditLogAppend(n, [{ ...entry, auditEventId: Number(row.id) }]), 'CONFLICT');
      await expectCode(storage.auditLogAppend(n, []), 'VALIDATION_FAILED');
      expect((await storage.auditLogState(1)).eventCount).toBe(n);
    });

    it('hands out the lines in order after a position; a negative position is VALIDATION_FAILED', async () => {
      const { storage } = get();
      const lines = await storage.auditLogLines();
      expect(lines.map((l) => l.seq)).toEqual([1, 2]);
      expect(lines[0]!.line).toBe('{"seed":1}');
      expect(await storage.auditLogLines(1)).toEqual([lines[1]]);
      expect(await storage.auditLogLines(0, 1)).toEqual([lines[0]]);
      await expectCode(storage.auditLogLines(-1), 'VALIDATION_FAILED');
    });
  });

  describe('admin security keys and approvals', () => {
    const ALICE = crypto.randomUUID();
    const BOB = crypto.randomUUID();
    const CAROL = crypto.randomUUID();
    const creds: Record<string, string> = {};

    async function enrol(admin: string, threshold: number, credentialId = b64url()) {
      const { storage } = get();
      const challengeHash = randomHash();
      await storage.beginWebauthnRegistration(admin, challengeHash);
      return storage.addAdminCredential({
        adminUserId: admin,
        adminLabel: `${admin}@example.test`,
        challengeHash,
        credentialId,
        publicKeyCose: 'pQECAyYgASFYIA',
        keyId: `bp1_${randomHex(8)}`,
        algorithm: -7,
        signCount: 0,
        transports: ['usb'],
        label: 'desk key',
        threshold,
      });
    }

    async function action(kind: PendingActionKind, params: Record<string, unknown>, threshold = 2) {
      const statement = JSON.stringify({ kind, params, nonce: randomHex(8) });
      return get().storage.createPendingAction({
        id: crypto.randomUUID(),
        kind,
        params,
        statement,
        digest: sha256(statement),
        threshold,
        expiresAt: inOneHour(),
        actor: 'admin@example.test',
      });
    }

    const approve = (
      a: { id: string; digest: string },
      admin: string,
      credentialId: string,
      signCount = 0,
      digest = a.digest,
    ) =>
      get().storage.approvePendingAction({
        actionId: a.id,
        digest,
        adminUserId: admin,
        credentialId,
        signCount,
        evidence: { admin_label: `${admin}@example.test`, signature: 'c2ln' },
        actor: `${admin}@example.test`,
      });

    it('enrolment is active while fewer than t admins have a key, pending once they do; the quorum status counts admins', async () => {
      const { storage, db } = get();
      const start = await storage.approvalQuorumStatus();
      const a1 = await enrol(ALICE, 2);
      const a2 = await enrol(ALICE, 2); // still one admin
      const b = await enrol(BOB, 2);
      expect([a1.status, a2.status, b.status]).toEqual(['active', 'active', 'active']);
      expect(a1).toMatchObject({ adminUserId: ALICE, algorithm: -7, label: 'desk key', lastUsedAt: null });
      expect(await storage.approvalQuorumStatus()).toEqual({
        enrolledAdmins: start.enrolledAdmins + 2,
        activeCredentials: start.activeCredentials + 3,
      });
      const c = await enrol(CAROL, start.enrolledAdmins + 2);
      expect(c.status).toBe('pending');
      Object.assign(creds, { alice: a1.credentialId, bob: b.credentialId, carol: c.credentialId });
      const [audit] = await db`select new_status, actor from audit_events
                               where action = 'admin_key.enrolled' and details->>'credential_id' = ${c.credentialId}`;
      expect(audit).toEqual({ new_status: 'pending', actor: `${CAROL}@example.test` });
    });

    it('lists keys with what verification needs, all or by credential id', async () => {
      const { storage } = get();
      const all = await storage.listAdminCredentials();
      expect(all.map((k) => k.credentialId)).toEqual(expect.arrayContaining(Object.values(creds)));
      const [carol] = await storage.listAdminCredentials(creds.carol);
      expect(carol).toMatchObject({
        adminUserId: CAROL,
        status: 'pending',
        publicKeyCose: 'pQECAyYgASFYIA',
        signCount: 0,
        transports: ['usb'],
      });
      expect(await storage.listAdminCredentials(b64url())).toEqual([]);
    });

    it('refuses a malformed (VALIDATION_FAILED), unknown, foreign or used (CHALLENGE_INVALID) or expired (CHALLENGE_EXPIRED) challenge and a key enrolled twice (CONFLICT)', async () => {
      const { storage, db } = get();
      await expectCode(storage.beginWebauthnRegistration(ALICE, 'not-a-hash'), 'VALIDATION_FAILED');
      const input = (challengeHash: string, adminUserId = ALICE, credentialId = b64url()) => ({
        adminUserId,
        adminLabel: 'x',
        challengeHash,
        credentialId,
        publicKeyCose: 'pQE',
        keyId: `bp1_${randomHex(8)}`,
        algorithm: -8,
        signCount: 0,
        transports: [],
        label: 'k',
        threshold: 0,
      });
      await expectCode(storage.addAdminCredential(input(randomHash())), 'CHALLENGE_INVALID');
      const foreign = randomHash();
      await storage.beginWebauthnRegistration(ALICE, foreign);
      await expectCode(storage.addAdminCredential(input(foreign, BOB)), 'CHALLENGE_INVALID');
      const expired = randomHash();
      await storage.beginWebauthnRegistration(ALICE, expired);
      await db`update webauthn_challenges set expires_at = now() - interval '1 second' where challenge_hash = ${expired}`;
      await expectCode(storage.addAdminCredential(input(expired)), 'CHALLENGE_EXPIRED');
      const twice = randomHash();
      await storage.beginWebauthnRegistration(ALICE, twice);
      await expectCode(storage.addAdminCredential(input(twice, ALICE, creds.alice)), 'CONFLICT');
      const used = randomHash();
      await storage.beginWebauthnRegistration(ALICE, used);
      await storage.addAdminCredential(input(used));
      await expectCode(storage.addAdminCredential(input(used)), 'CHALLENGE_INVALID');
    });

    it('creates, reads and lists a pending action; refuses a past expiry or threshold 0 (VALIDATION_FAILED) and an unknown id (ACTION_NOT_FOUND)', async () => {
      const { storage } = get();
      const a = await action('admin_credential.activate', { credentialId: creds.carol });
      expect(a).toMatchObject({
        kind: 'admin_credential.activate',
        status: 'pending',
        threshold: 2,
        approvals: [],
      });
      expect(await storage.getPendingAction(a.id)).toEqual(a);
      expect((await storage.listPendingActions('pending')).map((x) => x.id)).toContain(a.id);
      const base = { kind: 'node.reactivate' as const, params: {}, statement: 's', threshold: 2, actor: 'x' };
      await expectCode(
        storage.createPendingAction({
          ...base,
          id: crypto.randomUUID(),
          digest: randomHash(),
          expiresAt: new Date(Date.now() - 1000).toISOString(),
        }),
        'VALIDATION_FAILED',
      );
      await expectCode(
        storage.createPendingAction({
          ...base,
          id: crypto.randomUUID(),
          digest: randomHash(),
          threshold: 0,
          expiresAt: inOneHour(),
        }),
        'VALIDATION_FAILED',
      );
      await expectCode(storage.getPendingAction(crypto.randomUUID()), 'ACTION_NOT_FOUND');
    });

    it('counts one approval per admin and executes at the threshold; refuses another digest, a pending or foreign key, a counter that did not grow (APPROVAL_INVALID), unknown (ACTION_NOT_FOUND) and executed (ACTION_NOT_PENDING) actions', async () => {
      const { storage, db } = get();
      const target = (await storage.listPendingActions('pending')).find(
        (x) => x.params.credentialId === creds.carol,
      )!;
      await expectCode(approve(target, ALICE, creds.alice!, 1, randomHash()), 'APPROVAL_INVALID');
      await expectCode(approve(target, CAROL, creds.carol!, 1), 'APPROVAL_INVALID'); // pending key
      await expectCode(approve(target, BOB, creds.alice!, 1), 'APPROVAL_INVALID'); // not Bob's key
      await expectCode(
        approve({ id: crypto.randomUUID(), digest: target.digest }, ALICE, creds.alice!),
        'ACTION_NOT_FOUND',
      );
      const first = await approve(target, ALICE, creds.alice!, 5);
      expect(first.counted).toBe(true);
      expect(first.action.status).toBe('pending');
      expect(first.action.approvals).toMatchObject([{ adminUserId: ALICE, credentialId: creds.alice }]);
      await expectCode(approve(target, ALICE, creds.alice!, 5), 'APPROVAL_INVALID'); // counter did not grow
      const again = await approve(target, ALICE, creds.alice!, 6);
      expect(again.counted).toBe(false);
      expect(again.action.approvals).toHaveLength(1);
      const done = await approve(target, BOB, creds.bob!);
      expect(done.counted).toBe(true);
      expect(done.action).toMatchObject({
        status: 'executed',
        result: { credential_id: creds.carol, status: 'active' },
      });
      expect((await storage.listAdminCredentials(creds.carol))[0]?.status).toBe('active');
      await expectCode(approve(target, BOB, creds.bob!), 'ACTION_NOT_PENDING');
      expect((await storage.listPendingActions('executed')).map((x) => x.id)).toContain(target.id);
      const [audit] = await db`select jsonb_array_length(details->'approvals') as n from audit_events
                               where action = 'admin_action.approved' and details->>'action_id' = ${target.id}`;
      expect(audit?.n).toBe(2);
    });

    it('refuses an approval after the deadline with ACTION_EXPIRED and lists the action as expired', async () => {
      const { storage, db } = get();
      const a = await action('node.reactivate', { nodeId: `0x${randomHex()}`, reason: 'x' });
      await db`update pending_actions set expires_at = now() - interval '1 second' where id = ${a.id}`;
      await expectCode(approve(a, BOB, creds.bob!), 'ACTION_EXPIRED');
      expect((await storage.getPendingAction(a.id)).status).toBe('expired');
      expect((await storage.listPendingActions('expired')).map((x) => x.id)).toContain(a.id);
    });
  });

  describe('session signing keys', () => {
    const DAVE = crypto.randomUUID();
    let dave = '';
    const key = (kid: string): SessionKeyIdentity => ({
      kid,
      thumbprint: b64url(),
      publicJwk: { kty: 'EC', crv: 'P-256', x: b64url(), y: b64url(), kid, alg: 'ES256', use: 'sig' },
    });
    const [A, B, C] = [key(`a-${randomHex(4)}`), key(`b-${randomHex(4)}`), key(`c-${randomHex(4)}`)];
    const audit = async (kid: string) =>
      (
        await get().db<{ action: string; mode: string | null }[]>`
        select action, details->>'mode' as mode from audit_events
        where action like 'session_key.%' and details->>'kid' = ${kid} order by id`
      ).map((r) => (r.mode ? `${r.action}:${r.mode}` : r.action));

    it('refuses a private part, a malformed thumbprint, no keys or a negative threshold with VALIDATION_FAILED, registering nothing', async () => {
      const { storage, db } = get();
      await expectCode(
        storage.syncSessionKeys({
          keys: [{ ...A, publicJwk: { ...A.publicJwk, d: b64url() } }],
          threshold: 0,
        }),
        'VALIDATION_FAILED',
      );
      await expectCode(
        storage.syncSessionKeys({ keys: [{ ...A, thumbprint: 'abc' }], threshold: 0 }),
        'VALIDATION_FAILED',
      );
      await expectCode(storage.syncSessionKeys({ keys: [], threshold: 0 }), 'VALIDATION_FAILED');
      await expectCode(storage.syncSessionKeys({ keys: [A], threshold: -1 }), 'VALIDATION_FAILED');
      const [n] = await db`select count(*)::int as n from session_signing_keys`;
      expect(n?.n).toBe(0);
    });

    it('under the quorum, keys are registered as pending and none is activated on first use', async () => {
      const { storage } = get();
      // Threshold 0 enrols Dave's key as active whatever came before, so threshold 1 is a quorum in force.
      const challengeHash = randomHash();
      await storage.beginWebauthnRegistration(DAVE, challengeHash);
      dave = (
        await storage.addAdminCredential({
          adminUserId: DAVE,
          adminLabel: 'dave@example.test',
          challengeHash,
          credentialId: b64url(),
          publicKeyCose: 'pQE',
          keyId: `bp1_${randomHex(8)}`,
          algorithm: -8,
          signCount: 0,
          transports: [],
          label: 'dave',
          threshold: 0,
        })
      ).credentialId;
      const keys = await storage.syncSessionKeys({ keys: [A], threshold: 1 });
      expect(keys).toHaveLength(1);
      expect(keys[0]).toMatchObject({
        kid: A.kid,
        thumbprint: A.thumbprint,
        publicJwk: A.publicJwk,
        status: 'pending',
        approvedAt: null,
        retiredAt: null,
        activationMode: null,
        approvals: [],
      });
      expect(await audit(A.kid)).toEqual(['session_key.registered']);
    });

    it('in bootstrap the first key of the secret is activated on first use, once', async () => {
      const { storage } = get();
      const keys = await storage.syncSessionKeys({ keys: [B, A], threshold: 99 });
      expect(keys.find((k) => k.kid === B.kid)).toMatchObject({
        status: 'active',
        activationMode: 'auto',
        activatedBy: 'worker (first use)',
      });
      expect(keys.find((k) => k.kid === A.kid)?.status).toBe('pending');
      const again = await storage.syncSessionKeys({ keys: [B, A], threshold: 0 });
      expect(again.map((k) => [k.kid, k.status]).sort()).toEqual(
        [
          [A.kid, 'pending'],
          [B.kid, 'active'],
        ].sort(),
      );
      expect(await audit(B.kid)).toEqual(['session_key.registered', 'session_key.activated:auto']);
    });

    it('refuses to activate with a malformed thumbprint (VALIDATION_FAILED), an unknown kid (NOT_FOUND), another key under the kid, a non-pending key or under the quorum (CONFLICT)', async () => {
      const { storage } = get();
      const input = { kid: A.kid, thumbprint: A.thumbprint, actor: 'admin@example.test', threshold: 99 };
      await expectCode(storage.activateSessionKey({ ...input, thumbprint: 'short' }), 'VALIDATION_FAILED');
      await expectCode(storage.activateSessionKey({ ...input, kid: 'unknown-kid' }), 'NOT_FOUND');
      await expectCode(storage.activateSessionKey({ ...input, thumbprint: b64url() }), 'CONFLICT');
      await expectCode(
        storage.activateSessionKey({ ...input, kid: B.kid, thumbprint: B.thumbprint }),
        'CONFLICT',
      );
      await expectCode(storage.activateSessionKey({ ...input, threshold: 1 }), 'CONFLICT');
    });

    it('one admin activates a pending key in bootstrap; the active key retires (audited)', async () => {
      const { storage } = get();
      const a = await storage.activateSessionKey({
        kid: A.kid,
        thumbprint: A.thumbprint,
        actor: 'admin@example.test',
        threshold: 99,
      });
      expect(a).toMatchObject({
        status: 'active',
        activationMode: 'single_admin',
        activatedBy: 'admin@example.test',
      });
      expect(a.approvedAt).not.toBeNull();
      const b = (await storage.syncSessionKeys({ keys: [A, B], threshold: 99 })).find((k) => k.kid === B.kid);
      expect(b?.status).toBe('retired');
      expect(b?.retiredAt).not.toBeNull();
      expect(await audit(A.kid)).toEqual(['session_key.registered', 'session_key.activated:single_admin']);
      expect(await audit(B.kid)).toEqual([
        'session_key.registered',
        'session_key.activated:auto',
        'session_key.retired',
      ]);
    });

    it('under the quorum a session_key.activate action activates the key at its threshold, with the approvals; a stale one fails with CONFLICT and stays pending', async () => {
      const { storage } = get();
      await storage.syncSessionKeys({ keys: [C, A, B], threshold: 1 });
      const create = async (k: SessionKeyIdentity) => {
        const statement = JSON.stringify({ kid: k.kid, nonce: randomHex(8) });
        return storage.createPendingAction({
          id: crypto.randomUUID(),
          kind: 'session_key.activate',
          params: { kid: k.kid, thumbprint: k.thumbprint },
          statement,
          digest: sha256(statement),
          threshold: 1,
          expiresAt: inOneHour(),
          actor: 'admin@example.test',
        });
      };
      const approveBy = (a: { id: string; digest: string }) =>
        storage.approvePendingAction({
          actionId: a.id,
          digest: a.digest,
          adminUserId: DAVE,
          credentialId: dave,
          signCount: 0,
          evidence: { admin_label: 'dave@example.test' },
          actor: 'dave@example.test',
        });
      const stale = await create(B); // B is retired: only a pending key can be activated
      await expectCode(approveBy(stale), 'CONFLICT');
      expect(await storage.getPendingAction(stale.id)).toMatchObject({ status: 'pending', approvals: [] });
      const act = await create(C);
      const done = await approveBy(act);
      expect(done.action).toMatchObject({ status: 'executed', result: { kid: C.kid, status: 'active' } });
      const keys = await storage.syncSessionKeys({ keys: [C, A, B], threshold: 1 });
      const c = keys.find((k) => k.kid === C.kid)!;
      expect(c).toMatchObject({ status: 'active', activationMode: 'quorum', actionId: act.id });
      expect(c.activatedBy).toMatch(/^quorum 1 of 1: dave@example\.test$/);
      expect(c.approvals).toMatchObject([
        { adminUserId: DAVE, adminLabel: 'dave@example.test', credentialId: dave },
      ]);
      expect(keys.find((k) => k.kid === A.kid)?.status).toBe('retired');
      expect(await audit(C.kid)).toEqual(['session_key.registered', 'session_key.activated:quorum']);
    });
  });
}
