import { TPM_ALG } from '../../../../shared/tpm2/constants.ts';
import { TPM_RH } from '../tpm/constants.ts';
import { TpmCommandError } from '../tpm/framing.ts';
import { create, createPrimary, evictControl, load, readPublic } from '../tpm/objects.ts';
import { flushContext } from '../tpm/sessions.ts';
import { signMessage } from '../tpm/sign.ts';
import { nodeKeyTemplate, srkTemplate } from '../tpm/templates.ts';
import type { Tpm } from '../tpm/tpm.ts';
import { MastrError } from './errors.ts';
import { leftPad } from './p256.ts';

/**
 * The host's permanent MASTR key: P-256 ECDSA-SHA256 in the TPM at persistent handle 0x81000080 (the
 * handle the Python host uses, so existing deployments keep working), attributes
 * fixedTPM|fixedParent|sensitiveDataOrigin|userWithAuth|sign as the seed's.
 *
 * The seed made it with CreatePrimary and an empty `unique`, which the TPM makes deterministic (MASTR.md
 * §7.3): `--regenerate` recreated the same key. Here it is a TPM2_Create child of a transient SRK — the
 * TPM draws a fresh private key every time — then made persistent; only the persistent copy is kept.
 */
export const HOST_KEY_HANDLE = 0x81000080;

function rawPub(pub: { type: number; x?: Uint8Array; y?: Uint8Array }): Uint8Array {
  if (pub.type !== TPM_ALG.ECC || !pub.x || !pub.y) {
    throw new MastrError('KEY_INVALID', 'the object at the host key handle is not an ECC key');
  }
  const out = new Uint8Array(64);
  out.set(leftPad(pub.x, 32, 'host key X'), 0);
  out.set(leftPad(pub.y, 32, 'host key Y'), 32);
  return out;
}

/** The host public key `X ‖ Y` (left-padded), or null when nothing is at the handle. */
export async function readHostKey(tpm: Tpm, handle = HOST_KEY_HANDLE): Promise<Uint8Array | null> {
  try {
    return rawPub((await readPublic(tpm, handle)).public);
  } catch (e) {
    if (e instanceof TpmCommandError && e.rc.name === 'TPM_RC_HANDLE') return null;
    throw e;
  }
}

export async function requireHostKey(tpm: Tpm, handle = HOST_KEY_HANDLE): Promise<Uint8Array> {
  const pub = await readHostKey(tpm, handle);
  if (!pub) {
    throw new MastrError(
      'HOST_KEY_MISSING',
      `no host key at TPM handle 0x${handle.toString(16)}: run 'noderr-agent mastr provision --regenerate'`,
    );
  }
  return pub;
}

/** Evicts whatever is at the handle and persists a freshly generated key there; returns its `X ‖ Y`. */
export async function regenerateHostKey(tpm: Tpm, handle = HOST_KEY_HANDLE): Promise<Uint8Array> {
  if (await readHostKey(tpm, handle).catch(() => null)) await evictControl(tpm, handle, handle);
  const srk = await createPrimary(tpm, TPM_RH.OWNER, srkTemplate());
  try {
    const key = await create(tpm, srk.handle, nodeKeyTemplate());
    const loaded = await load(tpm, srk.handle, key.private, key.publicArea);
    try {
      await evictControl(tpm, loaded.handle, handle);
    } finally {
      await flushContext(tpm, loaded.handle);
    }
  } finally {
    await flushContext(tpm, srk.handle);
  }
  return requireHostKey(tpm, handle);
}

/** Signs for MASTR: the message is hashed with SHA-256 and signed in the TPM; out comes `r ‖ s` (padded). */
export interface HostSigner {
  sign(message: Uint8Array): Promise<Uint8Array>;
}

export function tpmHostSigner(tpm: Tpm, handle = HOST_KEY_HANDLE): HostSigner {
  return {
    async sign(message) {
      const { parsed } = await signMessage(tpm, handle, message);
      if (parsed.sigAlg !== TPM_ALG.ECDSA) {
        throw new MastrError(
          'KEY_INVALID',
          `the host key signed with algorithm 0x${parsed.sigAlg.toString(16)}`,
        );
      }
      const out = new Uint8Array(64);
      out.set(leftPad(parsed.r, 32, 'signature r'), 0);
      out.set(leftPad(parsed.s, 32, 'signature s'), 32);
      return out;
    },
  };
}
