import { canonicalize } from './canonical-json.ts';
import { sha256Hex } from './digest.ts';
import { ProvaraError } from './errors.ts';
import { computeEventId } from './event-id.ts';
import { THRESHOLD_POLICY_TYPE } from './extension-types.ts';
import { parseJsonBytes } from './json-parse.ts';
import { type JsonObject, type JsonValue, stringField, toJson } from './json-value.ts';
import { applyKeyEffects } from './key-effects.ts';
import { MULTISIG_MEMBER, multisigStatement, proposalBody } from './multisig-statement.ts';
import { readProof, writeProof } from './signature-members.ts';
import type { Signer } from './signature-proof.ts';
import { signObject, verifyProof } from './signed-object.ts';
import type { EventDraft, Vault } from './vault.ts';
import { PENDING_DIR } from './vault-layout.ts';

/**
 * The 2-of-3 workflow for critical operations: `propose` writes the pending event to
 * `pending/<proposal_id>.json`; each holder `cosign`s it with their own token; `commit` appends it once
 * `t` distinct valid cosignatures are present, with the committer's ordinary Profile A `sig` on top
 * (multisig-statement.ts explains the envelope). The pending file is not trusted: commit re-verifies every
 * cosignature, and so does the verifier.
 */
export interface Proposal {
  proposalId: string;
  policyEventId: string;
  vaultUid: string;
  body: JsonObject;
  cosignatures: JsonObject[];
}

const enc = new TextEncoder();
const pendingPath = (id: string) => `${PENDING_DIR}/${id}.json`;

/** Sets the first threshold policy (one authorized key suffices; later changes need the policy in force). */
export async function setInitialThresholdPolicy(
  vault: Vault,
  policy: { policyId: string; threshold: number; signers: string[] },
  signer: Signer,
): Promise<JsonObject> {
  if (vault.thresholdPolicy)
    throw new ProvaraError(
      'POLICY_INVALID',
      'a threshold policy is already in force; propose a change instead',
    );
  return vault.append(thresholdPolicyDraft(policy), signer);
}

export function thresholdPolicyDraft(policy: {
  policyId: string;
  threshold: number;
  signers: string[];
}): EventDraft {
  if (
    policy.threshold < 1 ||
    policy.threshold > policy.signers.length ||
    new Set(policy.signers).size !== policy.signers.length
  ) {
    throw new ProvaraError(
      'POLICY_INVALID',
      'the threshold must be between 1 and the number of distinct signers',
    );
  }
  return {
    type: THRESHOLD_POLICY_TYPE,
    actor: 'vault_governance',
    namespace: 'canonical',
    payload: { policy_id: policy.policyId, threshold: policy.threshold, signers: policy.signers },
  };
}

export async function propose(vault: Vault, draft: EventDraft): Promise<Proposal> {
  const policy = vault.thresholdPolicy;
  if (!policy) throw new ProvaraError('POLICY_INVALID', 'no threshold policy is in force');
  const body = proposalBody(await vault.build(draft, { keyId: '', format: 'ed25519' }));
  const proposalId = `prop_${(await sha256Hex(multisigStatement(vault.uid, policy.policyEventId, body))).slice(0, 24)}`;
  const p: Proposal = {
    proposalId,
    policyEventId: policy.policyEventId,
    vaultUid: vault.uid,
    body,
    cosignatures: [],
  };
  await savePending(vault, p);
  return p;
}

export async function loadProposal(vault: Vault, proposalId: string): Promise<Proposal> {
  if (!/^prop_[0-9a-f]{24}$/.test(proposalId))
    throw new ProvaraError('PROPOSAL_NOT_FOUND', `no proposal ${proposalId}`);
  const bytes = await vault.files.read(pendingPath(proposalId));
  if (!bytes) throw new ProvaraError('PROPOSAL_NOT_FOUND', `no proposal ${proposalId}`);
  const doc = parseJsonBytes(bytes);
  const body = doc instanceof Map ? doc.get('proposal') : undefined;
  const cos = doc instanceof Map ? doc.get('cosignatures') : undefined;
  if (
    !(doc instanceof Map) ||
    !(body instanceof Map) ||
    !Array.isArray(cos) ||
    !cos.every((c) => c instanceof Map)
  ) {
    throw new ProvaraError('PROPOSAL_INVALID', `pending/${proposalId}.json is malformed`);
  }
  return {
    proposalId,
    policyEventId: stringField(doc, 'policy_event_id') ?? '',
    vaultUid: stringField(doc, 'vault_uid') ?? '',
    body,
    cosignatures: cos as JsonObject[],
  };
}

