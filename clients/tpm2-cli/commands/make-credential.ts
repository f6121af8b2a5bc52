import { toHex } from '../../../shared/encoding/bytes.ts';
import { makeCredential, marshalTpm2ToolsCredential } from '../../../shared/tpm2/make-credential.ts';
import { parsePublicAny } from '../../../shared/tpm2/structures/public.ts';
import type { Command } from '../command.ts';
import { optionalString, parseHexOption, readInput, requireString, UsageError, writeOutput } from '../io.ts';

const help = `Usage: tpm2 make-credential --ek FILE (--name HEX | --name-file FILE) --secret HEX
                          [--out-blob FILE --out-secret FILE] [--out-tpm2-tools FILE]

TPM2_MakeCredential in software: encrypts SECRET to the EK so that only the TPM holding both the EK
and the object named NAME (the AK) recovers it with TPM2_ActivateCredential. RSA-2048 and ECC P-256 EKs.

  --ek FILE              EK public area: TPM2B_PUBLIC (tpm2_createek -u … -f tss) or TPMT_PUBLIC
  --name HEX             the AK's Name (nameAlg ‖ digest), hex, as tpm2_createak prints it
  --name-file FILE       the AK's Name as a binary file (tpm2_createak -n)
  --secret HEX           the credential, at most the EK nameAlg's digest size (32 bytes for SHA-256)
  --out-blob FILE        write the TPM2B_ID_OBJECT (credentialBlob)
  --out-secret FILE      write the TPM2B_ENCRYPTED_SECRET (secret)    (both or neither)
  --out-tpm2-tools FILE  write tpm2-tools' credential file (0xBADCC0DE header) for
                         tpm2_activatecredential -i FILE
  -h, --help             this text
At least one output is required.

Prints one JSON object on stdout:
  {"ok": true, "objectName", "written": {"blob"?, "secret"?, "tpm2Tools"?}}
  {"ok": false, "reason": "<CODE>", "message": "…"}     e.g. UNSUPPORTED_ALGORITHM for a non-EK key
  {"ok": false, "reason": "USAGE", "message": "…"}      unknown option, missing argument or file, bad hex
Exit status: 0 written, 1 rejected, 2 usage error, 3 internal error.
`;

export const makeCredentialCommand: Command = {
  name: 'make-credential',
  summary: 'TPM2_MakeCredential for an EK and an AK Name (activation challenge)',
  help,
  options: {
    ek: { type: 'string' },
    name: { type: 'string' },
    'name-file': { type: 'string' },
    secret: { type: 'string' },
    'out-blob': { type: 'string' },
    'out-secret': { type: 'string' },
    'out-tpm2-tools': { type: 'string' },
  },
  async execute(values, io) {
    const ekPath = requireString(values, 'ek');
    const nameHex = optionalString(values, 'name');
    const nameFile = optionalString(values, 'name-file');
    if ((nameHex === undefined) === (nameFile === undefined)) {
      throw new UsageError('give exactly one of --name HEX and --name-file FILE');
    }
    const secret = parseHexOption(requireString(values, 'secret'), 'secret');
    const outBlob = optionalString(values, 'out-blob');
    const outSecret = optionalString(values, 'out-secret');
    const outTools = optionalString(values, 'out-tpm2-tools');
    if ((outBlob === undefined) !== (outSecret === undefined)) {
      throw new UsageError('--out-blob and --out-secret go together');
    }
    if (outBlob === undefined && outTools === undefined) {
      throw new UsageError('nothing to write: give --out-blob/--out-secret and/or --out-tpm2-tools');
    }
    const objectName =
      nameHex !== undefined ? parseHexOption(nameHex, 'name') : readInput(io, nameFile ?? '', 'name-file');
    const ekPublic = parsePublicAny(readInput(io, ekPath, 'ek'));

    const { credentialBlob, encryptedSecret } = await makeCredential({ ekPublic, objectName, secret });
    const written: Record<string, string> = {};
    if (outBlob !== undefined && outSecret !== undefined) {
      writeOutput(io, outBlob, credentialBlob, 'out-blob');
      writeOutput(io, outSecret, encryptedSecret, 'out-secret');
      written.blob = outBlob;
      written.secret = outSecret;
    }
    if (outTools !== undefined) {
      writeOutput(
        io,
        outTools,
        marshalTpm2ToolsCredential(credentialBlob, encryptedSecret),
        'out-tpm2-tools',
      );
      written.tpm2Tools = outTools;
    }
    return { objectName: toHex(objectName), written };
  },
};
