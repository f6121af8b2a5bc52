import { ByteWriter } from '../../../../shared/tpm2/cursor.ts';
import { TPM2B_MAX } from '../../../../shared/tpm2/structures/tpm2b.ts';
import { AgentError } from '../errors.ts';
import { TPM_CC, TPM_RH, TPMA_NV } from './constants.ts';
import { passwordAuth } from './sessions.ts';
import type { Tpm } from './tpm.ts';

/** TPM2_NV_ReadPublic and TPM2_NV_Read (in chunks of at most TPM_PT_NV_BUFFER_MAX bytes). */

export interface NvPublic {
  nvIndex: number;
  nameAlg: number;
  attributes: number;
  authPolicy: Uint8Array;
  dataSize: number;
  name: Uint8Array;
}

export function nvReadPublic(tpm: Tpm, index: number): Promise<NvPublic> {
  return tpm.run({
    name: 'NV_ReadPublic',
    code: TPM_CC.NV_ReadPublic,
    handles: [index],
    parse: (r) => {
      const inner = r.sub('nvPublic', 'TPMS_NV_PUBLIC');
      const pub = {
        nvIndex: inner.u32('nvIndex'),
        nameAlg: inner.u16('nameAlg'),
        attributes: inner.u32('attributes'),
        authPolicy: inner.tpm2b('authPolicy', TPM2B_MAX.TPM2B_DIGEST),
        dataSize: inner.u16('dataSize'),
      };
      inner.end();
      return { ...pub, name: r.tpm2b('nvName', TPM2B_MAX.TPM2B_NAME) };
    },
  });
}

function nvReadChunk(
  tpm: Tpm,
  authHandle: number,
  index: number,
  offset: number,
  size: number,
): Promise<Uint8Array> {
  return tpm.run({
    name: 'NV_Read',
    code: TPM_CC.NV_Read,
    handles: [authHandle, index],
    sessions: [passwordAuth()],
    params: new ByteWriter().u16(size).u16(offset).finish(),
    parse: (r) => {
      const data = r.tpm2b('data', 0xffff);
      if (data.length !== size) {
        throw new AgentError(
          'TPM_RESPONSE_MALFORMED',
          `TPM2_NV_Read: asked for ${size} bytes, got ${data.length}`,
        );
      }
      return data;
    },
  });
}

/**
 * Reads a whole NV index. The authorization is the index itself when it allows AUTHREAD (empty auth), else
 * the owner hierarchy when it allows OWNERREAD — what TCG EK certificate indices allow.
 */
export async function nvReadAll(
  tpm: Tpm,
  index: number,
  options: { chunkSize?: number; nvPublic?: NvPublic } = {},
): Promise<Uint8Array> {
  const pub = options.nvPublic ?? (await nvReadPublic(tpm, index));
  const authHandle =
    pub.attributes & TPMA_NV.AUTHREAD ? index : pub.attributes & TPMA_NV.OWNERREAD ? TPM_RH.OWNER : undefined;
  if (authHandle === undefined) {
    throw new AgentError(
      'TPM_COMMAND_FAILED',
      `NV index 0x${index.toString(16)} allows neither AUTHREAD nor OWNERREAD (attributes 0x${pub.attributes.toString(16)})`,
    );
  }
  const chunk = Math.max(1, Math.min(options.chunkSize ?? 1024, 0xffff));
  const out = new Uint8Array(pub.dataSize);
  for (let off = 0; off < pub.dataSize; off += chunk) {
    const n = Math.min(chunk, pub.dataSize - off);
    out.set(await nvReadChunk(tpm, authHandle, index, off, n), off);
  }
  return out;
}
