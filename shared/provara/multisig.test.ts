import { describe, expect, it } from 'vitest';
import { fromBase64 } from '../encoding/bytes.ts';
import { canonicalBytes } from './canonical-json.ts';
import { ed25519Verify } from './ed25519.ts';
import { computeEventId } from './event-id.ts';
import { type JsonObject, toJson, without } from './json-value.ts';
import { commit, cosign, propose, setInitialThresholdPolicy, thresholdPolicyDraft } from './multisig.ts';
import { MULTISIG_MEMBER, multisigStatement, proposalBody } from './multisig-statement.ts';
import { addKey, promotionDraft } from './rotation.ts';
import { writeProof } from './signature-members.ts';
import type { Signer } from './signature-proof.ts';
import { signObject } from './signed-object.ts';
import { ephemeralSigner } from './software-signer.ts';
import { memoryVault } from './testing/fixtures.ts';
import { verifyVault } from './verify.ts';
import type { VerifyReason } from './verify-report.ts';

const codes = (r: { errors: { code: VerifyReason }[] }) => new Set(r.errors.map((e) => e.code));
const asNewKey = (s: Signer) => ({ keyId: s.keyId, publicKey: s.publicKey, algorithm: s.algorithm });

/** Root A plus holders B and C, under a 2-of-3 policy {A, B, C}. */
async function governedVault() {
  const v = await memoryVault();
  const [b, c] = [await ephemeralSigner(), await ephemeralSigner()];
  await addKey(v.vault, asNewKey(b), v.root);
  await addKey(v.vault, asNewKey(c), v.root);
  await setInitialThresholdPolicy(
    v.vault,
    { policyId: 'hardware-2-of-3', threshold: 2, signers: [v.root.keyId, b.keyId, c.keyId] },
    v.root,
  );
  return { ...v, a: v.root, b, c };
}

/** Commits `draft` with arbitrary cosignatures, bypassing commit()'s checks — what an attacker would write. */
async function forge(
  v: Awaited<ReturnType<typeof governedVault>>,
  draft: Parameters<typeof propose>[1],
  cosigners: Signer[],
  committer: Signer,
  statementFor?: JsonObject,
) {
  const body = proposalBody(await v.vault.build(draft, { keyId: '', format: 'ed25519' }));
  const policyId = v.vault.thresholdPolicyEventId as string;
  const cos: JsonObject[] = [];
  for (const s of cosigners) {
    const c = toJson({ key_id: s.keyId }) as JsonObject;
    writeProof(c, await s.sign(multisigStatement(v.vault.uid, policyId, statementFor ?? body)));
    cos.push(c);
  }
  const ev: JsonObject = new Map(body);
  ev.set('actor_key_id', committer.keyId);
  ev.set(MULTISIG_MEMBER, toJson({ policy_event_id: policyId, cosignatures: cos }));
  ev.set('event_id', await computeEventId(ev));
  await signObject(ev, committer);
  await v.vault.appendSigned(ev);
  await v.vault.flush();
  return ev;
}

