import { TpmError } from '../errors.ts';
import { EV, type EventTypeName, eventTypeName } from './event-types.ts';
import { LeReader } from './le-reader.ts';
import { isSpecIdEvent03, parseSpecIdEvent, type SpecIdEvent } from './spec-id-event.ts';

/**
 * The TCG PC Client event log (PC Client PFP §10.2): a SHA-1 log of `TCG_PCR_EVENT`s, or a crypto-agile
 * log whose first `TCG_PCR_EVENT` carries the Spec ID event and whose other entries are
 * `TCG_PCR_EVENT2`s with one digest per bank. Parsing is a loop over a bounded cursor: no recursion,
 * no allocation beyond bytes actually present, every malformation a `TpmError('EVENT_LOG_INVALID')`.
 *
 * Nothing parsed here is trusted. Replay (replay.ts) authenticates the PCR index and digests of the
 * events of quoted PCRs; facts (facts.ts) trust data only where a digest commits to it.
 */

export interface LogEvent {
  /** 0-based position in the log, counting the header event. */
  sequence: number;
  /** Byte offset of the event in the log, for diagnostics. */
  offset: number;
  pcr: number;
  type: number;
  /** The spec name of `type`, undefined for a type the spec does not define. */
  typeName: EventTypeName | undefined;
  /** Digest per bank (`sha1`, `sha256`, …). */
  digests: Readonly<Record<string, Uint8Array>>;
  data: Uint8Array;
}

export interface EventLog {
  /** `sha1`: TCG_PCR_EVENT only (TPM 1.2 style); `crypto-agile`: Spec ID Event03 then TCG_PCR_EVENT2. */
  format: 'sha1' | 'crypto-agile';
  specId: SpecIdEvent | undefined;
  /** The banks every event carries a digest for, in Spec ID order. */
  banks: string[];
  /** Every event, including the header and other EV_NO_ACTION events (which replay skips). */
  events: LogEvent[];
}

/** PC Client TPMs have 24 PCRs (0-23); an event for any other index cannot be replayed or quoted. */
const PCR_COUNT = 24;

function pcrIndex(r: LeReader, offset: number): number {
  const pcr = r.u32('pcrIndex');
  if (pcr >= PCR_COUNT) {
    throw new TpmError('EVENT_LOG_INVALID', `event at offset ${offset}: PCR index ${pcr} is not 0-23`);
  }
  return pcr;
}

function readLegacyEvent(r: LeReader, sequence: number): LogEvent {
  const offset = r.position;
  const pcr = pcrIndex(r, offset);
  const type = r.u32('eventType');
  const sha1 = r.bytesN(20, 'digest');
  const size = r.u32('eventSize');
  const data = r.bytesN(size, 'event');
  return { sequence, offset, pcr, type, typeName: eventTypeName(type), digests: { sha1 }, data };
}

function readEvent2(r: LeReader, sequence: number, spec: SpecIdEvent): LogEvent {
  const offset = r.position;
  const pcr = pcrIndex(r, offset);
  const type = r.u32('eventType');
  const count = r.u32('digests.count');
  // Every event carries exactly one digest per bank of the Spec ID table (PFP §10.2.2): a missing bank
  // would leave that bank's replay undefined, an extra one has no size to read it by.
  if (count !== spec.algorithms.length) {
    throw new TpmError(
      'EVENT_LOG_INVALID',
      `event ${sequence} at offset ${offset}: ${count} digests, the Spec ID event declares ${spec.algorithms.length} banks`,
    );
  }
  const digests: Record<string, Uint8Array> = {};
  for (let i = 0; i < count; i++) {
    const alg = r.u16('digests.hashAlg');
    const a = spec.algorithms.find((x) => x.algorithmId === alg);
    if (!a) {
      throw new TpmError(
        'EVENT_LOG_INVALID',
        `event ${sequence}: digest algorithm 0x${alg.toString(16)} is not in the Spec ID event`,
      );
    }
    if (Object.hasOwn(digests, a.bank)) {
      throw new TpmError('EVENT_LOG_INVALID', `event ${sequence}: two ${a.bank} digests`);
    }
    digests[a.bank] = r.bytesN(a.digestSize, 'digest');
  }
  const size = r.u32('eventSize');
  const data = r.bytesN(size, 'event');
  return { sequence, offset, pcr, type, typeName: eventTypeName(type), digests, data };
}

/**
 * Parses a binary event log (`/sys/kernel/security/tpm0/binary_bios_measurements`, or Windows' TCG log).
 *
 * @example
 * const log = parseEventLog(bytes);
 * log.banks; // ['sha1', 'sha256']
 * log.events.filter((e) => e.pcr === 9);
 */
export function parseEventLog(bytes: Uint8Array): EventLog {
  const r = new LeReader(bytes, 'event log');
  if (r.remaining === 0) throw new TpmError('EVENT_LOG_INVALID', 'the event log is empty');
  const first = readLegacyEvent(r, 0);
  const events: LogEvent[] = [first];
  if (first.type === EV.EV_NO_ACTION && first.pcr === 0 && isSpecIdEvent03(first.data)) {
    const sha1 = first.digests.sha1;
    if (!sha1 || sha1.some((b) => b !== 0)) {
      throw new TpmError('EVENT_LOG_INVALID', 'the Spec ID event has a non-zero digest');
    }
    const specId = parseSpecIdEvent(first.data);
    while (r.remaining > 0) events.push(readEvent2(r, events.length, specId));
    return { format: 'crypto-agile', specId, banks: specId.algorithms.map((a) => a.bank), events };
  }
  while (r.remaining > 0) events.push(readLegacyEvent(r, events.length));
  return { format: 'sha1', specId: undefined, banks: ['sha1'], events };
}
