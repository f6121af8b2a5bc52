import { toHex, utf8 } from '../../../shared/encoding/bytes.ts';
import type { CertificateFact } from '../../../shared/tpm2/eventlog/certificate.ts';
import { extractFacts } from '../../../shared/tpm2/eventlog/facts.ts';
import { parseEventLog } from '../../../shared/tpm2/eventlog/parse.ts';
import { type QuotedPcrs, replayEventLog } from '../../../shared/tpm2/eventlog/replay.ts';
import type { SignatureDatabase } from '../../../shared/tpm2/eventlog/secure-boot.ts';
import type { Command } from '../command.ts';
import { type CliIo, optionalString, readInput, UsageError } from '../io.ts';

const help = `Usage: tpm2 eventlog FILE [--pcrs FILE]

Parses a TCG PC Client event log (SHA-1 or crypto-agile, e.g. /sys/kernel/security/tpm0/binary_bios_measurements),
replays it per bank and extracts what booted: Secure Boot state, PK/KEK/db/dbx, authorities, boot
application digests, GRUB-measured kernel/initrd file digests and kernel command line.

  FILE              the binary event log
  --pcrs FILE       JSON {"sha256": {"0": "<hex>", …}, …}: PCR values of a VERIFIED quote (verify-quote's
                    "pcrs" output). Every quoted PCR the log extends must replay to its value; the output
                    then says which PCRs the log explains. Without it nothing is anchored: the facts are
                    only what the log claims ("anchored": false).
  -h, --help        this text

Prints one JSON object on stdout:
  {"ok": true, "format", "banks", "events": […], "replayed", "anchored", "explained", "unexplained",
   "workarounds", "facts": {…}}
  {"ok": false, "reason": "EVENT_LOG_INVALID" | "EVENT_LOG_MISMATCH" | …, "message": "…"}
  {"ok": false, "reason": "USAGE", "message": "…"}
Exit status: 0 ok, 1 rejected (malformed log, or a quoted PCR the log does not explain), 2 usage error,
3 internal error.
`;

function readPcrs(io: CliIo, path: string): QuotedPcrs {
  let json: unknown;
  try {
    json = JSON.parse(utf8.decode(readInput(io, path, 'pcrs')));
  } catch (e) {
    if (e instanceof UsageError) throw e;
    throw new UsageError(`--pcrs: ${path} is not JSON (${e instanceof Error ? e.message : String(e)})`);
  }
  const shape = new UsageError(`--pcrs: ${path} must be {"<bank>": {"<pcr>": "<hex>", …}, …}`);
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw shape;
  const out: Record<string, Record<string, Uint8Array>> = {};
  for (const [bank, values] of Object.entries(json)) {
    if (typeof values !== 'object' || values === null || Array.isArray(values)) throw shape;
    const bankValues: Record<string, Uint8Array> = {};
    for (const [pcr, value] of Object.entries(values)) {
      if (typeof value !== 'string') throw shape;
      const hex = value.startsWith('0x') ? value.slice(2) : value;
      if (!/^(?:[0-9a-fA-F]{2})+$/.test(hex)) throw new UsageError(`--pcrs: ${bank}.${pcr} is not hex`);
      bankValues[pcr] = Uint8Array.from(hex.match(/../g) ?? [], (h) => Number.parseInt(h, 16));
    }
    out[bank] = bankValues;
  }
  return out;
}

const hexMap = (m: Readonly<Record<string, Uint8Array>>) =>
  Object.fromEntries(Object.entries(m).map(([k, v]) => [k, toHex(v)]));

/** Certificates as fingerprint + subject; the DER would swamp the output. */
const cert = (c: CertificateFact | undefined) =>
  c ? { sha256: c.sha256, subject: c.subject ?? null } : null;
const database = (d: SignatureDatabase | undefined) =>
  d ? { certificates: d.certificates.map(cert), sha256: d.sha256, other: d.other } : null;

export const eventlogCommand: Command = {
  name: 'eventlog',
  summary: 'parse and replay a TCG boot event log, print events, PCRs and boot facts',
  help,
  options: { pcrs: { type: 'string' } },
  positionals: 'FILE',
  async execute(values, io, positionals = []) {
    const [file, ...extra] = positionals;
    if (file === undefined) throw new UsageError('the event log FILE is required');
    if (extra.length > 0) throw new UsageError(`unexpected argument '${extra[0]}'`);
    const pcrsPath = optionalString(values, 'pcrs');
    const quoted = pcrsPath === undefined ? undefined : readPcrs(io, pcrsPath);
    let bytes: Uint8Array;
    try {
      bytes = io.readFile(file);
    } catch (e) {
      const why = e instanceof Error && 'code' in e ? String(e.code) : String(e);
      throw new UsageError(`FILE: cannot read ${file} (${why})`);
    }
    const log = parseEventLog(bytes);
    const replay = await replayEventLog(log, quoted);
    const facts = await extractFacts(replay);
    const sb = facts.secureBoot;
    return {
      format: log.format,
      banks: log.banks,
      events: log.events.map((e) => ({
        sequence: e.sequence,
        pcr: e.pcr,
        type: e.typeName ?? `0x${e.type.toString(16).padStart(8, '0')}`,
        digests: hexMap(e.digests),
        data: toHex(e.data),
      })),
      replayed: Object.fromEntries(Object.entries(replay.replayed).map(([b, m]) => [b, hexMap(m)])),
      anchored: replay.anchored,
      ...(quoted ? { explained: replay.explained, unexplained: replay.unexplained } : {}),
      workarounds: replay.workarounds,
      startupLocality: replay.startupLocality ?? null,
      facts: {
        secureBoot: sb
          ? {
              enabled: sb.enabled,
              pk: database(sb.pk),
              kek: database(sb.kek),
              db: database(sb.db),
              dbx: database(sb.dbx),
              authorities: sb.authorities.map((a) => ({ ...a, certificate: cert(a.certificate) })),
              dmaProtectionDisabled: sb.dmaProtectionDisabled,
            }
          : null,
        bootApplications: facts.bootApplications,
        grub: facts.grub,
      },
    };
  },
};
