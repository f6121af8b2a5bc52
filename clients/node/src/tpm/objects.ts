import { type ByteReader, ByteWriter } from '../../../../shared/tpm2/cursor.ts';
import { writePcrSelectionList } from '../../../../shared/tpm2/structures/pcr-selection.ts';
import { marshalPublic, parsePublic, type TpmtPublic } from '../../../../shared/tpm2/structures/public.ts';
import { TPM2B_MAX } from '../../../../shared/tpm2/structures/tpm2b.ts';
import { TPM_CC, TPM_RH } from './constants.ts';
import { passwordAuth } from './sessions.ts';
import type { Tpm } from './tpm.ts';

/**
 * Object commands: TPM2_CreatePrimary, TPM2_Create, TPM2_Load, TPM2_ReadPublic, TPM2_EvictControl.
 * Public areas go through the shared codec in both directions; `publicArea` keeps the TPMT_PUBLIC bytes
 * exactly as the TPM returned them (they are what the Name hashes and what the API receives).
 */

const EMPTY = new Uint8Array(0);
/** Creation data is informational here; cap what we accept at a generous size. */
const MAX_CREATION_DATA = 4096;
const MAX_PRIVATE = 4096;
const MAX_PUBLIC = 2048;

/** The TPMT_PUBLIC inside a TPM2B_PUBLIC, raw and parsed. */
export interface PublicArea {
  publicArea: Uint8Array;
  public: TpmtPublic;
}

function readPublic2b(r: ByteReader, field: string): PublicArea {
  const publicArea = r.tpm2b(field, MAX_PUBLIC);
  return { publicArea, public: parsePublic(publicArea) };
}

/** `TPM2B_SENSITIVE_CREATE` with an empty userAuth and no data: the agent's keys have empty auth values. */
function emptySensitiveCreate(): Uint8Array {
  return new ByteWriter().tpm2b(new ByteWriter().tpm2b(EMPTY).tpm2b(EMPTY).finish()).finish();
}

function creationParams(template: TpmtPublic): Uint8Array {
  const w = new ByteWriter().bytes(emptySensitiveCreate()).tpm2b(marshalPublic(template)).tpm2b(EMPTY);
  writePcrSelectionList(w, []); // creationPCR: none
  return w.finish();
}

function skipCreationOutputs(r: ByteReader): void {
  r.tpm2b('creationData', MAX_CREATION_DATA);
  r.tpm2b('creationHash', TPM2B_MAX.TPM2B_DIGEST);
  // TPMT_TK_CREATION: tag, hierarchy, digest.
  r.u16('creationTicket.tag');
  r.u32('creationTicket.hierarchy');
  r.tpm2b('creationTicket.digest', TPM2B_MAX.TPM2B_DIGEST);
}

export interface LoadedObject extends PublicArea {
  handle: number;
  name: Uint8Array;
}

/** TPM2_CreatePrimary under a hierarchy (TPM_RH_ENDORSEMENT for EKs, TPM_RH_OWNER for the SRK). */
export function createPrimary(
  tpm: Tpm,
  hierarchy: number,
  template: TpmtPublic,
  hierarchyAuth: Uint8Array = EMPTY,
): Promise<LoadedObject> {
  return tpm.run({
    name: 'CreatePrimary',
    code: TPM_CC.CreatePrimary,
    handles: [hierarchy],
    sessions: [passwordAuth(hierarchyAuth)],
    params: creationParams(template),
    responseHandles: 1,
    parse: (r, handles) => {
      const pub = readPublic2b(r, 'outPublic');
      skipCreationOutputs(r);
      const name = r.tpm2b('name', TPM2B_MAX.TPM2B_NAME);
      return { handle: handles[0]!, ...pub, name };
    },
  });
}

export interface CreatedObject extends PublicArea {
  /** TPM2B_PRIVATE content (encrypted by the parent): only the TPM that holds the parent can load it. */
  private: Uint8Array;
}

/** TPM2_Create: an ordinary key under a loaded parent (the SRK). */
export function create(tpm: Tpm, parent: number, template: TpmtPublic): Promise<CreatedObject> {
  return tpm.run({
    name: 'Create',
    code: TPM_CC.Create,
    handles: [parent],
    sessions: [passwordAuth()],
    params: creationParams(template),
    parse: (r) => {
      const priv = r.tpm2b('outPrivate', MAX_PRIVATE);
      const pub = readPublic2b(r, 'outPublic');
      skipCreationOutputs(r);
      return { private: priv, ...pub };
    },
  });
}

/** TPM2_Load: loads a key created under `parent`; returns its transient handle and Name. */
export function load(
  tpm: Tpm,
  parent: number,
  priv: Uint8Array,
  publicArea: Uint8Array,
): Promise<{ handle: number; name: Uint8Array }> {
  return tpm.run({
    name: 'Load',
    code: TPM_CC.Load,
    handles: [parent],
    sessions: [passwordAuth()],
    params: new ByteWriter().tpm2b(priv).tpm2b(publicArea).finish(),
    responseHandles: 1,
    parse: (r, handles) => ({ handle: handles[0]!, name: r.tpm2b('name', TPM2B_MAX.TPM2B_NAME) }),
  });
}

export interface ReadPublicResult extends PublicArea {
  name: Uint8Array;
  qualifiedName: Uint8Array;
}

/** TPM2_ReadPublic: the public area, Name and qualified Name of a loaded or persistent object. */
export function readPublic(tpm: Tpm, handle: number): Promise<ReadPublicResult> {
  return tpm.run({
    name: 'ReadPublic',
    code: TPM_CC.ReadPublic,
    handles: [handle],
    parse: (r) => ({
      ...readPublic2b(r, 'outPublic'),
      name: r.tpm2b('name', TPM2B_MAX.TPM2B_NAME),
      qualifiedName: r.tpm2b('qualifiedName', TPM2B_MAX.TPM2B_NAME),
    }),
  });
}

/**
 * TPM2_EvictControl: with a transient `object`, makes a persistent copy at `persistentHandle`; with a
 * persistent `object` (= persistentHandle), removes it. Owner authorization (empty by default).
 */
export function evictControl(
  tpm: Tpm,
  object: number,
  persistentHandle: number,
  ownerAuth: Uint8Array = EMPTY,
): Promise<void> {
  return tpm.run({
    name: 'EvictControl',
    code: TPM_CC.EvictControl,
    handles: [TPM_RH.OWNER, object],
    sessions: [passwordAuth(ownerAuth)],
    params: new ByteWriter().u32(persistentHandle).finish(),
    parse: () => undefined,
  });
}
