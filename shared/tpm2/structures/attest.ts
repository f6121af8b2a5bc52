import { TPM_GENERATED_VALUE, TPM_ST } from '../constants.ts';
import { ByteReader, ByteWriter } from '../cursor.ts';
import { TpmError } from '../errors.ts';
import { readPcrSelectionList, type TpmsPcrSelection, writePcrSelectionList } from './pcr-selection.ts';
import { TPM2B_MAX } from './tpm2b.ts';

/**
 * `TPMS_ATTEST` (Part 2 §10.12.12): the structure a TPM signs in TPM2_Quote, TPM2_Certify,
 * TPM2_CertifyCreation, TPM2_GetTime, TPM2_NV_Certify and the audit commands. The signature covers these
 * bytes exactly — never the TPM2B_ATTEST size prefix — so the parse result keeps them in `raw`.
 */

/** `TPMS_CLOCK_INFO`: 17 bytes. resetCount/restartCount are obfuscated for non-EH/PH signers (see clock.ts). */
export interface TpmsClockInfo {
  /** Milliseconds the TPM has been powered since TPM2_Clear; survives reboots. */
  clock: bigint;
  resetCount: number;
  restartCount: number;
  /** `safe`: YES when no clock value greater than this one has ever been reported. */
  safe: boolean;
}

export interface TpmsQuoteInfo {
  type: typeof TPM_ST.ATTEST_QUOTE;
  pcrSelect: TpmsPcrSelection[];
  pcrDigest: Uint8Array;
}
export interface TpmsCertifyInfo {
  type: typeof TPM_ST.ATTEST_CERTIFY;
  name: Uint8Array;
  qualifiedName: Uint8Array;
}
export interface TpmsCreationInfo {
  type: typeof TPM_ST.ATTEST_CREATION;
  objectName: Uint8Array;
  creationHash: Uint8Array;
}
export interface TpmsTimeAttestInfo {
  type: typeof TPM_ST.ATTEST_TIME;
  time: bigint;
  clockInfo: TpmsClockInfo;
  firmwareVersion: bigint;
}
export interface TpmsNvCertifyInfo {
  type: typeof TPM_ST.ATTEST_NV;
  indexName: Uint8Array;
  offset: number;
  nvContents: Uint8Array;
}
export interface TpmsNvDigestCertifyInfo {
  type: typeof TPM_ST.ATTEST_NV_DIGEST;
  indexName: Uint8Array;
  nvDigest: Uint8Array;
}
export interface TpmsCommandAuditInfo {
  type: typeof TPM_ST.ATTEST_COMMAND_AUDIT;
  auditCounter: bigint;
  digestAlg: number;
  auditDigest: Uint8Array;
  commandDigest: Uint8Array;
}
export interface TpmsSessionAuditInfo {
  type: typeof TPM_ST.ATTEST_SESSION_AUDIT;
  exclusiveSession: boolean;
  sessionDigest: Uint8Array;
}

/** `TPMU_ATTEST`, discriminated by the attestation type. */
export type TpmuAttest =
  | TpmsQuoteInfo
  | TpmsCertifyInfo
  | TpmsCreationInfo
  | TpmsTimeAttestInfo
  | TpmsNvCertifyInfo
  | TpmsNvDigestCertifyInfo
  | TpmsCommandAuditInfo
  | TpmsSessionAuditInfo;

export interface TpmsAttest<A extends TpmuAttest = TpmuAttest> {
  magic: number;
  type: A['type'];
  qualifiedSigner: Uint8Array;
  extraData: Uint8Array;
  clockInfo: TpmsClockInfo;
  /** Obfuscated like the counters for non-EH/PH signers: compare for equality only. */
  firmwareVersion: bigint;
  attested: A;
  /** The exact TPMS_ATTEST bytes (the signed message); a view of the caller's input, not a copy. */
  raw: Uint8Array;
}

/** `TPMI_YES_NO`: anything but 0 or 1 is malformed (and would break marshal(parse(x)) == x). */
function readYesNo(r: ByteReader, field: string): boolean {
  const v = r.u8(field);
  if (v > 1) throw new TpmError('MALFORMED_STRUCTURE', `TPMS_ATTEST: ${field} is ${v}, not YES/NO`);
  return v === 1;
}