describe('2-of-3 threshold for critical operations', () => {
  it('propose → cosign ×2 → commit appends a promotion that verifies, counted as multisig', async () => {
    const v = await governedVault();
    const d = await ephemeralSigner();
    const p = await propose(v.vault, promotionDraft(asNewKey(d), 'hardware-2-of-3', null));
    expect(v.files.files.has(`pending/${p.proposalId}.json`)).toBe(true);
    await cosign(v.vault, p.proposalId, v.b);
    await cosign(v.vault, p.proposalId, v.c);
    const ev = await commit(v.vault, p.proposalId, v.b);
    await v.vault.flush();
    expect(v.files.files.has(`pending/${p.proposalId}.json`)).toBe(false);
    const r = await verifyVault(v.files);
    expect(r.errors).toEqual([]);
    expect(r.signatures.multisig).toBe(1);
    // A Profile A verifier sees one ordinary signature: Ed25519 over canonical(event − sig) by the committer.
    expect(
      await ed25519Verify(
        v.b.publicKey,
        fromBase64(ev.get('sig') as string) as Uint8Array,
        canonicalBytes(without(ev, 'sig')),
      ),
    ).toBe(true);
    expect(v.vault.key(d.keyId)?.entry.get('promotion_event_id')).toBe(ev.get('event_id'));
  });

  it('commit refuses with one cosignature: THRESHOLD_NOT_MET', async () => {
    const v = await governedVault();
    const p = await propose(v.vault, promotionDraft(asNewKey(await ephemeralSigner()), 'x', null));
    await cosign(v.vault, p.proposalId, v.b);
    await expect(commit(v.vault, p.proposalId, v.b)).rejects.toMatchObject({ code: 'THRESHOLD_NOT_MET' });
  });

  it('cosign refuses a second signature by the same key and a key outside the policy', async () => {
    const v = await governedVault();
    const p = await propose(v.vault, promotionDraft(asNewKey(await ephemeralSigner()), 'x', null));
    await cosign(v.vault, p.proposalId, v.b);
    await expect(cosign(v.vault, p.proposalId, v.b)).rejects.toMatchObject({ code: 'COSIGNER_NOT_ALLOWED' });
    await expect(cosign(v.vault, p.proposalId, await ephemeralSigner())).rejects.toMatchObject({
      code: 'COSIGNER_NOT_ALLOWED',
    });
  });

  it('a critical event with a single signature after the policy: MULTISIG_REQUIRED', async () => {
    const v = await governedVault();
    await v.vault.append(promotionDraft(asNewKey(await ephemeralSigner()), v.a.keyId, null), v.a);
    await v.vault.flush();
    expect(codes(await verifyVault(v.files))).toEqual(
      new Set(['MULTISIG_REQUIRED', 'KEY_PROMOTION_MISMATCH']),
    );
  });

  it('one signature counted twice toward the threshold: MULTISIG_DUPLICATE_SIGNER and THRESHOLD_NOT_MET', async () => {
    const v = await governedVault();
    await forge(
      v,
      thresholdPolicyDraft({ policyId: 'loose', threshold: 1, signers: [v.b.keyId] }),
      [v.b, v.b],
      v.b,
    );
    expect(codes(await verifyVault(v.files))).toEqual(
      new Set(['MULTISIG_DUPLICATE_SIGNER', 'MULTISIG_THRESHOLD_NOT_MET']),
    );
  });

  it('a cosigner not in keys.json: MULTISIG_UNKNOWN_KEY', async () => {
    const v = await governedVault();
    await forge(
      v,
      thresholdPolicyDraft({ policyId: 'loose', threshold: 1, signers: [v.b.keyId] }),
      [v.b, await ephemeralSigner()],
      v.b,
    );
    expect(codes(await verifyVault(v.files))).toEqual(
      new Set(['MULTISIG_UNKNOWN_KEY', 'MULTISIG_THRESHOLD_NOT_MET']),
    );
  });

  it('a vault key outside the policy: MULTISIG_SIGNER_NOT_IN_POLICY', async () => {
    const v = await governedVault();
    const p = await propose(v.vault, promotionDraft(asNewKey(await ephemeralSigner()), 'x', null));
    await cosign(v.vault, p.proposalId, v.b);
    await cosign(v.vault, p.proposalId, v.c);
    await commit(v.vault, p.proposalId, v.b); // d is now a vault key, but not a policy signer
    const d = v.vault.keys.keys.at(-1)?.keyId as string;
    const dSigner = { ...v.b, keyId: d }; // its signature will not matter: the policy check comes first
    await forge(
      v,
      thresholdPolicyDraft({ policyId: 'loose', threshold: 1, signers: [v.b.keyId] }),
      [v.b, dSigner],
      v.b,
    );
    expect(codes(await verifyVault(v.files))).toEqual(
      new Set(['MULTISIG_SIGNER_NOT_IN_POLICY', 'MULTISIG_THRESHOLD_NOT_MET']),
    );
  });

  it('cosignatures replayed from another proposal: MULTISIG_BAD_SIGNATURE', async () => {
    const v = await governedVault();
    const other = proposalBody(
      await v.vault.build(promotionDraft(asNewKey(await ephemeralSigner()), 'x', null), {
        keyId: '',
        format: 'ed25519',
      }),
    );
    await forge(
      v,
      thresholdPolicyDraft({ policyId: 'loose', threshold: 1, signers: [v.b.keyId] }),
      [v.b, v.c],
      v.b,
      other,
    );
    expect(codes(await verifyVault(v.files))).toEqual(
      new Set(['MULTISIG_BAD_SIGNATURE', 'MULTISIG_THRESHOLD_NOT_MET']),
    );
  });

  it('a committer outside the policy: MULTISIG_COMMITTER_NOT_IN_POLICY', async () => {
    const v = await governedVault();
    const d = await ephemeralSigner();
    const p = await propose(v.vault, promotionDraft(asNewKey(d), 'x', null));
    await cosign(v.vault, p.proposalId, v.b);
    await cosign(v.vault, p.proposalId, v.c);
    await commit(v.vault, p.proposalId, v.b);
    await forge(
      v,
      {
        type: 'com.noderr.provara.policy_update',
        actor: 'vault_governance',
        payload: { policy: 'safety', loosen: true },
      },
      [v.b, v.c],
      d,
    );
    expect(codes(await verifyVault(v.files))).toEqual(new Set(['MULTISIG_COMMITTER_NOT_IN_POLICY']));
  });
});
