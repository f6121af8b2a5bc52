import { TPM_ALG } from '../../../../shared/tpm2/constants.ts';
import { ByteWriter } from '../../../../shared/tpm2/cursor.ts';
import { TPM_RH, TPMA_NV } from '../tpm/constants.ts';
import { TpmCommandError } from '../tpm/framing.ts';
import { type NvPublic, nvReadAll, nvReadPublic } from '../tpm/nv.ts';
import { passwordAuth } from '../tpm/sessions.ts';
import type { Tpm } from '../tpm/tpm.ts';
import { MastrError } from './errors.ts';
import { publicKeyFromRaw } from './p256.ts';

/**
 * Where the token's permanent public key (64 bytes X ‖ Y) lives in the host TPM.
 *
 * The seed used NV 0x01C00002 — the TCG EK Credential Profile's RSA-2048 EK **certificate** index — and
 * undefined whatever was there first, destroying the EK certificate (MASTR.md §7.10). We use an owner-range
 * index, 0x01000080 (TPM_HT_NV_INDEX owner range 0x01000000–0x013FFFFF, outside the TCG-reserved 0x01C0xxxx
 * block; 0x80 mirrors the key handle 0x81000080), and only ever undefine an index that looks like ours.
 * The legacy index is only read, and only with an explicit `--legacy-nv-index`.
 */
export const TOKEN_PUBKEY_NV_INDEX = 0x01000080;
export const LEGACY_TOKEN_PUBKEY_NV_INDEX = 0x01c00002;

const TPM_CC_NV_UndefineSpace = 0x00000122;
const TPM_CC_NV_DefineSpace = 0x0000012a;
const TPM_CC_NV_Write = 0x00000137;
const OWNERWRITE = 0x00000002;
/** The seed's attributes: OWNERWRITE|OWNERREAD|AUTHREAD, empty auth, nameAlg SHA-256. */
export const TOKEN_PUBKEY_NV_ATTRIBUTES = OWNERWRITE | TPMA_NV.OWNERREAD | TPMA_NV.AUTHREAD;
const SIZE = 64;

export function nvIndexHex(index: number): string {
  return `0x${index.toString(16).padStart(8, '0')}`;
}

async function nvPublicOrNull(tpm: Tpm, index: number): Promise<NvPublic | null> {
  try {
    return await nvReadPublic(tpm, index);
  } catch (e) {
    if (e instanceof TpmCommandError && e.rc.name === 'TPM_RC_HANDLE') return null;
    throw e;
  }
}

function defineSpace(tpm: Tpm, index: number): Promise<void> {
  const pub = new ByteWriter()
    .u32(index)
    .u16(TPM_ALG.SHA256)
    .u32(TOKEN_PUBKEY_NV_ATTRIBUTES)
    .tpm2b(new Uint8Array(0)) // authPolicy
    .u16(SIZE)
    .finish();
  return tpm.run({
    name: 'NV_DefineSpace',
    code: TPM_CC_NV_DefineSpace,
    handles: [TPM_RH.OWNER],
    sessions: [passwordAuth()],
    params: new ByteWriter().tpm2b(new Uint8Array(0)).tpm2b(pub).finish(),
    parse: () => undefined,
  });
}

function undefineSpace(tpm: Tpm, index: number): Promise<void> {
  return tpm.run({
    name: 'NV_UndefineSpace',
    code: TPM_CC_NV_UndefineSpace,
    handles: [TPM_RH.OWNER, index],
    sessions: [passwordAuth()],
    parse: () => undefined,
  });
}

function nvWrite(tpm: Tpm, index: number, data: Uint8Array): Promise<void> {
  return tpm.run({
    name: 'NV_Write',
    code: TPM_CC_NV_Write,
    handles: [TPM_RH.OWNER, index],
    sessions: [passwordAuth()],
    params: new ByteWriter().tpm2b(data).u16(0).finish(),
    parse: () => undefined,
  });
}

function looksLikeOurs(pub: NvPublic): boolean {
  const typeBits = (pub.attributes >> 4) & 0xf; // TPM_NT: 0 = ordinary
  return pub.dataSize === SIZE && typeBits === 0 && (pub.attributes & 0x40000000) === 0; // not PLATFORMCREATE
}

/** Stores the token pub (validated as a P-256 point) at an owner index; refuses indices that are not ours. */
export async function storeTokenPubkey(
  tpm: Tpm,
  raw: Uint8Array,
  index = TOKEN_PUBKEY_NV_INDEX,
): Promise<void> {
  publicKeyFromRaw(raw, 'token public key');
  if (index === LEGACY_TOKEN_PUBKEY_NV_INDEX || index >>> 24 !== 0x01 || index > 0x013fffff) {
    throw new MastrError(
      'USAGE',
      `refusing NV index ${nvIndexHex(index)}: the token key goes to an owner index in 0x01000000–0x013fffff`,
    );
  }
  const existing = await nvPublicOrNull(tpm, index);
  if (existing && !looksLikeOurs(existing)) {
    throw new MastrError(
      'USAGE',
      `NV index ${nvIndexHex(index)} is in use by something else (${existing.dataSize} bytes, attributes 0x${existing.attributes.toString(16)}); choose another with --nv-index`,
    );
  }
  if (existing) await undefineSpace(tpm, index);
  await defineSpace(tpm, index);
  await nvWrite(tpm, index, raw);
}

/** The stored token pub, or null if the index is not defined. A defined index with bad content is an error. */
export async function readTokenPubkey(tpm: Tpm, index = TOKEN_PUBKEY_NV_INDEX): Promise<Uint8Array | null> {
  const pub = await nvPublicOrNull(tpm, index);
  if (!pub) return null;
  if (pub.dataSize !== SIZE) {
    throw new MastrError(
      'TOKEN_PUBKEY_MISSING',
      `NV index ${nvIndexHex(index)} holds ${pub.dataSize} bytes, not a 64-byte token key${
        index === LEGACY_TOKEN_PUBKEY_NV_INDEX ? ' (probably the TPM’s RSA EK certificate)' : ''
      }`,
    );
  }
  const raw = await nvReadAll(tpm, index, { nvPublic: pub });
  publicKeyFromRaw(raw, `token public key at NV ${nvIndexHex(index)}`);
  return raw;
}

export async function requireTokenPubkey(tpm: Tpm, index = TOKEN_PUBKEY_NV_INDEX): Promise<Uint8Array> {
  const raw = await readTokenPubkey(tpm, index);
  if (!raw) {
    throw new MastrError(
      'TOKEN_PUBKEY_MISSING',
      `no token public key at NV ${nvIndexHex(index)}: run 'noderr-agent mastr provision --set-token-pubkey <128 hex>'`,
    );
  }
  return raw;
}
