import { fromBase64, toBase64, toHex } from '../../../../shared/encoding/bytes.ts';
import { TPMA_OBJECT } from '../../../../shared/tpm2/constants.ts';
import { publicKeyToSpki } from '../../../../shared/tpm2/public-key-spki.ts';
import { computeName, marshalPublic2b, parsePublic2b } from '../../../../shared/tpm2/structures/public.ts';
import { AgentError } from '../errors.ts';
import { TPM_RH } from '../tpm/constants.ts';
import { TpmCommandError } from '../tpm/framing.ts';
import {
  create,
  createPrimary,
  evictControl,
  load,
  type ReadPublicResult,
  readPublic,
} from '../tpm/objects.ts';
import { flushContext } from '../tpm/sessions.ts';
import { akTemplate, nodeKeyTemplate, srkTemplate } from '../tpm/templates.ts';
import type { Tpm } from '../tpm/tpm.ts';
import type { AgentState, StateStore } from './state.ts';

/**
 * The agent's two keys, created under a transient SRK and made persistent with TPM2_EvictControl, so they
 * survive reboots and the agent's restarts without storing any key blob: the handles in state.json are all
 * it needs. Handles in the owner range 0x81000000–0x817FFFFF (TCG handle registry); defaults chosen away from
 * the SRK/EK conventions (0x81000001, 0x81010001).
 */
export const DEFAULT_AK_HANDLE = 0x81008001;
export const DEFAULT_NODE_KEY_HANDLE = 0x81008002;

export interface AgentKeys {
  ak: ReadPublicResult;
  nodeKey: ReadPublicResult;
}

/** A persistent object the agent's files say it created: its handle and TPM Name (hex). */
export interface OwnedKey {
  role: 'ak' | 'nodeKey';
  handle: number;
  name: string;
}

async function nameOfPublic2b(b64: string): Promise<string | undefined> {
  const bytes = fromBase64(b64);
  if (!bytes) return undefined;
  try {
    return toHex(await computeName(parsePublic2b(bytes)));
  } catch {
    return undefined; // an unreadable record proves nothing: the object counts as not ours
  }
}

async function keysOfState(s: Pick<AgentState, 'akHandle' | 'akPublic' | 'nodeKeyHandle' | 'nodeKeyPublic'>) {
  const out: OwnedKey[] = [];
  for (const [role, handle, pub] of [
    ['ak', s.akHandle, s.akPublic],
    ['nodeKey', s.nodeKeyHandle, s.nodeKeyPublic],
  ] as const) {
    const name = typeof pub === 'string' ? await nameOfPublic2b(pub) : undefined;
    if (name && typeof handle === 'number') out.push({ role, handle, name });
  }
  return out;
}

/**
 * Every persistent object the agent's files record as its own: state.json (the registered keys), the
 * pending activation, and keys.json (written as soon as the keys exist, so a registration that failed
 * half-way still knows its keys). Deduplicated by handle and Name.
 */
export async function recordedKeys(store: StateStore): Promise<OwnedKey[]> {
  const all: OwnedKey[] = [];
  const state = store.readState();
  if (state) all.push(...(await keysOfState(state)));
  const pending = store.readPending();
  if (pending) all.push(...(await keysOfState(pending.state)));
  for (const k of store.readKeys()?.keys ?? []) {
    if (typeof k.handle === 'number' && typeof k.name === 'string') all.push(k);
  }
  const seen = new Set<string>();
  return all.filter((k) => {
    const id = `${k.handle}:${k.name}`;
    if (seen.has(id)) return false;
    seen.add(id);
    return true;
  });
}

/** What sits at a persistent handle, judged against the agent's records. */
export type Occupant =
  | { handle: number; kind: 'empty' }
  | { handle: number; kind: 'own'; name: string; role: OwnedKey['role'] }
  | { handle: number; kind: 'foreign'; name: string };

/**
 * Reads the object at `handle` (TPM2_ReadPublic). It is the agent's own only if a record names this handle
 * with this exact Name (nameAlg ‖ H(public area)) and it is a signing key without the decrypt attribute,
 * as the AK and the node key are, so a corrupted record can never make an EK or a storage key "ours".
 */
