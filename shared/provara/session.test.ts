import { describe, expect, it } from 'vitest';
import { toBase64 } from '../encoding/bytes.ts';
import { SESSION_GRANT_TYPE } from './extension-types.ts';
import { newKeyRecord } from './keys-file.ts';
import { startSession } from './session.ts';
import { ephemeralSigner } from './software-signer.ts';
import { memoryVault } from './testing/fixtures.ts';
import { pythonUtcNow } from './timestamp.ts';
import type { EventDraft } from './vault.ts';
import { verifyVault } from './verify.ts';
import type { VerifyReason } from './verify-report.ts';

const codes = (r: { errors: { code: VerifyReason }[] }) => new Set(r.errors.map((e) => e.code));
const obs = (i: number, actor = 'sensor', extra: Partial<EventDraft> = {}): EventDraft => ({
  type: 'OBSERVATION',
  actor,
  payload: { subject: `s${i}`, predicate: 'v', value: i },
  ...extra,
});

async function sessionVault(maxEvents = 1000) {
  const v = await memoryVault();
  const s = await startSession(v.vault, v.root, {
    types: ['OBSERVATION'],
    actors: ['sensor'],
    ttlSeconds: 600,
    maxEvents,
  });
  return { ...v, s };
}

describe('session signing: one authority signature, a batch of session-signed events', () => {
  it('a 500-event batch signed by the session key verifies, each event counted as a session signature', async () => {
    const v = await sessionVault();
    await v.vault.appendBatch(
      Array.from({ length: 500 }, (_, i) => obs(i)),
      v.s.signer,
    );
    await v.vault.flush();
    const r = await verifyVault(v.files);
    expect(r.errors).toEqual([]);
    expect(r.signatures.session).toBe(500);
    expect(v.vault.key(v.s.signer.keyId)?.roles).toEqual(['session']);
  });

  it('an event after expiry: SESSION_EXPIRED', async () => {
    const v = await sessionVault();
    await v.vault.append(
      obs(1, 'sensor', { timestampUtc: pythonUtcNow(new Date(v.s.expiresAt.getTime() + 1000)) }),
      v.s.signer,
    );
    await v.vault.flush();
    expect(codes(await verifyVault(v.files))).toEqual(new Set(['SESSION_EXPIRED']));
  });

  it('an event back-dated before the grant: SESSION_NOT_YET_VALID', async () => {
    const v = await sessionVault();
    await v.vault.append(obs(1, 'sensor', { timestampUtc: '2020-01-01T00:00:00.000000+00:00' }), v.s.signer);
    await v.vault.flush();
    expect(codes(await verifyVault(v.files))).toEqual(new Set(['SESSION_NOT_YET_VALID']));
  });

  it('a type outside the scope: SESSION_SCOPE_TYPE', async () => {
    const v = await sessionVault();
    await v.vault.append(
      { type: 'ATTESTATION', actor: 'sensor', payload: { subject: 'a', predicate: 'b', value: 1 } },
      v.s.signer,
    );
    await v.vault.flush();
    expect(codes(await verifyVault(v.files))).toEqual(new Set(['SESSION_SCOPE_TYPE']));
  });

  it('an actor outside the scope: SESSION_SCOPE_ACTOR', async () => {
    const v = await sessionVault();
    await v.vault.append(obs(1, 'admin'), v.s.signer);
    await v.vault.flush();
    expect(codes(await verifyVault(v.files))).toEqual(new Set(['SESSION_SCOPE_ACTOR']));
  });

  it('more events than max_events: SESSION_EVENT_LIMIT', async () => {
    const v = await sessionVault(3);
    await v.vault.appendBatch([obs(1), obs(2), obs(3), obs(4)], v.s.signer);
    await v.vault.flush();
    const r = await verifyVault(v.files);
    expect(codes(r)).toEqual(new Set(['SESSION_EVENT_LIMIT']));
    expect(r.errors).toHaveLength(1);
  });

  it('a session key granting itself a new session: SESSION_GRANT_BY_SESSION_KEY', async () => {
    const v = await sessionVault();
    const next = await ephemeralSigner();
    const now = new Date();
    await v.vault.append(
      {
        type: SESSION_GRANT_TYPE,
        actor: 'sensor',
        payload: {
          session_key_id: next.keyId,
          session_public_key_b64: toBase64(next.publicKey),
          not_before_utc: pythonUtcNow(now),
          expires_at_utc: pythonUtcNow(new Date(now.getTime() + 60_000)),
          scope: { types: ['OBSERVATION'], actors: ['sensor'] },
          max_events: 10,
        },
      },
      v.s.signer,
    );
    await v.vault.flush();
    const c = codes(await verifyVault(v.files));
    expect(c.has('SESSION_GRANT_BY_SESSION_KEY')).toBe(true);
  });

  it('a session-role key in keys.json without a grant: SESSION_KEY_NOT_GRANTED', async () => {
    const v = await memoryVault();
    const rogue = await ephemeralSigner();
    v.vault.keys.keys.push(
      newKeyRecord({
        keyId: rogue.keyId,
        algorithm: 'Ed25519',
        publicKey: rogue.publicKey,
        roles: ['session'],
        createdAt: pythonUtcNow(),
      }),
    );
    await v.vault.saveKeys();
    await v.vault.append(obs(1), rogue);
    await v.vault.flush();
    expect(codes(await verifyVault(v.files))).toEqual(new Set(['SESSION_KEY_NOT_GRANTED']));
  });

  it('refuses to start a session from a session key', async () => {
    const v = await sessionVault();
    await expect(
      startSession(v.vault, v.s.signer, {
        types: ['OBSERVATION'],
        actors: ['sensor'],
        ttlSeconds: 60,
        maxEvents: 1,
      }),
    ).rejects.toMatchObject({
      code: 'SESSION_INVALID',
    });
  });
});
