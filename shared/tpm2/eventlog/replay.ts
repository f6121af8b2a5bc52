import { timingSafeEqual, toHex } from '../../encoding/bytes.ts';
import { TpmError } from '../errors.ts';
import { bankHash, bankSize } from './digest-algorithms.ts';
import { EBS_WORKAROUNDS } from './ebs-workaround.ts';
import { EV } from './event-types.ts';
import type { EventLog, LogEvent } from './parse.ts';
import { startupLocality } from './startup-locality.ts';

/**
 * Replay (ATTESTATION.md §3.11): PCR ← H(PCR ‖ digest) per bank, from each PCR's initial value, compared
 * with the PCR values of a verified quote. What replay proves is narrow and this module keeps it so:
 * for a quoted PCR whose replay equals the quoted value, the sequence of (PCR index, digest) of its
 * events is authentic. The event types and data are not — facts.ts decides which data a digest commits to.
 */

/** PCR values from a verified quote (`VerifiedQuote.pcrs`): bank → decimal PCR index → value. */
export type QuotedPcrs = Readonly<Record<string, Readonly<Record<string, Uint8Array>>>>;

export interface ReplayOptions {
  /**
   * Check only these PCRs (keylime's `mb_pcrs_to_check`): runtime extensions outside the firmware log
   * (systemd's PCR 11 phases, nvpcr events in PCR 9 on some fTPMs) would otherwise fail the whole log.
   * Default: every quoted PCR.
   */
  pcrs?: readonly number[];
}

/** An event of an explained PCR: its digests in `authenticatedBanks` are the ones the TPM extended. */
export interface AuthenticatedEvent extends LogEvent {
  authenticatedBanks: string[];
}

export interface ReplayedEventLog {
  log: EventLog;
  /**
   * True when the replay was checked against quoted PCR values. An unanchored replay (no values given)
   * only shows what the log claims; policy refuses it.
   */
  anchored: boolean;
  startupLocality: number | undefined;
  /** The replayed value of every PCR the log extends, per replayable bank (decimal index keys). */
  replayed: Record<string, Record<string, Uint8Array>>;
  /**
   * Per bank, the quoted PCRs the log explains: replay equals the quoted value (including a PCR the log
   * never extends whose quoted value is still its initial value). Only their events are authenticated.
   */
  explained: Record<string, number[]>;
  /**
   * Per bank, quoted PCRs the log never extends although the quote shows them extended (IMA's PCR 10,
   * OS-extended PCRs 11-15): the log says nothing about them, so they are not explained — not an error.
   */
  unexplained: Record<string, number[]>;
  /** Firmware workarounds replay needed (e.g. 'EBS Invocation + Success' for PCR 5). */
  workarounds: string[];
  /** The events of explained PCRs, in log order; EV_NO_ACTION events are never extended and never here. */
  events: AuthenticatedEvent[];
}

const PCR_KEY = /^(?:0|[1-9][0-9]?)$/;

function initialValue(pcr: number, size: number, locality: number | undefined): Uint8Array {
  // DRTM PCRs 17-22 reset to all ones; PCR 0 carries the startup locality in its last byte.
  const v = new Uint8Array(size).fill(pcr >= 17 && pcr <= 22 ? 0xff : 0);
  if (pcr === 0 && locality !== undefined) v[size - 1] = locality;
  return v;
}

async function extend(
  hash: 'SHA-1' | 'SHA-256' | 'SHA-384' | 'SHA-512',
  pcr: Uint8Array,
  digest: Uint8Array,
): Promise<Uint8Array> {
  const buf = new Uint8Array(pcr.length + digest.length);
  buf.set(pcr);
  buf.set(digest, pcr.length);
  return new Uint8Array(await crypto.subtle.digest(hash, buf));
}

function mismatch(bank: string, pcr: number, replayed: Uint8Array, quoted: Uint8Array): TpmError {
  return new TpmError(
    'EVENT_LOG_MISMATCH',
    `${bank} PCR ${pcr}: the event log replays to ${toHex(replayed)}, the quote has ${toHex(quoted)}`,
    { bank, pcr },
  );
}

function checkQuoted(quoted: QuotedPcrs): void {
  for (const [bank, values] of Object.entries(quoted)) {
    const size = bankSize(bank);
    for (const [k, v] of Object.entries(values)) {
      if (!PCR_KEY.test(k) || Number(k) > 23) {
        throw new TpmError('MALFORMED_STRUCTURE', `quoted PCRs: ${bank}.${k} is not a PCR index 0-23`);
      }
      if (size !== undefined && v.length !== size) {
        throw new TpmError('MALFORMED_STRUCTURE', `quoted PCRs: ${bank}.${k} is not a ${bank} digest`);
      }
    }
  }
}

/**
 * Replays `log` and, given the PCR values of a verified quote, checks every quoted PCR the log extends
 * in every bank both have. A mismatch throws `EVENT_LOG_MISMATCH` with `details: { bank, pcr }`; so does
 * a quote none of whose banks the log carries (nothing could be checked).
 *
 * @example
 * const q = await verifyQuote(…);
 * const replay = await replayEventLog(parseEventLog(logBytes), q.pcrs);
 * replay.explained; // { sha256: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 14] }
 */
