import { toHex, utf8 } from '../../../shared/encoding/bytes.ts';
import { computeName, parsePublicAny } from '../../../shared/tpm2/structures/public.ts';
import { type PcrValues, verifyQuote } from '../../../shared/tpm2/verify-quote.ts';
import type { Command } from '../command.ts';
import { type CliIo, parseHexOption, readInput, requireString, UsageError, unwrapAttest } from '../io.ts';
import { algName } from '../names.ts';

const help = `Usage: tpm2 verify-quote --ak FILE --quote FILE --signature FILE --pcrs FILE --nonce HEX

Verifies a TPM2_Quote: the AK is a restricted signing key (fixedTPM, fixedParent, sensitiveDataOrigin),
the signature is the AK's over the quote, the quote's extraData equals the nonce, the reported PCR set
equals the quoted set and the PCR values hash to the quoted pcrDigest.

  --ak FILE         AK public area: TPM2B_PUBLIC (tpm2_createak -u … -f tss) or TPMT_PUBLIC
  --quote FILE      TPMS_ATTEST (tpm2_quote -m) or TPM2B_ATTEST
  --signature FILE  TPMT_SIGNATURE (tpm2_quote -s, default tss format)
  --pcrs FILE       JSON {"sha256": {"0": "<hex>", …}, "sha1": {…}}: every quoted PCR, nothing else
  --nonce HEX       the expected qualifying data (tpm2_quote -q), hex, optional 0x prefix
  -h, --help        this text

Prints one JSON object on stdout:
  {"ok": true, "akName", "signature": {"sigAlg", "hashAlg"}, "pcrSelection", "pcrs", "clockInfo", …}
  {"ok": false, "reason": "<CODE>", "message": "…"}     CODE as in design/API.md (NONCE_MISMATCH, …)
  {"ok": false, "reason": "USAGE", "message": "…"}      unknown option, missing argument or file, bad hex
Exit status: 0 valid, 1 rejected, 2 usage error, 3 internal error.
`;

/** The --pcrs file: bank → PCR index → hex string. Deeper checks (hex, sizes, sets) are the verifier's. */
function readPcrs(io: CliIo, path: string): PcrValues {
  let json: unknown;
  try {
    json = JSON.parse(utf8.decode(readInput(io, path, 'pcrs')));
  } catch (e) {
    if (e instanceof UsageError) throw e;
    throw new UsageError(`--pcrs: ${path} is not JSON (${e instanceof Error ? e.message : String(e)})`);
  }
  const shape = new UsageError(`--pcrs: ${path} must be {"<bank>": {"<pcr>": "<hex>", …}, …}`);
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw shape;
  const out: Record<string, Record<string, string>> = {};
  for (const [bank, values] of Object.entries(json)) {
    if (typeof values !== 'object' || values === null || Array.isArray(values)) throw shape;
    const bankValues: Record<string, string> = {};
    for (const [pcr, value] of Object.entries(values)) {
      if (typeof value !== 'string') throw shape;
      bankValues[pcr] = value.startsWith('0x') ? value.slice(2) : value;
    }
    out[bank] = bankValues;
  }
  return out;
}

export const verifyQuoteCommand: Command = {
  name: 'verify-quote',
  summary: 'verify a TPM2_Quote (AK, signature, nonce, PCR values)',
  help,
  options: {
    ak: { type: 'string' },
    quote: { type: 'string' },
    signature: { type: 'string' },
    pcrs: { type: 'string' },
    nonce: { type: 'string' },
  },
  async execute(values, io) {
    const akPath = requireString(values, 'ak');
    const quotePath = requireString(values, 'quote');
    const signaturePath = requireString(values, 'signature');
    const pcrsPath = requireString(values, 'pcrs');
    const nonce = parseHexOption(requireString(values, 'nonce'), 'nonce');
    const akPublic = readInput(io, akPath, 'ak');
    const quote = unwrapAttest(readInput(io, quotePath, 'quote'));
    const signature = readInput(io, signaturePath, 'signature');
    const pcrValues = readPcrs(io, pcrsPath);

    const q = await verifyQuote({ akPublic, quote, signature, pcrValues, nonce });
    const pcrs: Record<string, Record<string, string>> = {};
    for (const [bank, byIndex] of Object.entries(q.pcrs)) {
      pcrs[bank] = Object.fromEntries(Object.entries(byIndex).map(([i, v]) => [i, toHex(v)]));
    }
    return {
      akName: toHex(await computeName(parsePublicAny(akPublic))),
      signature: { sigAlg: algName(q.signature.sigAlg), hashAlg: algName(q.signature.hashAlg) },
      pcrSelection: q.pcrSelection,
      pcrs,
      clockInfo: q.clockInfo,
      firmwareVersion: `0x${q.firmwareVersion.toString(16).padStart(16, '0')}`,
      qualifiedSigner: toHex(q.qualifiedSigner),
    };
  },
};
