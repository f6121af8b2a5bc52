import { utf8 } from '../../../shared/encoding/bytes.ts';
import {
  addAnchors,
  defaultTrustStore,
  type TrustStore,
  verifyEkCertificate,
} from '../../../shared/tpm2/ek-certificate.ts';
import { isTpmError } from '../../../shared/tpm2/errors.ts';
import { parsePublicAny } from '../../../shared/tpm2/structures/public.ts';
import type { Command } from '../command.ts';
import { type CliIo, optionalString, readInput, requireString, UsageError } from '../io.ts';

const help = `Usage: tpm2 verify-ek-cert --cert FILE [--ek FILE] [--anchors PEMFILE]

Verifies an EK certificate: a valid path to a trust anchor (through the shipped intermediates), validity
dates, extended key usage; with --ek also that the certificate certifies exactly that EK.

  --cert FILE        the EK certificate, DER as read from NV (tpm2_nvread 0x01c00002 / 0x01c0000a);
                     a TCG NV header and 0x00/0xFF padding after the certificate are tolerated
  --ek FILE          the EK public area: TPM2B_PUBLIC (tpm2_createek -u … -f tss) or TPMT_PUBLIC
  --anchors PEMFILE  extra trust anchors (one or more PEM certificates), added to the default store:
                     the TPM manufacturers' roots and intermediates shipped with tpm2-ts. Every
                     certificate in the file is an anchor, so include the CA that issued the EK
                     certificates (for swtpm_localca: its root and issuer certificates).
  -h, --help         this text

Prints one JSON object on stdout:
  {"ok": true, "subject", "issuer", "serialNumber", "notBefore", "notAfter", "anchorSubject",
   "chainFingerprints", "sha1Signature", "ekChecked"}
  {"ok": false, "reason": "<CODE>", "message": "…"}     EK_CERT_UNTRUSTED, EK_MISMATCH, MALFORMED_STRUCTURE
  {"ok": false, "reason": "USAGE", "message": "…"}      unknown option, missing argument or file, no PEM
Exit status: 0 valid, 1 rejected, 2 usage error, 3 internal error.
`;

function trustStore(io: CliIo, anchorsPath: string | undefined): TrustStore {
  const store = defaultTrustStore();
  if (anchorsPath === undefined) return store;
  const pem = utf8.decode(readInput(io, anchorsPath, 'anchors'));
  try {
    const more = addAnchors(store, pem);
    if (more.anchors.length === store.anchors.length) {
      throw new UsageError(`--anchors: ${anchorsPath} holds no PEM certificate`);
    }
    return more;
  } catch (e) {
    // A broken anchors file is the operator's mistake, not a verdict on the certificate.
    if (isTpmError(e)) throw new UsageError(`--anchors: ${anchorsPath}: ${e.message}`);
    throw e;
  }
}

export const verifyEkCertCommand: Command = {
  name: 'verify-ek-cert',
  summary: 'verify an EK certificate against the TPM manufacturer roots (and --anchors)',
  help,
  options: {
    cert: { type: 'string' },
    ek: { type: 'string' },
    anchors: { type: 'string' },
  },
  async execute(values, io) {
    const certificate = readInput(io, requireString(values, 'cert'), 'cert');
    const ekPath = optionalString(values, 'ek');
    const ekBytes = ekPath === undefined ? undefined : readInput(io, ekPath, 'ek');
    const trustAnchors = trustStore(io, optionalString(values, 'anchors'));
    const ekPublic = ekBytes === undefined ? undefined : parsePublicAny(ekBytes);
    const info = await verifyEkCertificate({ certificate, trustAnchors, ...(ekPublic ? { ekPublic } : {}) });
    return {
      subject: info.subject,
      issuer: info.issuer,
      serialNumber: info.serialNumber,
      notBefore: info.notBefore.toISOString(),
      notAfter: info.notAfter.toISOString(),
      anchorSubject: info.anchorSubject,
      chainFingerprints: info.chainFingerprints,
      sha1Signature: info.sha1Signature,
      ekChecked: ekPublic !== undefined,
    };
  },
};