async function savePending(vault: Vault, p: Proposal): Promise<void> {
  const doc = toJson({
    proposal_id: p.proposalId,
    policy_event_id: p.policyEventId,
    vault_uid: p.vaultUid,
    proposal: p.body,
    cosignatures: p.cosignatures,
  });
  await vault.files.write(pendingPath(p.proposalId), enc.encode(canonicalize(doc)));
}

/** Adds `signer`'s cosignature. Refuses keys outside the policy and a second signature by the same key. */
export async function cosign(vault: Vault, proposalId: string, signer: Signer): Promise<Proposal> {
  const p = await loadProposal(vault, proposalId);
  const policy = vault.thresholdPolicy;
  if (!policy || policy.policyEventId !== p.policyEventId)
    throw new ProvaraError('PROPOSAL_INVALID', 'the threshold policy changed since the proposal');
  if (!policy.signers.includes(signer.keyId))
    throw new ProvaraError('COSIGNER_NOT_ALLOWED', `${signer.keyId} is not a signer of ${policy.policyId}`);
  if (p.cosignatures.some((c) => c.get('key_id') === signer.keyId))
    throw new ProvaraError('COSIGNER_NOT_ALLOWED', `${signer.keyId} already cosigned`);
  const proof = await signer.sign(multisigStatement(vault.uid, policy.policyEventId, p.body));
  const c = toJson({ key_id: signer.keyId }) as JsonObject;
  if (proof.format === 'webauthn.v1') c.set('sig_format', 'webauthn.v1');
  writeProof(c, proof);
  p.cosignatures.push(c);
  await savePending(vault, p);
  return p;
}

/** Appends the proposal once `t` distinct, valid cosignatures are present; `committer` must be a policy signer. */
export async function commit(vault: Vault, proposalId: string, committer: Signer): Promise<JsonObject> {
  const p = await loadProposal(vault, proposalId);
  const policy = vault.thresholdPolicy;
  if (!policy || policy.policyEventId !== p.policyEventId)
    throw new ProvaraError('PROPOSAL_INVALID', 'the threshold policy changed since the proposal');
  if (!policy.signers.includes(committer.keyId))
    throw new ProvaraError(
      'COSIGNER_NOT_ALLOWED',
      `committer ${committer.keyId} is not a signer of ${policy.policyId}`,
    );
  const statement = multisigStatement(vault.uid, policy.policyEventId, p.body);
  const valid = new Set<string>();
  for (const c of p.cosignatures) {
    const keyId = stringField(c, 'key_id') ?? '';
    const key = vault.key(keyId);
    const proof = readProof(c);
    if (!key || !policy.signers.includes(keyId) || key.status !== 'active' || !proof.ok) continue;
    if ((await verifyProof(proof.proof, key, statement)).ok) valid.add(keyId);
  }
  if (valid.size < policy.threshold) {
    throw new ProvaraError(
      'THRESHOLD_NOT_MET',
      `${valid.size} valid cosignatures of ${policy.threshold} required`,
      { valid: [...valid] },
    );
  }
  const ev: JsonObject = new Map(p.body);
  ev.set('actor_key_id', committer.keyId);
  ev.set(
    MULTISIG_MEMBER,
    toJson({ policy_event_id: policy.policyEventId, cosignatures: p.cosignatures as JsonValue[] }),
  );
  if (committer.format === 'webauthn.v1') ev.set('sig_format', 'webauthn.v1');
  ev.set('event_id', await computeEventId(ev, 'A'));
  await signObject(ev, committer);
  await vault.appendSigned(ev);
  await applyKeyEffects(vault, ev);
  await vault.saveKeys();
  await vault.files.remove(pendingPath(proposalId));
  return ev;
}
