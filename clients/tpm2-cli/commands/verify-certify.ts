import { toHex } from '../../../shared/encoding/bytes.ts';
import { verifyCertify } from '../../../shared/tpm2/verify-certify.ts';
import type { Command } from '../command.ts';
import { optionalString, parseHexOption, readInput, requireString, unwrapAttest } from '../io.ts';
import { algName } from '../names.ts';

const help = `Usage: tpm2 verify-certify --ak FILE --attest FILE --signature FILE --key FILE [--nonce HEX]

Verifies a TPM2_Certify: the AK is a restricted signing key, the signature is the AK's over the
attestation, the attestation is a certify whose qualifying data equals the nonce, and the certified
Name is the Name of the given key. Reports the certified key's attributes (fixedTPM, sign, …) so the
caller can apply its own policy.

  --ak FILE         AK public area: TPM2B_PUBLIC or TPMT_PUBLIC
  --attest FILE     TPMS_ATTEST (tpm2_certify -o) or TPM2B_ATTEST
  --signature FILE  TPMT_SIGNATURE (tpm2_certify -s … -f tss)
  --key FILE        the certified key's public area: TPM2B_PUBLIC (tpm2_create -u) or TPMT_PUBLIC
  --nonce HEX       the expected qualifying data, hex. Optional: tpm2_certify of tpm2-tools 5.4 cannot
                    take qualifying data (it always sends the constant 00ff55aa). Without --nonce the
                    qualifying data is not checked, only reported as "extraData", and the
                    certification is not fresh by itself: take freshness from a quote.
  -h, --help        this text

Prints one JSON object on stdout:
  {"ok": true, "certifiedName", "attributes": ["fixedTPM", …], "extraData", "signature", "clockInfo", …}
  {"ok": false, "reason": "<CODE>", "message": "…"}     CODE as in design/API.md (NODE_KEY_NOT_CERTIFIED, …)
  {"ok": false, "reason": "USAGE", "message": "…"}      unknown option, missing argument or file, bad hex
Exit status: 0 valid, 1 rejected, 2 usage error, 3 internal error.
`;

export const verifyCertifyCommand: Command = {
  name: 'verify-certify',
  summary: 'verify a TPM2_Certify of a key by an AK',
  help,
  options: {
    ak: { type: 'string' },
    attest: { type: 'string' },
    signature: { type: 'string' },
    key: { type: 'string' },
    nonce: { type: 'string' },
  },
  async execute(values, io) {
    const akPath = requireString(values, 'ak');
    const attestPath = requireString(values, 'attest');
    const signaturePath = requireString(values, 'signature');
    const keyPath = requireString(values, 'key');
    const nonceHex = values.nonce === '' ? '' : optionalString(values, 'nonce');
    const nonce = nonceHex === undefined ? undefined : parseHexOption(nonceHex, 'nonce');
    const c = await verifyCertify({
      akPublic: readInput(io, akPath, 'ak'),
      certifyInfo: unwrapAttest(readInput(io, attestPath, 'attest')),
      signature: readInput(io, signaturePath, 'signature'),
      certifiedPublic: readInput(io, keyPath, 'key'),
      ...(nonce ? { nonce } : {}),
    });
    return {
      certifiedName: toHex(c.certifiedName),
      objectAttributes: `0x${c.objectAttributes.toString(16).padStart(8, '0')}`,
      attributes: c.attributes,
      extraData: toHex(c.extraData),
      signature: { sigAlg: algName(c.signature.sigAlg), hashAlg: algName(c.signature.hashAlg) },
      clockInfo: c.clockInfo,
      firmwareVersion: `0x${c.firmwareVersion.toString(16).padStart(16, '0')}`,
    };
  },
};