function readClockInfo(r: ByteReader): TpmsClockInfo {
  const clock = r.u64('clockInfo.clock');
  const resetCount = r.u32('clockInfo.resetCount');
  const restartCount = r.u32('clockInfo.restartCount');
  const safe = readYesNo(r, 'clockInfo.safe');
  return { clock, resetCount, restartCount, safe };
}

function writeClockInfo(w: ByteWriter, c: TpmsClockInfo): void {
  w.u64(c.clock)
    .u32(c.resetCount)
    .u32(c.restartCount)
    .u8(c.safe ? 1 : 0);
}

const NAME = TPM2B_MAX.TPM2B_NAME;
const DIGEST = TPM2B_MAX.TPM2B_DIGEST;

function readAttested(r: ByteReader, type: number): TpmuAttest {
  switch (type) {
    case TPM_ST.ATTEST_QUOTE:
      return { type, pcrSelect: readPcrSelectionList(r), pcrDigest: r.tpm2b('pcrDigest', DIGEST) };
    case TPM_ST.ATTEST_CERTIFY:
      return { type, name: r.tpm2b('name', NAME), qualifiedName: r.tpm2b('qualifiedName', NAME) };
    case TPM_ST.ATTEST_CREATION:
      return { type, objectName: r.tpm2b('objectName', NAME), creationHash: r.tpm2b('creationHash', DIGEST) };
    case TPM_ST.ATTEST_TIME:
      return {
        type,
        time: r.u64('time.time'),
        clockInfo: readClockInfo(r),
        firmwareVersion: r.u64('firmwareVersion'),
      };
    case TPM_ST.ATTEST_NV:
      return {
        type,
        indexName: r.tpm2b('indexName', NAME),
        offset: r.u16('offset'),
        nvContents: r.tpm2b('nvContents', TPM2B_MAX.TPM2B_MAX_NV_BUFFER),
      };
    case TPM_ST.ATTEST_NV_DIGEST:
      return { type, indexName: r.tpm2b('indexName', NAME), nvDigest: r.tpm2b('nvDigest', DIGEST) };
    case TPM_ST.ATTEST_COMMAND_AUDIT:
      return {
        type,
        auditCounter: r.u64('auditCounter'),
        digestAlg: r.u16('digestAlg'),
        auditDigest: r.tpm2b('auditDigest', DIGEST),
        commandDigest: r.tpm2b('commandDigest', DIGEST),
      };
    case TPM_ST.ATTEST_SESSION_AUDIT:
      return {
        type,
        exclusiveSession: readYesNo(r, 'exclusiveSession'),
        sessionDigest: r.tpm2b('sessionDigest', DIGEST),
      };
    default:
      throw new TpmError(
        'WRONG_ATTEST_TYPE',
        `TPMS_ATTEST: type 0x${type.toString(16)} is not a TPM_ST_ATTEST_* tag`,
      );
  }
}

function writeAttested(w: ByteWriter, a: TpmuAttest): void {
  switch (a.type) {
    case TPM_ST.ATTEST_QUOTE:
      writePcrSelectionList(w, a.pcrSelect);
      w.tpm2b(a.pcrDigest);
      return;
    case TPM_ST.ATTEST_CERTIFY:
      w.tpm2b(a.name).tpm2b(a.qualifiedName);
      return;
    case TPM_ST.ATTEST_CREATION:
      w.tpm2b(a.objectName).tpm2b(a.creationHash);
      return;
    case TPM_ST.ATTEST_TIME:
      w.u64(a.time);
      writeClockInfo(w, a.clockInfo);
      w.u64(a.firmwareVersion);
      return;
    case TPM_ST.ATTEST_NV:
      w.tpm2b(a.indexName).u16(a.offset).tpm2b(a.nvContents);
      return;
    case TPM_ST.ATTEST_NV_DIGEST:
      w.tpm2b(a.indexName).tpm2b(a.nvDigest);
      return;
    case TPM_ST.ATTEST_COMMAND_AUDIT:
      w.u64(a.auditCounter).u16(a.digestAlg).tpm2b(a.auditDigest).tpm2b(a.commandDigest);
      return;
    case TPM_ST.ATTEST_SESSION_AUDIT:
      w.u8(a.exclusiveSession ? 1 : 0).tpm2b(a.sessionDigest);
      return;
  }
}

