import { fromHex, timingSafeEqual } from '../encoding/bytes.ts';
import { checkAkAttributes } from './ak.ts';
import { TPM_ST } from './constants.ts';
import { TpmError } from './errors.ts';
import { parseAttest, type TpmsAttest, type TpmsClockInfo, type TpmsQuoteInfo } from './structures/attest.ts';
import { bankName, selectedPcrs } from './structures/pcr-selection.ts';
import { hashAlgorithm, parsePublicAny, type TpmtPublic } from './structures/public.ts';
import { parseSignature, type TpmtSignature } from './structures/signature.ts';
import { type VerifiedSignature, verifyAttestSignature } from './verify-signature.ts';

/**
 * TPM2_Quote verification (ATTESTATION.md §3.5). The order matters: the AK is checked before anything it
 * signed is believed, and the signature is verified over the raw bytes before they are parsed, so every
 * field read afterwards is authenticated.
 */

/** Reported PCR values as API.md sends them: `{ sha256: { "0": "<hex>" } }` (bytes also accepted). */
export type PcrValues = Readonly<Record<string, Readonly<Record<string, Uint8Array | string>>>>;

export interface VerifyQuoteInput {
  /** The AK, trusted by the caller (pinned at registration or bound to the EK): TPM2B_PUBLIC, TPMT_PUBLIC or parsed. */
  akPublic: TpmtPublic | Uint8Array;
  /** The TPMS_ATTEST bytes exactly as signed. */
  quote: Uint8Array;
  /** TPMT_SIGNATURE bytes or parsed. */
  signature: TpmtSignature | Uint8Array;
  pcrValues: PcrValues;
  /** The server-issued nonce the quote's extraData must equal. */
  nonce: Uint8Array;
}

export interface VerifiedQuote {
  attest: TpmsAttest<TpmsQuoteInfo>;
  clockInfo: TpmsClockInfo;
  firmwareVersion: bigint;
  qualifiedSigner: Uint8Array;
  signature: VerifiedSignature;
  /** The quoted selection as `{ sha256: [0, …] }`, in TPML order; only these PCRs are trustworthy. */
  pcrSelection: Record<string, number[]>;
  /** The verified PCR values, by bank and decimal index. */
  pcrs: Record<string, Record<string, Uint8Array>>;
}

/** Decimal PCR index as a JSON key: no sign, no leading zeros, so "07" cannot alias "7". */
const PCR_KEY = /^(?:0|[1-9][0-9]{0,2})$/;

function selectionMismatch(message: string): TpmError {
  return new TpmError('PCR_SELECTION_MISMATCH', message);
}

function pcrValue(bank: string, index: string, v: Uint8Array | string, size: number): Uint8Array {
  const bytes = typeof v === 'string' ? fromHex(v) : v;
  if (!bytes || bytes.length !== size) {
    throw new TpmError(
      'MALFORMED_STRUCTURE',
      `pcrValues.${bank}.${index}: not a ${size}-byte ${bank} digest`,
    );
  }
  return bytes;
}

/**
 * The reported values in pcrDigest order (TPML order, ascending index per bank), after checking that the
 * reported set equals the quoted set exactly: extra values would be trusted without being quoted, missing
 * ones would leave policy to guess (go-attestation rejects both).
 */