export async function inspectHandle(tpm: Tpm, handle: number, own: readonly OwnedKey[]): Promise<Occupant> {
  let found: ReadPublicResult;
  try {
    found = await readPublic(tpm, handle);
  } catch (e) {
    if (e instanceof TpmCommandError && e.rc.name === 'TPM_RC_HANDLE') return { handle, kind: 'empty' };
    throw e;
  }
  const name = toHex(found.name);
  const attrs = found.public.objectAttributes;
  const signingOnly = (attrs & TPMA_OBJECT.sign) !== 0 && (attrs & TPMA_OBJECT.decrypt) === 0;
  const mine = signingOnly ? own.find((k) => k.handle === handle && k.name === name) : undefined;
  return mine ? { handle, kind: 'own', name, role: mine.role } : { handle, kind: 'foreign', name };
}

export const hexHandle = (h: number): string => `0x${h.toString(16)}`;

/**
 * Looks at both handles before anything is evicted: an object the agent's records do not name as its
 * own is another program's until proven otherwise, so it is HANDLE_OCCUPIED unless `force` is given.
 */
export async function checkKeyHandles(
  tpm: Tpm,
  handles: readonly number[],
  own: readonly OwnedKey[],
  force: boolean,
): Promise<Occupant[]> {
  const occupants: Occupant[] = [];
  for (const h of handles) occupants.push(await inspectHandle(tpm, h, own));
  const foreign = occupants.filter((o) => o.kind === 'foreign');
  if (foreign.length > 0 && !force) {
    throw new AgentError(
      'HANDLE_OCCUPIED',
      `persistent handle ${foreign.map((o) => hexHandle(o.handle)).join(' and ')} holds an object this agent did not create (another program's key?); register --force evicts it`,
      {
        handles: foreign.map((o) => ({
          handle: hexHandle(o.handle),
          name: o.kind === 'foreign' ? o.name : '',
        })),
      },
    );
  }
  return occupants;
}

/**
 * Creates fresh AK and node key at the given persistent handles. What is there already is evicted only if
 * it is the agent's own (by Name) or `force` is set (checkKeyHandles). `recordKeys` is called as soon as
 * both keys are persistent, before anything else can fail.
 */
export async function createAgentKeys(
  tpm: Tpm,
  akHandle: number,
  nodeKeyHandle: number,
  o: {
    own: readonly OwnedKey[];
    force: boolean;
    progress?: (s: string) => void;
    recordKeys?: (keys: OwnedKey[]) => void;
  },
): Promise<AgentKeys> {
  const occupants = await checkKeyHandles(tpm, [akHandle, nodeKeyHandle], o.own, o.force);
  for (const occ of occupants) {
    if (occ.kind === 'empty') continue;
    if (occ.kind === 'foreign')
      o.progress?.(`--force: evicting the foreign object at ${hexHandle(occ.handle)} (Name ${occ.name})`);
    await evictControl(tpm, occ.handle, occ.handle);
  }
  const made: OwnedKey[] = [];
  const srk = await createPrimary(tpm, TPM_RH.OWNER, srkTemplate());
  try {
    for (const [role, template, handle] of [
      ['ak', akTemplate(), akHandle],
      ['nodeKey', nodeKeyTemplate(), nodeKeyHandle],
    ] as const) {
      const key = await create(tpm, srk.handle, template);
      const loaded = await load(tpm, srk.handle, key.private, key.publicArea);
      try {
        await evictControl(tpm, loaded.handle, handle);
      } finally {
        await flushContext(tpm, loaded.handle);
      }
      made.push({ role, handle, name: toHex((await readPublic(tpm, handle)).name) });
      o.recordKeys?.([...made]);
    }
  } finally {
    await flushContext(tpm, srk.handle);
  }
  return { ak: await readPublic(tpm, akHandle), nodeKey: await readPublic(tpm, nodeKeyHandle) };
}

/** The SPKI PEM of a TPM public key (what `publicKey` carries), and the node id = SHA-256 of its DER. */
export async function spkiPemAndNodeId(key: ReadPublicResult): Promise<{ pem: string; nodeId: string }> {
  const der = await publicKeyToSpki(key.public);
  const b64 = toBase64(der);
  const pem = `-----BEGIN PUBLIC KEY-----\n${b64.replace(/.{1,64}/g, '$&\n')}-----END PUBLIC KEY-----\n`;
  const h = new Uint8Array(await crypto.subtle.digest('SHA-256', der as Uint8Array<ArrayBuffer>));
  return { pem, nodeId: `0x${Array.from(h, (b) => b.toString(16).padStart(2, '0')).join('')}` };
}

export function public2bBase64(key: ReadPublicResult): string {
  return toBase64(marshalPublic2b(key.public));
}
