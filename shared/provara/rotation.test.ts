import { describe, expect, it } from 'vitest';
import { rotateKey } from './rotation.ts';
import type { Signer } from './signature-proof.ts';
import { ephemeralSigner } from './software-signer.ts';
import { memoryVault } from './testing/fixtures.ts';
import { verifyVault } from './verify.ts';
import type { VerifyReason } from './verify-report.ts';

const codes = (r: { errors: { code: VerifyReason }[] }) => new Set(r.errors.map((e) => e.code));
const asNewKey = (s: Signer) => ({ keyId: s.keyId, publicKey: s.publicKey, algorithm: s.algorithm });
const obs = (i: number) => ({
  type: 'OBSERVATION',
  actor: 'sensor',
  payload: { subject: `s${i}`, predicate: 'v', value: i },
});

/** Root A, a second holder B; A signs three observations, then B rotates A out. */
async function rotated(boundaryIndex?: number) {
  const v = await memoryVault();
  const b = await ephemeralSigner();
  const { addKey } = await import('./rotation.ts');
  await addKey(v.vault, asNewKey(b), v.root);
  const ids: string[] = [];
  for (let i = 0; i < 3; i++) ids.push((await v.vault.append(obs(i), v.root)).get('event_id') as string);
  const next = await ephemeralSigner();
  const opts = boundaryIndex === undefined ? {} : { trustBoundaryEventId: ids[boundaryIndex] as string };
  await rotateKey(
    v.vault,
    { revokedKeyId: v.root.keyId, newKey: asNewKey(next), reason: 'lost', ...opts },
    b,
  );
  await v.vault.flush();
  return { ...v, b, next, ids };
}

describe('key rotation with trust_boundary_event_id', () => {
  it('history up to the boundary stays valid after the key is revoked (Provara’s reference rejects all of it)', async () => {
    const v = await rotated();
    const r = await verifyVault(v.files);
    expect(r.errors).toEqual([]);
    expect(v.vault.key(v.root.keyId)?.status).toBe('revoked');
  });

  it('the new key signs after its promotion', async () => {
    const v = await rotated();
    await v.vault.append(obs(9), v.next);
    await v.vault.flush();
    expect((await verifyVault(v.files)).errors).toEqual([]);
  });

  it('the revoked key signing after the revocation: KEY_REVOKED', async () => {
    const v = await rotated();
    await v.vault.append(obs(9), v.root);
    await v.vault.flush();
    expect(codes(await verifyVault(v.files))).toEqual(new Set(['KEY_REVOKED']));
  });

  it('events between an earlier boundary and the revocation (compromise window): KEY_REVOKED each', async () => {
    const v = await rotated(0);
    const r = await verifyVault(v.files);
    expect(codes(r)).toEqual(new Set(['KEY_REVOKED']));
    expect(r.errors.map((e) => e.eventId)).toEqual([v.ids[1], v.ids[2]]);
  });

  it('keys.json not updated after a revocation event: KEYS_FILE_REVOCATION_MISSING', async () => {
    const v = await rotated();
    v.vault.key(v.root.keyId)?.entry.set('status', 'active');
    await v.vault.saveKeys();
    await v.vault.flush();
    expect(codes(await verifyVault(v.files))).toEqual(new Set(['KEYS_FILE_REVOCATION_MISSING']));
  });

  it('a revocation without a trust boundary: KEY_ROTATION_BOUNDARY_MISSING', async () => {
    const v = await memoryVault();
    const b = await ephemeralSigner();
    const { addKey } = await import('./rotation.ts');
    await addKey(v.vault, asNewKey(b), v.root);
    await v.vault.append(
      {
        type: 'KEY_REVOCATION',
        actor: 'key_rotation_authority',
        payload: { revoked_key_id: v.root.keyId, reason: 'x' },
      },
      b,
    );
    v.vault.key(v.root.keyId)?.entry.set('status', 'revoked');
    await v.vault.saveKeys();
    await v.vault.flush();
    const c = codes(await verifyVault(v.files));
    expect(c.has('KEY_ROTATION_BOUNDARY_MISSING')).toBe(true);
  });

  it('refuses to let the key being revoked sign its own rotation', async () => {
    const v = await memoryVault();
    await expect(
      rotateKey(v.vault, { revokedKeyId: v.root.keyId, newKey: asNewKey(await ephemeralSigner()) }, v.root),
    ).rejects.toMatchObject({
      code: 'ROTATION_REFUSED',
    });
  });
});