function collectPcrs(info: TpmsQuoteInfo, reported: PcrValues) {
  const selection: Record<string, number[]> = {};
  const pcrs: Record<string, Record<string, Uint8Array>> = {};
  const ordered: Uint8Array[] = [];
  for (const sel of info.pcrSelect) {
    const bank = bankName(sel.hash);
    if (Object.hasOwn(selection, bank))
      throw selectionMismatch(`bank ${bank} is selected twice in the quote`);
    const indices = selectedPcrs(sel);
    selection[bank] = indices;
    const values = Object.hasOwn(reported, bank) ? reported[bank] : undefined;
    const keys = values ? Object.keys(values) : [];
    for (const k of keys) {
      if (!PCR_KEY.test(k))
        throw new TpmError('MALFORMED_STRUCTURE', `pcrValues.${bank}: '${k}' is not a PCR index`);
    }
    if (keys.length !== indices.length) {
      throw selectionMismatch(`bank ${bank}: ${keys.length} PCR values reported, ${indices.length} quoted`);
    }
    const size = hashAlgorithm(sel.hash, 'PCR bank').size;
    const out: Record<string, Uint8Array> = {};
    for (const i of indices) {
      const k = String(i);
      const v = values && Object.hasOwn(values, k) ? values[k] : undefined;
      if (v === undefined) throw selectionMismatch(`bank ${bank}: PCR ${i} is quoted but not reported`);
      const bytes = pcrValue(bank, k, v, size);
      out[k] = bytes;
      ordered.push(bytes);
    }
    pcrs[bank] = out;
  }
  for (const [bank, values] of Object.entries(reported)) {
    if (!Object.hasOwn(selection, bank) && Object.keys(values).length > 0) {
      throw selectionMismatch(`bank ${bank} is reported but not quoted`);
    }
  }
  return { selection, pcrs, ordered };
}

/**
 * Verifies a TPM2_Quote and returns what it proves. Throws TpmError with: MALFORMED_STRUCTURE,
 * AK_ATTRIBUTES_INVALID, UNSUPPORTED_ALGORITHM, SIGNATURE_SCHEME_MISMATCH, SIGNATURE_INVALID, BAD_MAGIC,
 * WRONG_ATTEST_TYPE, NONCE_MISMATCH, PCR_SELECTION_MISMATCH or PCR_DIGEST_MISMATCH.
 *
 * @example
 * const q = await verifyQuote({ akPublic, quote, signature, pcrValues: { sha256: { '0': '…' } }, nonce });
 * q.pcrs.sha256['0']; // a quoted, verified value
 */
export async function verifyQuote(input: VerifyQuoteInput): Promise<VerifiedQuote> {
  const ak = input.akPublic instanceof Uint8Array ? parsePublicAny(input.akPublic) : input.akPublic;
  const signature = input.signature instanceof Uint8Array ? parseSignature(input.signature) : input.signature;
  // Without `restricted`, TPM2_Sign would sign a forged TPMS_ATTEST (go-attestation PR #112).
  checkAkAttributes(ak);
  const verified = await verifyAttestSignature(ak, input.quote, signature);

  const attest = parseAttest(input.quote);
  const info = attest.attested;
  if (info.type !== TPM_ST.ATTEST_QUOTE) {
    throw new TpmError(
      'WRONG_ATTEST_TYPE',
      `TPMS_ATTEST type 0x${attest.type.toString(16)} is not TPM_ST_ATTEST_QUOTE`,
    );
  }
  if (!timingSafeEqual(attest.extraData, input.nonce)) {
    throw new TpmError('NONCE_MISMATCH', 'the quote extraData is not the expected nonce');
  }

  const { selection, pcrs, ordered } = collectPcrs(info, input.pcrValues);
  // pcrDigest is hashed with the signing scheme's hash, not the bank's (tpm2-tss #1698; GCE SHA-1/384 quotes).
  let total = 0;
  for (const v of ordered) total += v.length;
  const concat = new Uint8Array(total);
  let offset = 0;
  for (const v of ordered) {
    concat.set(v, offset);
    offset += v.length;
  }
  const hash = hashAlgorithm(verified.hashAlg, 'signature hash');
  const digest = new Uint8Array(await crypto.subtle.digest(hash.webcrypto, concat));
  if (!timingSafeEqual(digest, info.pcrDigest)) {
    throw new TpmError('PCR_DIGEST_MISMATCH', 'the reported PCR values do not hash to the quoted pcrDigest');
  }

  return {
    attest: attest as TpmsAttest<TpmsQuoteInfo>,
    clockInfo: attest.clockInfo,
    firmwareVersion: attest.firmwareVersion,
    qualifiedSigner: attest.qualifiedSigner,
    signature: verified,
    pcrSelection: selection,
    pcrs,
  };
}
