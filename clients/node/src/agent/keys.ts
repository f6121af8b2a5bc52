import { toBase64 } from '../../../../shared/encoding/bytes.ts';
import { publicKeyToSpki } from '../../../../shared/tpm2/public-key-spki.ts';
import { marshalPublic2b } from '../../../../shared/tpm2/structures/public.ts';
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

async function occupied(tpm: Tpm, handle: number): Promise<boolean> {
  try {
    await readPublic(tpm, handle);
    return true;
  } catch (e) {
    if (e instanceof TpmCommandError && e.rc.name === 'TPM_RC_HANDLE') return false;
    throw e;
  }
}

/** Creates fresh AK and node key at the given persistent handles, evicting whatever was there. */
export async function createAgentKeys(tpm: Tpm, akHandle: number, nodeKeyHandle: number): Promise<AgentKeys> {
  for (const h of [akHandle, nodeKeyHandle]) if (await occupied(tpm, h)) await evictControl(tpm, h, h);
  const srk = await createPrimary(tpm, TPM_RH.OWNER, srkTemplate());
  try {
    for (const [template, handle] of [
      [akTemplate(), akHandle],
      [nodeKeyTemplate(), nodeKeyHandle],
    ] as const) {
      const key = await create(tpm, srk.handle, template);
      const loaded = await load(tpm, srk.handle, key.private, key.publicArea);
      try {
        await evictControl(tpm, loaded.handle, handle);
      } finally {
        await flushContext(tpm, loaded.handle);
      }
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