export async function replayEventLog(
  log: EventLog,
  quoted?: QuotedPcrs,
  options: ReplayOptions = {},
): Promise<ReplayedEventLog> {
  const locality = startupLocality(log.events);
  const replayed: Record<string, Record<string, Uint8Array>> = {};
  const extended = new Set<number>();
  // PCRs are independent hash chains: run every (bank, PCR) chain concurrently, each in log order.
  const chains: Promise<void>[] = [];
  for (const bank of log.banks) {
    const hash = bankHash(bank);
    if (!hash) continue;
    const byPcr = new Map<number, Uint8Array[]>();
    for (const e of log.events) {
      if (e.type === EV.EV_NO_ACTION) continue;
      const digest = e.digests[bank];
      if (!digest) continue;
      const list = byPcr.get(e.pcr);
      if (list) list.push(digest);
      else byPcr.set(e.pcr, [digest]);
      extended.add(e.pcr);
    }
    const values: Record<string, Uint8Array> = {};
    replayed[bank] = values;
    // Keys are created in ascending PCR order up front, so output order does not depend on timing.
    for (const pcr of [...byPcr.keys()].sort((a, b) => a - b)) values[String(pcr)] = new Uint8Array();
    for (const [pcr, digests] of byPcr) {
      chains.push(
        (async () => {
          let value = initialValue(pcr, digests[0]?.length ?? 0, locality);
          for (const d of digests) value = await extend(hash, value, d);
          values[String(pcr)] = value;
        })(),
      );
    }
  }
  await Promise.all(chains);

  const explained: Record<string, number[]> = {};
  const unexplained: Record<string, number[]> = {};
  const workarounds: string[] = [];

  if (quoted === undefined) {
    const all = [...extended].sort((a, b) => a - b);
    for (const bank of Object.keys(replayed)) explained[bank] = all;
  } else {
    checkQuoted(quoted);
    const checked = Object.keys(quoted).filter((b) => Object.hasOwn(replayed, b));
    if (checked.length === 0) {
      throw new TpmError(
        'EVENT_LOG_MISMATCH',
        `none of the quoted banks (${Object.keys(quoted).join(', ') || 'none'}) is a bank of the event log (${log.banks.join(', ')})`,
        { bank: Object.keys(quoted).join(',') },
      );
    }
    const only = options.pcrs ? new Set(options.pcrs) : undefined;
    // PCR 5 mismatches are collected across banks: one EBS workaround must explain them all.
    const pcr5: { bank: string; quoted: Uint8Array }[] = [];
    for (const bank of checked) {
      const hash = bankHash(bank);
      const values = replayed[bank] ?? {};
      const q = quoted[bank] ?? {};
      const ok: number[] = [];
      const not: number[] = [];
      const indices = Object.keys(q)
        .map(Number)
        .sort((a, b) => a - b);
      for (const pcr of indices) {
        if (only && !only.has(pcr)) continue;
        const want = q[String(pcr)];
        if (!want || !hash) continue;
        const got = values[String(pcr)];
        if (got === undefined) {
          if (timingSafeEqual(want, initialValue(pcr, want.length, locality))) ok.push(pcr);
          else not.push(pcr);
        } else if (timingSafeEqual(got, want)) {
          ok.push(pcr);
        } else if (pcr === 5) {
          pcr5.push({ bank, quoted: want });
        } else {
          throw mismatch(bank, pcr, got, want);
        }
      }
      explained[bank] = ok;
      unexplained[bank] = not;
    }
    if (pcr5.length > 0) {
      const applied = await applyEbsWorkaround(replayed, pcr5);
      if (!applied) {
        const first = pcr5[0]!;
        throw mismatch(first.bank, 5, replayed[first.bank]?.['5'] ?? new Uint8Array(), first.quoted);
      }
      workarounds.push(applied);
      for (const { bank } of pcr5) explained[bank] = [...(explained[bank] ?? []), 5].sort((a, b) => a - b);
    }
  }

  const events: AuthenticatedEvent[] = [];
  for (const e of log.events) {
    if (e.type === EV.EV_NO_ACTION) continue;
    const banks = Object.keys(explained).filter((b) => explained[b]?.includes(e.pcr));
    if (banks.length > 0) events.push({ ...e, authenticatedBanks: banks });
  }
  return {
    log,
    anchored: quoted !== undefined,
    startupLocality: locality,
    replayed,
    explained,
    unexplained,
    workarounds,
    events,
  };
}

/** The id of the first EBS workaround that makes PCR 5 match in every listed bank (and updates `replayed`). */
async function applyEbsWorkaround(
  replayed: Record<string, Record<string, Uint8Array>>,
  failing: readonly { bank: string; quoted: Uint8Array }[],
): Promise<string | undefined> {
  for (const w of EBS_WORKAROUNDS) {
    const results: { bank: string; value: Uint8Array }[] = [];
    for (const { bank, quoted } of failing) {
      const hash = bankHash(bank);
      let value = replayed[bank]?.['5'];
      if (!hash || !value) break;
      for (const action of w.actions) {
        value = await extend(
          hash,
          value,
          new Uint8Array(await crypto.subtle.digest(hash, action as Uint8Array<ArrayBuffer>)),
        );
      }
      if (!timingSafeEqual(value, quoted)) break;
      results.push({ bank, value });
    }
    if (results.length === failing.length) {
      for (const { bank, value } of results) {
        const values = replayed[bank];
        if (values) values['5'] = value;
      }
      return w.id;
    }
  }
  return undefined;
}
