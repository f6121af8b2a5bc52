import { fromBase64, fromHex } from '../../encoding/bytes.ts';
import { extractFacts } from './facts.ts';
import { parseEventLog } from './parse.ts';
import { replayEventLog } from './replay.ts';

/**
 * Parse + replay of the GCE COS 85 event log (45 events, sha1/sha256/sha384) against the PCR values of
 * its three quotes: the work registration and re-attestation add per node. Also the facts extraction
 * on top (Secure Boot databases, X.509 subjects, GRUB digests). Means in milliseconds.
 */
/** Relative to this module; a runtime specifier (the vectors live outside the repo, beside it). */
const VECTOR: string = '../../../../shared/vectors/tpm/go-tpm-tools/gce-cos-85-nonce9009.decoded.json';

interface GceJson {
  event_log_b64: string;
  quotes: { pcr_hash_alg: number; pcrs: Record<string, string> }[];
}

const BANKS: Record<number, string> = { 4: 'sha1', 11: 'sha256', 12: 'sha384' };

export async function benchEventLog(): Promise<Record<string, number>> {
  const g = ((await import(VECTOR, { with: { type: 'json' } })) as { default: GceJson }).default;
  const bytes = fromBase64(g.event_log_b64);
  if (!bytes) throw new Error('bad vector');
  const quoted: Record<string, Record<string, Uint8Array>> = {};
  for (const q of g.quotes) {
    const bank = BANKS[q.pcr_hash_alg];
    if (!bank) throw new Error(`unexpected bank ${q.pcr_hash_alg}`);
    quoted[bank] = Object.fromEntries(
      Object.entries(q.pcrs).map(([k, v]) => [k, fromHex(v) ?? new Uint8Array()]),
    );
  }

  const mean = async (f: () => Promise<unknown>, n: number): Promise<number> => {
    const t0 = performance.now();
    for (let i = 0; i < n; i++) await f();
    return (performance.now() - t0) / n;
  };
  const parseOnly = async () => parseEventLog(bytes);
  const parseReplay = async () => replayEventLog(parseEventLog(bytes), quoted);
  const withFacts = async () => extractFacts(await replayEventLog(parseEventLog(bytes), quoted));
  await mean(withFacts, 20);
  const n = 100;
  const round = (x: number) => Math.round(x * 1000) / 1000;
  return {
    events: parseEventLog(bytes).events.length,
    parseMs: round(await mean(parseOnly, n)),
    parseReplayMs: round(await mean(parseReplay, n)),
    parseReplayFactsMs: round(await mean(withFacts, n)),
  };
}