/**
 * Parses a bare TPMS_ATTEST strictly: magic must be TPM_GENERATED_VALUE (BAD_MAGIC), the type a known
 * TPM_ST_ATTEST_* tag (WRONG_ATTEST_TYPE), no trailing bytes (MALFORMED_STRUCTURE). Callers that need a
 * particular type check `attested.type` themselves.
 */
export function parseAttest(bytes: Uint8Array): TpmsAttest {
  const r = new ByteReader(bytes, 'TPMS_ATTEST');
  const magic = r.u32('magic');
  if (magic !== TPM_GENERATED_VALUE) {
    throw new TpmError('BAD_MAGIC', `TPMS_ATTEST: magic 0x${magic.toString(16)} is not TPM_GENERATED_VALUE`);
  }
  const type = r.u16('type');
  const qualifiedSigner = r.tpm2b('qualifiedSigner', NAME);
  const extraData = r.tpm2b('extraData', TPM2B_MAX.TPM2B_DATA);
  const clockInfo = readClockInfo(r);
  const firmwareVersion = r.u64('firmwareVersion');
  const attested = readAttested(r, type);
  r.end();
  return {
    magic,
    type: attested.type,
    qualifiedSigner,
    extraData,
    clockInfo,
    firmwareVersion,
    attested,
    raw: bytes,
  };
}

/** Parses a TPM2B_ATTEST (u16 size ‖ TPMS_ATTEST); `raw` is the inner TPMS_ATTEST. */
export function parseAttest2b(bytes: Uint8Array): TpmsAttest {
  const r = new ByteReader(bytes, 'TPM2B_ATTEST');
  const size = r.u16('size');
  if (size > TPM2B_MAX.TPM2B_ATTEST) {
    throw new TpmError('MALFORMED_STRUCTURE', `TPM2B_ATTEST: size ${size} exceeds ${TPM2B_MAX.TPM2B_ATTEST}`);
  }
  if (size !== r.remaining) {
    throw new TpmError('MALFORMED_STRUCTURE', `TPM2B_ATTEST: size ${size} but ${r.remaining} bytes follow`);
  }
  return parseAttest(bytes.subarray(2));
}

/**
 * Either form, as tpm2-tools writes them (`tpm2_quote -m` gives TPMS_ATTEST, some tools TPM2B_ATTEST).
 * A bare TPMS_ATTEST starts with the magic 0xff544347; a TPM2B_ATTEST's u16 size is at most 2048, so its
 * first byte is never 0xff.
 */
export function parseAttestAny(bytes: Uint8Array): TpmsAttest {
  if (
    bytes.length >= 4 &&
    new DataView(bytes.buffer, bytes.byteOffset, 4).getUint32(0) === TPM_GENERATED_VALUE
  ) {
    return parseAttest(bytes);
  }
  return parseAttest2b(bytes);
}

/** The TPMS_ATTEST bytes of a structure (tests forge attestations with it). `raw` is ignored. */
export function marshalAttest(a: Omit<TpmsAttest, 'raw' | 'type'> & { raw?: Uint8Array }): Uint8Array {
  const w = new ByteWriter();
  w.u32(a.magic).u16(a.attested.type).tpm2b(a.qualifiedSigner).tpm2b(a.extraData);
  writeClockInfo(w, a.clockInfo);
  w.u64(a.firmwareVersion);
  writeAttested(w, a.attested);
  return w.finish();
}

/** TPM2B_ATTEST bytes. */
export function marshalAttest2b(a: Omit<TpmsAttest, 'raw' | 'type'>): Uint8Array {
  return new ByteWriter().tpm2b(marshalAttest(a)).finish();
}
