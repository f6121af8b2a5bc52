import { fromBase64, fromHex, utf8 } from '../../../encoding/bytes.ts';

/**
 * The real event logs of ../shared/vectors/tpm (README there), with what each is expected to replay to.
 * Pure: the caller supplies `read(path relative to the vectors folder)`.
 */

export interface YamlLog {
  name: string;
  bytes: Uint8Array;
  /** The trailing `pcrs:` section of tpm2_eventlog's YAML: bank → PCR → expected replayed value. */
  expected: Record<string, Record<string, Uint8Array>>;
}

export const TPM2_TOOLS_LOGS = [
  'event-arch-linux.bin',
  'event-gce-ubuntu-2104-log.bin',
  'event-sd-boot-fedora37.bin',
  'event-uefi-sha1-log.bin',
] as const;

function hex(s: string): Uint8Array {
  const b = fromHex(s);
  if (!b) throw new Error(`bad hex in vector: ${s}`);
  return b;
}

/** Reads `pcrs:\n  sha1:\n    0  : 0x…` (the only YAML this needs). */
export function parseYamlPcrs(yaml: string): Record<string, Record<string, Uint8Array>> {
  const at = yaml.lastIndexOf('\npcrs:');
  if (at < 0) throw new Error('no pcrs: section');
  const out: Record<string, Record<string, Uint8Array>> = {};
  let bank: Record<string, Uint8Array> | undefined;
  for (const line of yaml
    .slice(at + 1)
    .split('\n')
    .slice(1)) {
    const b = /^ {2}(\w+):\s*$/.exec(line);
    if (b?.[1]) {
      bank = {};
      out[b[1]] = bank;
      continue;
    }
    const p = /^ {4}(\d+)\s*:\s*0x([0-9a-fA-F]+)\s*$/.exec(line);
    if (p?.[1] && p[2] && bank) bank[p[1]] = hex(p[2]);
    else if (line.trim() !== '') throw new Error(`unexpected pcrs line: ${line}`);
  }
  return out;
}

export function loadEventLogVectors(read: (path: string) => Uint8Array) {
  const tpm2Tools: YamlLog[] = TPM2_TOOLS_LOGS.map((name) => ({
    name,
    bytes: read(`tpm/tpm2-tools/${name}`),
    expected: parseYamlPcrs(utf8.decode(read(`tpm/tpm2-tools/${name}.yaml`))),
  }));
  const gce = JSON.parse(utf8.decode(read('tpm/go-tpm-tools/gce-cos-85-nonce9009.decoded.json'))) as {
    event_log_b64: string;
  };
  const windows = JSON.parse(utf8.decode(read('tpm/go-attestation/windows_gcp_shielded_vm.json'))) as {
    Log: { Raw: string };
  };
  const b64 = (s: string) => {
    const b = fromBase64(s);
    if (!b) throw new Error('bad base64 in vector');
    return b;
  };
  return {
    tpm2Tools,
    gceLog: b64(gce.event_log_b64),
    windowsLog: b64(windows.Log.Raw),
    cryptoAgile: read('tpm/go-attestation/crypto_agile_eventlog'),
    ebsMissing: read('tpm/go-attestation/ebs_event_missing_eventlog'),
    /**
     * PCR 5 of the machine that wrote ebs_event_missing_eventlog, from go-attestation's
     * `TestEBSVerifyWorkaround` (eventlog_test.go). The log is SHA-1 only, so only the sha1 value can be
     * checked; the sha256 value is kept to show a quoted bank the log lacks is not an error.
     */
    ebsPcr5: {
      sha1: hex('31245808d6d35849bc394f6343f2b3ff908ed5e3'),
      sha256: hex('6caea123fa6111305ee624e452e269ad14ac522ab8bf0c88e11616de4c222f7d'),
    },
  };
}

export type EventLogVectors = ReturnType<typeof loadEventLogVectors>;
